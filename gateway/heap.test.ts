import { describe, expect, it } from 'vitest';
import { limitHeapGrowth } from './heap.js';

describe('limitHeapGrowth', () => {
  it("sets the gateway's heap growth unless the operator chose one", () => {
    expect(limitHeapGrowth(['--heap-growing-percent=50'], '')).toBe(false);
    expect(limitHeapGrowth([], '--heap_growing_percent=80')).toBe(false);
    expect(limitHeapGrowth(['--enable-source-maps'], '--max-old-space-size=512')).toBe(true);
  });
});
