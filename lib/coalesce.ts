import type { Scheduler } from '../rules/engine.js';

/**
 * Whether one more change may be told on its own: fewer than `max` of `told` (times, oldest first)
 * fall within the `windowMs` before `now`. Drops the older ones from `told`.
 */
export function withinBudget(told: number[], now: number, windowMs: number, max: number): boolean {
  let old = 0;
  while (old < told.length && (told[old] as number) <= now - windowMs) old++;
  if (old > 0) told.splice(0, old);
  return told.length < max;
}

interface Key<T> {
  /** When its changes were told, within the last window. */
  told: number[];
  /** The latest change not told yet, and how many it stands for. */
  held: T | undefined;
  heldCount: number;
}

/**
 * Tells the first `max` changes of each key within any `windowMs` at once, as they come; of the
 * rest it holds only the latest, and tells that one (with how many changes it stands for) when the
 * window ends — within `windowMs` of being held, and at `flush()`. A flapping alert (issue 19) told
 * webhooks and streams of every change, thousands an hour, each an event row: its receivers want its
 * state, not every flicker. A change told at once stands for what was held for its key (it is newer).
 */
export class Coalescer<T> {
  private readonly keys = new Map<string, Key<T>>();
  private timer: unknown = null;

  constructor(
    private readonly tell: (change: T, changes: number) => void,
    private readonly o: { max: number; windowMs: number; scheduler: Scheduler },
  ) {}

  change(key: string, change: T): void {
    const now = this.o.scheduler.now();
    let k = this.keys.get(key);
    if (!k) {
      k = { told: [], held: undefined, heldCount: 0 };
      this.keys.set(key, k);
    }
    if (withinBudget(k.told, now, this.o.windowMs, this.o.max)) {
      const count = 1 + k.heldCount;
      k.held = undefined;
      k.heldCount = 0;
      k.told.push(now);
      this.tell(change, count);
    } else {
      k.held = change;
      k.heldCount++;
    }
    this.arm();
  }

  /** Tells what is held for `key` now (what comes next must be told after it). */
  release(key: string): void {
    const k = this.keys.get(key);
    if (k?.held !== undefined) this.tellHeld(k, this.o.scheduler.now());
  }

  /** Tells everything held (the window's end; the stop) and forgets keys quiet for a window. */
  flush(): void {
    if (this.timer !== null) this.o.scheduler.clearTimeout(this.timer);
    this.timer = null;
    const now = this.o.scheduler.now();
    for (const [key, k] of this.keys) {
      if (k.held !== undefined) this.tellHeld(k, now);
      else if (withinBudget(k.told, now, this.o.windowMs, 1)) this.keys.delete(key); // quiet for a window
    }
    this.arm();
  }

  stop(): void {
    this.flush();
    if (this.timer !== null) this.o.scheduler.clearTimeout(this.timer);
    this.timer = null;
  }

  private tellHeld(k: Key<T>, now: number): void {
    const held = k.held as T;
    const count = k.heldCount;
    k.held = undefined;
    k.heldCount = 0;
    k.told.push(now);
    this.tell(held, count);
  }

  /** One timer while any key is remembered: the window's end for what is held, else forgetting. */
  private arm(): void {
    if (this.timer !== null || this.keys.size === 0) return;
    this.timer = this.o.scheduler.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.o.windowMs);
  }
}
