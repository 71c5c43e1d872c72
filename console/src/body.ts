import type { Key } from './i18n.js';

/**
 * A form's fields and the request body made of them (pure: tested in node, console/src/body.test.ts).
 * Each field is named by the path the API gives in its validation errors (`dispatch.appointmentAt`).
 */
export interface FieldSpec {
  /** Where the value goes in the request body, and where the API's errors about it point. */
  path: string;
  /** A word of the console (i18n.ts). */
  label: Key;
  kind: 'text' | 'password' | 'textarea' | 'datetime' | 'select' | 'list' | 'score' | 'parts';
  options?: readonly { value: string; label: string }[];
  required?: boolean;
}

export type Values = Record<string, string>;

/** The request body from the form's values: nested by path, empty fields left out, lists split. */
export function bodyOf(fields: readonly FieldSpec[], values: Values, base: Record<string, unknown> = {}) {
  const body: Record<string, unknown> = structuredClone(base);
  for (const f of fields) {
    const raw = (values[f.path] ?? '').trim();
    if (!raw) continue;
    let value: unknown = raw;
    if (f.kind === 'list')
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    // A local date and time from the picker, as the instant it names in this browser's zone.
    else if (f.kind === 'datetime') value = Number.isNaN(Date.parse(raw)) ? raw : new Date(raw).toISOString();
    else if (f.kind === 'score') value = Number(raw);
    // Parts as people type them: "S-7:2, F-1" (a part number, optionally ":quantity"; 1 by default).
    else if (f.kind === 'parts')
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => {
          // "S-7:2", "S-7 × 2" or "S-7 x 2"; an x inside a part number ("BOX2") is part of it.
          const m = /^(.*?)(?:\s*[:×]\s*|\s+x\s*)(\d+(?:\.\d+)?)$/.exec(s);
          return m ? { part: (m[1] as string).trim(), quantity: Number(m[2]) } : { part: s, quantity: 1 };
        });
    const keys = f.path.split('.');
    let at = body;
    for (const k of keys.slice(0, -1)) {
      at[k] ??= {};
      at = at[k] as Record<string, unknown>;
    }
    at[keys.at(-1) as string] = value;
  }
  return body;
}
