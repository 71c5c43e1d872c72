import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/** Rows written per transaction by periodic flushes: a few milliseconds of work each (devices with their last values: ~10 ms per 500). */
export const FLUSH_SLICE = 500;

/**
 * The share of the event loop that periodic background work (rule-state checkpoints, device and
 * history flushes) takes between its slices. Run back to back, a checkpoint of 37,000 series was
 * 380 ms of work in 1.4 s; at a steady 80 % ingest load the readings behind it queued for a quarter
 * of a second (anomaly → ticket p99, issue 19).
 */
export const BACKGROUND_SHARE = 0.1;
/** The longest pause between two slices. */
const MAX_PAUSE_MS = 250;

/** Lets the event loop run (readings, API requests) before going on. */
export function yieldToLoop(): Promise<void> {
  return nextTurn();
}

/** When the next slice of paced background work may start (shared: one budget for all of it). */
let nextSliceAt = 0;

/**
 * After a slice of background work that took `sliceMs`, lets the loop run long enough that all
 * paced work together — a rule-state checkpoint and a device flush may run at the same time — takes
 * at most BACKGROUND_SHARE of it (`paced`); else for one turn (the stop: as fast as it goes).
 */
export async function afterSlice(sliceMs: number, paced: boolean): Promise<void> {
  if (!paced) return nextTurn();
  const now = performance.now();
  const pause = Math.min(MAX_PAUSE_MS, (sliceMs * (1 - BACKGROUND_SHARE)) / BACKGROUND_SHARE);
  nextSliceAt = Math.max(now, nextSliceAt) + pause;
  const wait = nextSliceAt - now;
  if (wait >= 1) await sleep(Math.min(wait, 4 * MAX_PAUSE_MS));
  else await nextTurn();
}

/**
 * Runs `fn` over `items` in slices of `size`, letting the event loop run between slices (`paced`:
 * see `afterSlice`): a flush of 50,000 rows in one transaction held readings and requests up for
 * half a second.
 */
export async function inSlices<T>(
  items: readonly T[],
  size: number,
  fn: (slice: T[]) => Promise<void> | void,
  paced = true,
): Promise<void> {
  let took = 0;
  for (let i = 0; i < items.length; i += size) {
    if (i > 0) await afterSlice(took, paced);
    const started = performance.now();
    await fn(items.slice(i, i + size));
    took = performance.now() - started;
  }
}
