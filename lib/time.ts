/** The largest time a JavaScript Date holds (ECMA-262 §21.4.1.1: ±8.64e15 ms around the epoch). */
const MAX_TIME_MS = 8.64e15;

/** Whether `ms` is a time that can be shown (finite, within the range of a Date). */
export const isTime = (ms: number): boolean => Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS;

/** Epoch milliseconds (inside) to ISO 8601 (the API). Throws a RangeError for what is not a time. */
export const toIso = (ms: number): string => new Date(ms).toISOString();

/**
 * Like `toIso`, for optional times; a stored value that is not a time (written before the edge
 * checked timestamps, issue 18) is shown as null instead of failing the whole answer.
 */
export const toIsoOrNull = (ms: number | null): string | null =>
  ms === null || !isTime(ms) ? null : toIso(ms);
