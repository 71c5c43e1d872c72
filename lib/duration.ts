import { z } from 'zod';

/** Milliseconds per unit of the duration strings used everywhere in configuration and rules. */
const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

// One or more `<number><unit>` parts, largest first by convention: `500ms`, `30s`, `1h30m`, `3d`.
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

/**
 * Parses a duration string (`500ms`, `30s`, `4h`, `3d`, `1h30m`) into milliseconds.
 * Returns `undefined` for anything else, so that callers can report the value they received.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = PART.exec(s); m !== null; m = PART.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    end = PART.lastIndex;
  }
  if (end !== s.length) return undefined;
  return Math.round(total);
}

/** Formats milliseconds as the shortest exact duration string (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const order = ['w', 'd', 'h', 'm', 's', 'ms'] as const;
  let rest = ms;
  let out = '';
  for (const unit of order) {
    const size = UNIT_MS[unit];
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/**
 * The longest duration accepted anywhere (100 years): a time computed from a longer one could fall
 * outside what a Date holds and fail every view that shows it (issue 18).
 */
export const MAX_DURATION_MS = 100 * 365 * UNIT_MS.d;

/** zod type for a duration string; the parsed value is milliseconds. */
export const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration such as 500ms, 30s, 4h or 3d, got "${text}"`,
    });
    return z.NEVER;
  }
  if (ms > MAX_DURATION_MS) {
    ctx.addIssue({ code: 'custom', message: `expected at most 100 years, got "${text}"` });
    return z.NEVER;
  }
  return ms;
});
