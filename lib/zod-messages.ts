import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';

/** How a received value is shown in a message: short, quoted when a string. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (v === undefined) return 'nothing';
  return String(v);
}

/** The keys an object schema knows (zod 4 passes the schema as `inst`). */
function knownKeys(inst: unknown): string[] {
  const shape = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def
    ?.shape;
  return shape ? Object.keys(shape) : [];
}

/** `unknown key "hots" (did you mean "host"?)`: the nearest known key within a couple of edits. */
export function unknownKeys(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((k) => {
      const near = known.length ? closest(k, known as string[]) : undefined;
      const close = near !== undefined && distance(k, near) <= Math.max(2, Math.floor(k.length / 3));
      return `unknown key ${JSON.stringify(k)}${close ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`;
    })
    .join('; ');
}

let installed = false;

/**
 * Messages that name what was expected and the value received (`expected at most 65535, got
 * 70000`), for every schema in the project. Installed once, before any validation.
 */
export function installZodMessages(): void {
  if (installed) return;
  installed = true;
  z.config({
    customError: (iss) => {
      const got = `got ${shown(iss.input)}`;
      switch (iss.code) {
        case 'invalid_type':
          return iss.input === undefined ? `required (${iss.expected})` : `expected ${iss.expected}, ${got}`;
        case 'invalid_value':
          return `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}, ${got}`;
        case 'too_big':
          return iss.origin === 'number'
            ? `expected at most ${iss.maximum}${iss.inclusive === false ? ' (exclusive)' : ''}, ${got}`
            : `expected at most ${iss.maximum} ${iss.origin === 'string' ? 'characters' : 'items'}`;
        case 'too_small':
          return iss.origin === 'number'
            ? `expected at least ${iss.minimum}${iss.inclusive === false ? ' (exclusive)' : ''}, ${got}`
            : `expected at least ${iss.minimum} ${iss.origin === 'string' ? 'characters' : 'items'}`;
        case 'invalid_format':
          return `expected ${iss.format}, ${got}`;
        case 'unrecognized_keys':
          return unknownKeys(iss.keys, knownKeys(iss.inst));
        default:
          return undefined;
      }
    },
  });
}

installZodMessages();
