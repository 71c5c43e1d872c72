import { useEffect, useState } from 'preact/hooks';
import { en, type Key } from './words-en.js';
import { zhCN } from './words-zh-CN.js';

export type { Key };

/**
 * The console's words in English and Simplified Chinese. The language comes from the browser
 * (`navigator.languages`), can be switched, and the choice is kept in localStorage. Dates and
 * durations use `Intl` in the user's own time zone.
 */
export const LANGUAGES = { en: 'English', 'zh-CN': '简体中文' } as const;
export type Language = keyof typeof LANGUAGES;

const DICTIONARIES: Record<Language, Record<Key, string>> = { en, 'zh-CN': zhCN };
const STORAGE_KEY = 'faultline.language';

function initialLanguage(): Language {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  for (const l of navigator.languages ?? [navigator.language]) {
    const lower = l.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

let current: Language = initialLanguage();
const listeners = new Set<(l: Language) => void>();
document.documentElement.lang = current;

export function language(): Language {
  return current;
}

export function setLanguage(l: Language): void {
  current = l;
  localStorage.setItem(STORAGE_KEY, l);
  document.documentElement.lang = l;
  for (const f of listeners) f(l);
}

/** The word for `key` in the current language, with `{name}` replaced from `vars`. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text = DICTIONARIES[current][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

/** Re-renders the component when the language changes; returns the current one. */
export function useLanguage(): Language {
  const [l, set] = useState(current);
  useEffect(() => {
    listeners.add(set);
    return () => listeners.delete(set);
  }, []);
  return l;
}
