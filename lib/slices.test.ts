import { describe, expect, it } from 'vitest';
import { afterSlice, BACKGROUND_SHARE, inSlices } from './slices.js';

describe('paced background work (issue 19: checkpoints and flushes leave the loop to readings)', () => {
  const elapsed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const pauseFor = (sliceMs: number) => (sliceMs * (1 - BACKGROUND_SHARE)) / BACKGROUND_SHARE;

  it('after a slice, waits long enough that the work takes at most its share of the loop', async () => {
    expect(await elapsed(() => afterSlice(20, true))).toBeGreaterThanOrEqual(pauseFor(20) - 2);
    // The stop does not wait.
    expect(await elapsed(() => afterSlice(20, false))).toBeLessThan(pauseFor(20) / 2);
  });

  it('shares one budget: two flushes at the same time take turns', async () => {
    // Both slices took 20 ms: the second may only run after both pauses.
    const both = await elapsed(() => Promise.all([afterSlice(20, true), afterSlice(20, true)]));
    expect(both).toBeGreaterThanOrEqual(2 * pauseFor(20) - 2);
  });

  it('inSlices pauses between slices only', async () => {
    const seen: number[][] = [];
    const took = await elapsed(() => inSlices([1, 2, 3], 5, (s) => void seen.push(s)));
    expect(seen).toEqual([[1, 2, 3]]);
    expect(took).toBeLessThan(50);
  });
});
