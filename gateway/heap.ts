import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what the last full collection left alive, in
 * percent. V8's own factor adapts (up to 4x) and, in a steady soak (10k devices, 5,000 readings/s,
 * ~190 MB alive), let the heap reach 740 MB and the RSS 930 MB, still climbing after three minutes
 * (issue 19). At 100 % the same soak stayed flat at ~550 MB. Less (30 %: ~410 MB) makes the full
 * collections, each a pause of the ingest thread, come every few seconds: anomaly → ticket p99 at
 * 9,000 readings/s went from ~50–140 ms to ~230 ms. Operators choose with the node flag.
 */
export const HEAP_GROWING_PERCENT = 100;

/**
 * Sets the heap growth of this process (the gateway's CLI; V8 flags are process-wide, the API worker
 * thread included) unless the operator chose one: `node --heap-growing-percent=N …`.
 */
export function limitHeapGrowth(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): boolean {
  const chosen = [...execArgv, nodeOptions].some((a) => /heap[-_]growing[-_]percent/.test(a));
  if (chosen) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
