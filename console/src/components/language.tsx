import { LANGUAGES, type Language, setLanguage, t, useLanguage } from '../i18n.js';

/** Switches the console's language (kept in this browser). */
export function LanguagePicker() {
  const current = useLanguage();
  return (
    <label class="language">
      <span>{t('nav.language')}</span>
      <select value={current} onChange={(e) => setLanguage(e.currentTarget.value as Language)}>
        {(Object.keys(LANGUAGES) as Language[]).map((l) => (
          <option key={l} value={l} lang={l}>
            {LANGUAGES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
