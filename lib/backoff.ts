const RETRY_AFTER_CAP_MS = 3_600_000; // never wait more than an hour, whatever a server says

/**
 * Delay before attempt `attempt + 1`: exponential from `minMs`, capped at `maxMs`, with "equal
 * jitter" (half fixed, half random) so that clients recovering together do not retry in lockstep.
 * A server's Retry-After is a floor (capped at an hour).
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: number,
  retryAfterMs?: number,
): number {
  const exp = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  const jittered = exp / 2 + (random * exp) / 2;
  return retryAfterMs === undefined
    ? jittered
    : Math.min(RETRY_AFTER_CAP_MS, Math.max(retryAfterMs, jittered));
}
