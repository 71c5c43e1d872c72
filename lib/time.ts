/** The largest time a JavaScript Date holds (ECMA-262 §21.4.1.1: ±8.64e15 ms around the epoch). */
const MAX_TIME_MS = 8.64e15;

/** Whether `ms` is a time that can be shown (finite, within the range of a Date). */
export const isTime = (ms: number): boolean => Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS;

let lastMs = Number.NaN;
let lastIso = '';

/**
 * Epoch milliseconds (inside) to ISO 8601 (the API). Throws a RangeError for what is not a time.
 * The last answer is kept: a view formats the same moment several times (an alert's activeAt,
 * firedAt and updatedAt at its firing; every event of a flapping alert, issue 19).
 */
export const toIso = (ms: number): string => {
  if (ms === lastMs) return lastIso;
  const iso = new Date(ms).toISOString();
  lastMs = ms;
  lastIso = iso;
  return iso;
};

/**
 * Like `toIso`, for optional times; a stored value that is not a time (written before the edge
 * checked timestamps, issue 18) is shown as null instead of failing the whole answer.
 */
export const toIsoOrNull = (ms: number | null): string | null =>
  ms === null || !isTime(ms) ? null : toIso(ms);
