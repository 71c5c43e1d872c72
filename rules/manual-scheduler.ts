import { MAX_TIMER_MS, type Scheduler } from './engine.js';

/**
 * A scheduler whose time moves only when told: `faultline rules test` and backtests replay hours of
 * readings in milliseconds, and unit tests step time instead of sleeping. Timers fire in deadline
 * order, each with the clock set to its own deadline, including timers armed while advancing.
 */
export class ManualScheduler implements Scheduler {
  private t: number;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  constructor(start = 0) {
    this.t = start;
  }

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): unknown => {
    if (ms > MAX_TIMER_MS) throw new Error(`setTimeout(${ms}) would fire at once in Node`);
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };

  /** Moves the clock to `to`, firing every timer due on the way. */
  advanceTo(to: number): void {
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= to && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = Math.max(this.t, to);
  }

  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  get pending(): number {
    return this.timers.size;
  }
}
