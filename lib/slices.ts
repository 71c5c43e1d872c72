import { setImmediate as nextTurn } from 'node:timers/promises';

/** Rows written per transaction by periodic flushes: a few milliseconds of work each (devices with their last values: ~10 ms per 500). */
export const FLUSH_SLICE = 500;

/** Lets the event loop run (readings, API requests) before going on. */
export function yieldToLoop(): Promise<void> {
  return nextTurn();
}

/**
 * Runs `fn` over `items` in slices of `size`, letting the event loop run between slices: a flush
 * of 50,000 rows in one transaction held readings and requests up for half a second.
 */
export async function inSlices<T>(
  items: readonly T[],
  size: number,
  fn: (slice: T[]) => Promise<void> | void,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    if (i > 0) await yieldToLoop();
    await fn(items.slice(i, i + size));
  }
}
