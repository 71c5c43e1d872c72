import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { Coalescer, withinBudget } from './coalesce.js';

const WINDOW = 60_000;

function setup(max = 3) {
  const clock = new ManualScheduler(0);
  const told: Array<{ key: string; v: number; n: number; at: number }> = [];
  const c = new Coalescer<{ key: string; v: number }>(
    (ch, n) => told.push({ key: ch.key, v: ch.v, n, at: clock.now() }),
    { max, windowMs: WINDOW, scheduler: clock },
  );
  const change = (key: string, v: number) => c.change(key, { key, v });
  return { clock, told, c, change };
}

describe('withinBudget', () => {
  it('counts only the times within the window, and drops the older ones', () => {
    const told = [0, 10, 20, 70];
    expect(withinBudget(told, 75, 60, 2)).toBe(false); // 20 and 70 remain
    expect(told).toEqual([20, 70]);
    expect(withinBudget(told, 80, 60, 2)).toBe(true); // 20 left at 80
    expect(told).toEqual([70]);
  });
});

describe('Coalescer', () => {
  it('tells the first changes of a key at once, then only the latest of the rest when the window ends', () => {
    const { clock, told, change } = setup(3);
    for (let i = 1; i <= 10; i++) {
      clock.advanceTo(i * 1000);
      change('a', i);
    }
    expect(told.map((t) => t.v)).toEqual([1, 2, 3]);
    // The window from the first change (its timer) ends: the latest held, standing for 7.
    clock.advanceTo(1000 + WINDOW - 1);
    expect(told).toHaveLength(3);
    clock.advanceTo(1000 + WINDOW);
    expect(told.slice(3)).toEqual([{ key: 'a', v: 10, n: 7, at: 1000 + WINDOW }]);
    // Next window: the budget is free again (the summary itself counts against it).
    clock.advanceTo(WINDOW + 4000);
    change('a', 11);
    change('a', 12);
    change('a', 13);
    expect(told.slice(4).map((t) => t.v)).toEqual([11, 12]);
    clock.advanceTo(1000 + 2 * WINDOW);
    expect(told.slice(6)).toEqual([{ key: 'a', v: 13, n: 1, at: 1000 + 2 * WINDOW }]);
  });

  it('keeps each key to its own budget', () => {
    const { told, change } = setup(2);
    for (const k of ['a', 'b', 'a', 'b', 'a', 'b']) change(k, 1);
    expect(told.map((t) => t.key)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('releases what it holds on demand; a change told at once stands for what was held', () => {
    const { clock, told, c, change } = setup(2);
    change('a', 1);
    change('a', 2);
    change('a', 3); // held
    clock.advanceTo(WINDOW - 10);
    c.release('a');
    c.release('a'); // nothing held: nothing told
    expect(told.map((t) => [t.v, t.n])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    change('a', 4); // held: the release counted against the budget
    change('a', 5); // held, standing for 4 as well
    clock.advanceTo(WINDOW - 1);
    c.release('a');
    expect(told.at(-1)).toMatchObject({ v: 5, n: 2 });
    // At WINDOW the timer fires (nothing held); then 1 and 2 have left the window, 3 and 5 remain.
    clock.advanceTo(WINDOW + 1);
    change('a', 6);
    expect(told.at(-1)).toMatchObject({ v: 5 });
    clock.advanceTo(2 * WINDOW - 9); // the release at WINDOW - 10 left: one slot
    change('a', 7);
    expect(told.at(-1)).toMatchObject({ v: 7, n: 2 });
  });

  it('tells everything held at the stop, and forgets quiet keys (no timer left behind)', () => {
    const { clock, told, c, change } = setup(1);
    change('a', 1);
    change('a', 2);
    c.stop();
    expect(told.map((t) => t.v)).toEqual([1, 2]);
    clock.advanceTo(10 * WINDOW);
    expect(told).toHaveLength(2);
    change('b', 1);
    clock.advanceTo(12 * WINDOW); // the sweep: b quiet for a window is forgotten, and then no timer
    change('b', 2);
    expect(told.map((t) => `${t.key}${t.v}`)).toEqual(['a1', 'a2', 'b1', 'b2']);
  });

  it('never tells more than max + 1 changes of a key in any window, and always ends on the latest', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 20_000 })), {
          maxLength: 200,
        }),
        (steps) => {
          const { clock, told, c, change } = setup(3);
          const latest = new Map<string, number>();
          let i = 0;
          for (const [key, dt] of steps) {
            clock.advanceTo(clock.now() + dt);
            change(key, ++i);
            latest.set(key, i);
          }
          const running = told.length; // what was told before the stop
          c.stop();
          for (const key of ['a', 'b']) {
            const mine = told.filter((t) => t.key === key);
            expect(mine.at(-1)?.v).toBe(latest.get(key));
            // Every change is accounted for exactly once.
            expect(mine.reduce((n, t) => n + t.n, 0)).toBe(steps.filter(([k]) => k === key).length);
            const live = told.slice(0, running).filter((t) => t.key === key);
            for (const t of live) {
              const inWindow = live.filter((u) => u.at > t.at - WINDOW && u.at <= t.at);
              expect(inWindow.length).toBeLessThanOrEqual(4);
            }
          }
        },
      ),
    );
  });
});
