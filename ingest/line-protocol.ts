import type { FieldValue } from './point.js';

// Escaping per the InfluxDB line protocol reference: measurement escapes comma and space; tag
// keys, tag values and field keys escape comma, equals sign and space; string field values escape
// double quote and backslash. Newlines cannot be represented and are replaced by a space.
const MEASUREMENT_SPECIAL = /[, \\\n\r]/g;
const KEY_SPECIAL = /[,= \\\n\r]/g;
const STRING_SPECIAL = /["\\]/g;

function escapeWith(re: RegExp, s: string): string {
  re.lastIndex = 0;
  if (!re.test(s)) return s;
  re.lastIndex = 0;
  return s.replace(re, (c) => (c === '\n' || c === '\r' ? ' ' : `\\${c}`));
}

export const escapeMeasurement = (s: string): string => escapeWith(MEASUREMENT_SPECIAL, s);
export const escapeKey = (s: string): string => escapeWith(KEY_SPECIAL, s);

/**
 * Field keys as written (`key=`), escaped once: the same few metric names come with every reading.
 * Bounded: past `MAX_FIELD_KEYS` names (a fleet with unusually many) it starts over.
 */
const fieldKeys = new Map<string, string>();
const MAX_FIELD_KEYS = 10_000;
function fieldKey(key: string): string {
  let k = fieldKeys.get(key);
  if (k === undefined) {
    if (fieldKeys.size >= MAX_FIELD_KEYS) fieldKeys.clear();
    k = `${escapeKey(key)}=`;
    fieldKeys.set(key, k);
  }
  return k;
}

function fieldValue(v: FieldValue): string {
  // Numbers are always float fields (no `i` suffix) so that 1 and 1.5 never conflict in one field.
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  STRING_SPECIAL.lastIndex = 0;
  return `"${v.replace(STRING_SPECIAL, (c) => `\\${c}`).replace(/[\n\r]/g, ' ')}"`;
}

/**
 * The tag part of a series (`measurement,tag=v,...`), built once per device and reused for every
 * reading. Tags are sorted by key, as InfluxDB recommends for write performance; empty values are
 * left out because line protocol cannot carry them.
 */
export function seriesKey(measurement: string, tags: Record<string, string>): string {
  let out = escapeMeasurement(measurement);
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key];
    if (value === undefined || value === '') continue;
    out += `,${escapeKey(key)}=${escapeKey(value)}`;
  }
  return out;
}

/** One line: `series field=v,... <ts ms>`. Returns '' when there is no field to write. */
export function line(series: string, fields: Record<string, FieldValue>, tsMs: number): string {
  let body = '';
  for (const key in fields) {
    const v = fields[key];
    if (v === undefined) continue;
    if (body !== '') body += ',';
    body += fieldKey(key);
    body += typeof v === 'number' ? String(v) : fieldValue(v);
  }
  return body === '' ? '' : `${series} ${body} ${tsMs}`;
}
