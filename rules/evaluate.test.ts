import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldValue } from '../ingest/point.js';
import {
  drivingValue,
  type EvalInput,
  ExprValue,
  evaluate,
  INITIAL_STATE,
  MAX_SAMPLES,
  newState,
  nextTickAt,
  recentFires,
  type SavedState,
  type SeriesState,
  samplePairs,
} from './evaluate.js';
import { type Rule, type RuleInput, ruleFrom } from './schema.js';

const rule = (over: Partial<RuleInput>, metric = 't'): Rule =>
  ruleFrom({
    id: 'r',
    match: { metric },
    ticket: { priority: 'general', faultType: 'x' },
    ...over,
  } as RuleInput);

const reading = (ts: number, fields: Record<string, FieldValue>, errorCodes?: string[]): EvalInput =>
  errorCodes ? { kind: 'reading', ts, fields, errorCodes } : { kind: 'reading', ts, fields };
const tick = (now: number): EvalInput => ({ kind: 'tick', now });

/** Feeds inputs in order; returns the final state and every event as `type@time`. */
function run(r: Rule, inputs: EvalInput[], from: SeriesState = INITIAL_STATE) {
  let state = from;
  const events: string[] = [];
  for (const input of inputs) {
    const [next, evs] = evaluate(r, state, input);
    state = next;
    for (const e of evs) events.push(`${e.type}@${e.at}`);
  }
  return { state, events };
}

/** Readings of metric `t` at 1-second steps from `start`. */
const series = (values: (number | null)[], start = 0, step = 1_000): EvalInput[] =>
  values.flatMap((v, i) => (v === null ? [] : [reading(start + i * step, { t: v })]));

/** Runs readings and, between them, ticks at the times the state asks for (as the engine would). */
function runTimed(r: Rule, inputs: EvalInput[], until: number, from: SeriesState = INITIAL_STATE) {
  let state = from;
  const events: string[] = [];
  const apply = (input: EvalInput) => {
    const [next, evs] = evaluate(r, state, input);
    state = next;
    for (const e of evs) events.push(`${e.type}@${e.at}`);
  };
  const queue = [...inputs].sort((a, b) => time(a) - time(b));
  let now = 0;
  for (;;) {
    const due = nextTickAt(r, state);
    const next = queue[0];
    if (due !== undefined && due <= until && (!next || due < time(next))) {
      now = Math.max(now, due);
      apply(tick(now));
      if (nextTickAt(r, state) === due) break; // no progress: stop rather than loop
      continue;
    }
    if (!next) break;
    queue.shift();
    now = Math.max(now, time(next));
    apply(next);
  }
  return { state, events };
}
const time = (i: EvalInput) => (i.kind === 'tick' ? i.now : i.ts);

describe('threshold', () => {
  const hot = rule({ threshold: { above: 90, clear: 85 } });

  it('fires above the level and clears only past the clear level (hysteresis)', () => {
    const { events, state } = run(hot, series([80, 91, 88, 92, 85]));
    expect(events).toEqual(['firing@1000', 'resolved@4000']);
    expect(state.state).toBe('inactive');
  });

  it('boundaries: exactly at the level does not fire; without clear, at the level clears', () => {
    const r = rule({ threshold: { above: 90 } });
    expect(run(r, series([90])).events).toEqual([]);
    expect(run(r, series([95, 90])).events).toEqual(['firing@0', 'resolved@1000']);
  });

  it('below with clear above it', () => {
    const low = rule({ threshold: { below: 2, clear: 3 } });
    expect(run(low, series([1.5, 2.5, 3.1])).events).toEqual(['firing@0', 'resolved@2000']);
  });

  it('outside a range, clearing only well inside it; inside a range', () => {
    const band = rule({ threshold: { outside: [10, 20], clear: [11, 19] } });
    expect(run(band, series([15, 21, 19.5, 18, 9, 12])).events).toEqual([
      'firing@1000',
      'resolved@3000',
      'firing@4000',
      'resolved@5000',
    ]);
    const inside = rule({ threshold: { inside: [0, 5] } });
    expect(run(inside, series([7, 5, 6])).events).toEqual(['firing@1000', 'resolved@2000']);
  });

  it('`for`: pending first, firing once held long enough by reading time; interrupted → inactive', () => {
    const r = rule({ threshold: { above: 90, for: '1s' } });
    expect(
      run(r, [reading(0, { t: 95 }), reading(500, { t: 96 }), reading(1_000, { t: 97 })]).events,
    ).toEqual(['pending@0', 'firing@1000']);
    expect(
      run(r, [reading(0, { t: 95 }), reading(500, { t: 80 }), reading(1_200, { t: 97 })]).events,
    ).toEqual(['pending@0', 'inactive@500', 'pending@1200']);
  });

  it('`for`: a tick fires a still-holding pending alert at the deadline, even when the tick is late', () => {
    const r = rule({ threshold: { above: 90, for: '1s' } });
    const { state } = run(r, [reading(100, { t: 95 })]);
    expect(nextTickAt(r, state)).toBe(1_100);
    expect(run(r, [tick(1_099)], state).events).toEqual([]);
    expect(run(r, [tick(9_999)], state).events).toEqual(['firing@1100']);
  });

  it('restart in the middle of `for`: the saved state continues (JSON round trip)', () => {
    const r = rule({ threshold: { above: 90, for: '10s' } });
    const before = run(r, [reading(0, { t: 95 }), reading(4_000, { t: 96 })]).state;
    const saved = JSON.parse(JSON.stringify(before)) as SeriesState;
    // Two futures of one saved state: evaluation updates a state in place, so each runs on a copy.
    expect(run(r, [reading(10_000, { t: 97 })], newState(saved)).events).toEqual(['firing@10000']);
    expect(run(r, [tick(10_000)], newState(saved)).events).toEqual(['firing@10000']);
  });

  it('out-of-order and duplicate timestamps: older readings are ignored, a duplicate is judged again', () => {
    expect(run(hot, [reading(10, { t: 95 }), reading(5, { t: 50 }), reading(11, { t: 95 })]).events).toEqual([
      'firing@10',
    ]);
    expect(run(hot, [reading(10, { t: 95 }), reading(10, { t: 80 })]).events).toEqual([
      'firing@10',
      'resolved@10',
    ]);
  });

  it('says nothing about readings without the metric, strings, NaN or infinities; booleans are 1/0', () => {
    for (const v of ['hot', Number.NaN, Number.POSITIVE_INFINITY] as FieldValue[]) {
      const [s, e] = evaluate(hot, INITIAL_STATE, reading(1, { t: v }));
      expect(e).toEqual([]);
      expect(s.state).toBe('inactive');
    }
    expect(run(hot, [reading(1, { other: 1 })]).state).toEqual(INITIAL_STATE);
    const on = rule({ threshold: { above: 0.5 } });
    expect(run(on, [reading(1, { t: true }), reading(2, { t: false })]).events).toEqual([
      'firing@1',
      'resolved@2',
    ]);
  });

  it('severity rises while firing: general → emergency once, never back within the episode', () => {
    const r = rule({ threshold: { above: 90, emergency: { above: 110 } } });
    let state = INITIAL_STATE;
    const all: { type: string; priority?: string }[] = [];
    for (const [i, v] of [95, 112, 100, 115, 80, 120].entries()) {
      const [next, evs] = evaluate(r, state, reading(i * 1000, { t: v }));
      state = next;
      all.push(...evs.map((e) => ({ type: e.type, ...(e.priority ? { priority: e.priority } : {}) })));
    }
    expect(all).toEqual([
      { type: 'firing' },
      { type: 'escalated', priority: 'emergency' },
      { type: 'resolved' },
      { type: 'firing', priority: 'emergency' },
    ]);
  });
});

describe('lifecycle: keepFiringFor, cooldown, flapping', () => {
  it('keepFiringFor: a short dip does not resolve; a long one resolves at the end of the keep time', () => {
    const r = rule({ threshold: { above: 90 }, keepFiringFor: '5s' });
    expect(run(r, series([95, 80, 95, 80])).events).toEqual(['firing@0']);
    const { events } = runTimed(r, series([95, 80]), 60_000);
    expect(events).toEqual(['firing@0', 'resolved@5000']);
  });

  it('cooldown: no new firing within the cooldown after a resolve; after it, yes', () => {
    const r = rule({ threshold: { above: 90 }, cooldown: '10s' });
    expect(run(r, series([95, 80, 95, 95, 80])).events).toEqual(['firing@0', 'resolved@1000']);
    expect(run(r, [...series([95, 80]), reading(12_000, { t: 95 })]).events).toEqual([
      'firing@0',
      'resolved@1000',
      'firing@12000',
    ]);
  });

  it('flapping: fired `count` times within `within` is flagged on the firing event', () => {
    const r = rule({ threshold: { above: 90 }, flapping: { count: 3, within: '1m' } });
    let state = INITIAL_STATE;
    const flags: boolean[] = [];
    for (const [i, v] of [95, 80, 95, 80, 95, 80].entries()) {
      const [next, evs] = evaluate(r, state, reading(i * 1000, { t: v }));
      state = next;
      for (const e of evs) if (e.type === 'firing') flags.push(e.flapping ?? false);
    }
    expect(flags).toEqual([false, false, true]);
    expect(state.flapping).toBe(true);
    // An hour later, one firing is not flapping any more.
    const [, later] = evaluate(r, state, reading(3_600_000, { t: 95 }));
    expect(later[0]?.flapping).toBe(false);
  });

  it('flapping: decided as by every fire of the window, keeping no more than `count` fire times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 90_000 }), { minLength: 1, maxLength: 60 }),
        (count, gaps) => {
          const flapping = { count, withinMs: 60_000 };
          let kept: number[] = [];
          const all: number[] = [];
          let when = 0;
          for (const gap of gaps) {
            when += gap;
            all.push(when);
            kept = recentFires(kept, when, flapping);
            const inWindow = all.filter((t) => t > when - flapping.withinMs).length;
            expect(kept.length >= count).toBe(inWindow >= count);
            expect(kept.length).toBeLessThanOrEqual(count);
            expect(kept[kept.length - 1]).toBe(when);
          }
        },
      ),
    );
  });

  it('flapping: a series that fires all day keeps `count` fire times in its state', () => {
    const r = rule({ threshold: { above: 90 } });
    let state = INITIAL_STATE;
    for (let i = 0; i < 2_000; i++) state = evaluate(r, state, reading(i * 1000, { t: i % 2 ? 80 : 95 }))[0];
    expect(state.flapping).toBe(true);
    expect(state.fires).toHaveLength(r.flapping.count);
  });
});

describe('window aggregates', () => {
  it('a window or rate whose samples leaving cannot change the alert has no deadline for them; leaving then changes nothing', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('avg', 'min', 'max', 'sum', 'slope', 'delta'),
        fc.constantFrom('above', 'below', 'outside', 'inside'),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 100 })), {
          minLength: 1,
          maxLength: 40,
        }),
        (fn, op, raw) => {
          const level = fn === 'sum' ? 250 : fn === 'slope' || fn === 'delta' ? 10 : 50;
          const cmp = op === 'above' || op === 'below' ? { [op]: level } : { [op]: [level - 20, level + 20] };
          const r = rule(
            (fn === 'slope' || fn === 'delta'
              ? { rate: { over: '10s', per: '1s', measure: fn, ...cmp } }
              : { window: { fn, over: '10s', ...cmp } }) as Partial<RuleInput>,
          );
          let state: SeriesState = newState();
          let t = 0;
          for (const [gap, v] of raw) {
            t += gap * 1_000;
            state = evaluate(r, state, reading(t, { t: v }))[0];
          }
          const due = nextTickAt(r, state);
          const newest = samplePairs(state).at(-1)?.[0] ?? t;
          // No deadline before the window empties: ticking at every moment a sample leaves (and
          // once it is empty) must not move the alert.
          if (due === undefined || due > newest + 10_000) {
            let copy = newState(state);
            for (const [ts] of samplePairs(state)) {
              const [next, events] = evaluate(r, copy, tick(ts + 10_001));
              expect(events).toEqual([]);
              copy = next;
            }
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('an inactive window of maxima under its level waits for readings, not for each sample leaving', () => {
    const r = rule({ window: { fn: 'max', over: '1m', above: 12 } });
    let state = INITIAL_STATE;
    for (let i = 0; i < 30; i++) state = evaluate(r, state, reading(i * 2_000, { t: 3 + (i % 4) }))[0];
    expect(nextTickAt(r, state)).toBeUndefined();
    // A caller holding an earlier deadline is given the leave time instead (nothing asked).
    expect(nextTickAt(r, state, 0)).toBe(0 + 60_000 + 1);
    state = evaluate(r, state, reading(60_000, { t: 13 }))[0];
    expect(state.state).toBe('firing');
    // Firing: each sample leaving is a deadline again (the 13 leaving resolves it, on time).
    expect(nextTickAt(r, state)).toBe(2_000 + 60_000 + 1);
  });

  it('running sums, minima and maxima equal a pass over the samples, whatever the order of readings', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('avg', 'min', 'max', 'sum'),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 120 }), fc.integer({ min: -1000, max: 1000 })), {
          minLength: 1,
          maxLength: 200,
        }),
        (fn, raw) => {
          // Never holds: the state's value is the aggregate after every reading that was judged.
          const r = rule({ window: { fn, over: '10s', above: 1e12 } });
          let state = INITIAL_STATE;
          for (const [sec, v] of raw) {
            const [next] = evaluate(r, state, reading(sec * 1_000, { t: v / 8 }));
            state = next;
            const vs = samplePairs(state).map((x) => x[1]);
            if (vs.length === 0) continue;
            const sum = vs.reduce((a, b) => a + b, 0);
            const expected = { avg: sum / vs.length, sum, min: Math.min(...vs), max: Math.max(...vs) }[fn];
            expect(state.value).toBeCloseTo(expected, 6);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('rate', () => {
  it('slope per minute over a window fires on a fast rise; needs two samples', () => {
    const r = rule({ rate: { over: '1m', per: '1m', above: 5 } });
    // +0.05 per second = 3 per minute: fine; then +0.2 per second = 12 per minute.
    const slow = series([50, 50.05, 50.1, 50.15]);
    expect(run(r, slow).events).toEqual([]);
    const [s1] = evaluate(r, INITIAL_STATE, reading(0, { t: 50 }));
    expect(s1.state).toBe('inactive');
    const fast = series([50, 50.2, 50.4, 50.6]);
    const out = run(r, fast);
    expect(out.events).toEqual(['firing@1000']);
    expect(out.state.value).toBeCloseTo(12);
  });

  it('delta over a window, a late sample inside the window counts, one older than it does not', () => {
    const r = rule({ rate: { over: '10s', measure: 'delta', below: -1 } });
    const { events, state } = run(r, [
      reading(0, { t: 10 }),
      reading(5_000, { t: 9.5 }),
      reading(2_000, { t: 8.5 }),
    ]);
    // Window [0..5000]: first 10, last 9.5 → -0.5; the late 8.5 at 2000 is in the middle: still -0.5.
    expect(events).toEqual([]);
    expect(samplePairs(state)).toHaveLength(3);
    expect(samplePairs(run(r, [reading(20_000, { t: 1 })], state).state)).toEqual([[20_000, 1]]);
    const drop = run(r, [reading(0, { t: 10 }), reading(5_000, { t: 8.5 })]);
    expect(drop.events).toEqual(['firing@5000']);
  });

  it('samples leaving the window are judged on a timer: the alert resolves without new data', () => {
    const r = rule({ rate: { over: '10s', measure: 'delta', above: 5 } });
    const { events } = runTimed(r, [reading(0, { t: 0 }), reading(1_000, { t: 10 })], 60_000);
    expect(events[0]).toBe('firing@1000');
    // With only one sample left in the window there is no rate: the alert stays until data says otherwise.
    expect(events).toHaveLength(1);
  });
});

describe('window', () => {
  it('avg over a sliding window against a threshold, with minSamples', () => {
    const r = rule({ window: { fn: 'avg', over: '5s', above: 10, minSamples: 3 } });
    expect(run(r, series([20, 20])).events).toEqual([]); // two samples: not judged yet
    expect(run(r, series([20, 20, 20])).events).toEqual(['firing@2000']);
    // At 5 s the window (0 s, 5 s] holds 20, 20, 0, 0, 0: avg 8.
    expect(run(r, series([20, 20, 20, 0, 0, 0, 0])).events).toEqual(['firing@2000', 'resolved@5000']);
  });

  it('max and min; duplicate timestamps replace the sample', () => {
    const max = rule({ window: { fn: 'max', over: '1m', above: 100 } });
    expect(run(max, [reading(0, { t: 101 }), reading(0, { t: 50 })]).events).toEqual([
      'firing@0',
      'resolved@0',
    ]);
    const min = rule({ window: { fn: 'min', over: '1m', below: 0 } });
    expect(run(min, series([5, -1, 5])).events).toEqual(['firing@1000']);
  });

  it('count below N fires on a timer when readings stop arriving (after a full window of watching)', () => {
    const r = rule({ window: { fn: 'count', over: '10s', below: 3 } });
    const readings = series([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]); // 0 … 11 s, one per second
    const { events } = runTimed(r, readings, 60_000);
    // Samples at 9,10,11 s are the last three; at 19 s the 9 s one leaves the 10 s window.
    expect(events).toEqual(['firing@19001']);
  });

  it('state is bounded: at most MAX_SAMPLES samples per series', () => {
    const r = rule({ window: { fn: 'avg', over: '1d', above: 1e9 } });
    let state = INITIAL_STATE;
    for (let i = 0; i < MAX_SAMPLES + 500; i++) [state] = evaluate(r, state, reading(i, { t: i }));
    expect(samplePairs(state)).toHaveLength(MAX_SAMPLES);
    expect(samplePairs(state)[0]?.[0]).toBe(500);
  });

  it('a sliding window reuses its buffer: the same array, bounded, for any number of readings', () => {
    const r = rule({ window: { fn: 'max', over: '10s', above: 1e9 } });
    const s = newState();
    for (let i = 0; i < 100; i++) evaluate(r, s, reading(i * 1_000, { t: i % 7 }));
    const buffer = s.samples;
    for (let i = 100; i < 20_000; i++) {
      const [, events] = evaluate(r, s, reading(i * 1_000, { t: i % 7 }));
      expect(events).toEqual([]);
    }
    expect(s.samples).toBe(buffer);
    expect(s.samples.length).toBeLessThanOrEqual(64);
    // The window (9,990 s, 19,999 s]: ten samples, in order, whatever moved inside the buffer.
    expect(samplePairs(s)).toEqual(
      Array.from({ length: 10 }, (_, k) => [(19_990 + k) * 1_000, (19_990 + k) % 7]),
    );
    // A late sample inside the window goes to its place; what is saved is the window only.
    evaluate(r, s, reading(19_995_500, { t: 3 }));
    const saved = JSON.parse(JSON.stringify(s)) as { samples: number[]; sampleStart?: number };
    expect(saved.samples).toHaveLength(22);
    expect(saved.samples.slice(10, 14)).toEqual([19_995_000, 19_995 % 7, 19_995_500, 3]);
    expect(saved.sampleStart).toBeUndefined();
    expect(samplePairs(newState(saved))).toEqual(samplePairs(s));
    // Saving cut the buffer to the window; it goes on sliding from there.
    expect(s.samples).toHaveLength(22);
    evaluate(r, s, reading(20_000_000, { t: 5 }));
    expect(samplePairs(s).at(-1)).toEqual([20_000_000, 5]);
    expect(samplePairs(s)[0]?.[0]).toBe(19_991_000);
  });
});

describe('noData', () => {
  const silent = rule({ noData: { for: '30s' } }, 't');

  it('fires exactly `for` after the last reading, on a timer; a reading resolves it', () => {
    const { state, events } = runTimed(silent, [reading(1_000, { t: 1 })], 40_000);
    expect(events).toEqual(['firing@31000']);
    expect(run(silent, [reading(50_000, { t: 2 })], state).events).toEqual(['resolved@50000']);
  });

  it('restart in the middle of the silence: the saved state fires at the original deadline', () => {
    const before = run(silent, [reading(1_000, { t: 1 })]).state;
    const saved = JSON.parse(JSON.stringify(before)) as SeriesState;
    expect(nextTickAt(silent, saved)).toBe(31_000);
    // The gateway was down until 5 minutes later: the deadline is handled at once, at its own time.
    expect(run(silent, [tick(300_000)], saved).events).toEqual(['firing@31000']);
  });

  it('a metric-level rule ignores readings without that metric; a device-level rule takes any reading', () => {
    expect(
      run(silent, [reading(1_000, { t: 1 }), reading(20_000, { other: 1 }), tick(31_000)]).events,
    ).toEqual(['firing@31000']);
    const device = rule({ noData: { for: '30s' } }, undefined as unknown as string);
    const r = ruleFrom({ id: 'd', noData: { for: '30s' }, ticket: { priority: 'general' } });
    expect(device.condition).toMatchObject({ kind: 'noData' });
    expect(run(r, [reading(1_000, { t: 1 }), reading(20_000, { other: 1 }), tick(31_000)]).events).toEqual(
      [],
    );
  });

  it('a backlog with old timestamps does not end the silence early', () => {
    const { state } = runTimed(silent, [reading(1_000, { t: 1 })], 40_000);
    expect(run(silent, [reading(500, { t: 0 })], state).events).toEqual([]);
  });
});

describe('errorCode', () => {
  const r = rule({ errorCode: ['E1', 'E2'] });

  it('fires on a listed code, holds while any is active, resolves when none is', () => {
    const { events } = run(r, [
      reading(1, {}, ['E9']),
      reading(2, {}, ['E1']),
      reading(3, {}, ['E2', 'E9']),
      reading(4, {}, []),
    ]);
    expect(events).toEqual(['firing@2', 'resolved@4']);
  });

  it('a reading that does not report codes changes nothing; the value is the matching codes', () => {
    const firing = run(r, [reading(1, {}, ['E1'])]).state;
    expect(run(r, [reading(2, { t: 1 })], firing).events).toEqual([]);
    const [, events] = evaluate(r, INITIAL_STATE, reading(1, {}, ['E2', 'X', 'E1']));
    expect(events[0]?.value).toBe('E2,E1');
  });

  it('prefixes, and a table that sets severity, fault type and title per code', () => {
    const t = rule({
      errorCode: {
        prefixes: ['E-HYD-'],
        table: { 'E-FIRE': { severity: 'emergency', faultType: 'safety', title: 'Fire alarm' } },
      },
    });
    const [, a] = evaluate(t, INITIAL_STATE, reading(1, {}, ['E-HYD-12']));
    expect(a[0]).toMatchObject({ type: 'firing', value: 'E-HYD-12' });
    expect(a[0]?.priority).toBeUndefined();
    const [, b] = evaluate(t, INITIAL_STATE, reading(1, {}, ['E-FIRE']));
    expect(b[0]).toMatchObject({
      type: 'firing',
      priority: 'emergency',
      entry: { faultType: 'safety', title: 'Fire alarm' },
    });
    // Firing on a hydraulic code, then the fire alarm too: raised to emergency.
    const s = run(t, [reading(1, {}, ['E-HYD-12'])]).state;
    const [, c] = evaluate(t, s, reading(2, {}, ['E-HYD-12', 'E-FIRE']));
    expect(c.map((e) => e.type)).toEqual(['escalated']);
  });
});

describe('outlier', () => {
  it('zscore: a value far outside the recent spread fires once there are enough samples', () => {
    const r = rule({ outlier: { method: 'zscore', over: '1h', sigmas: 3, minSamples: 10 } });
    const calm = Array.from({ length: 20 }, (_, i) => 50 + (i % 2 ? 0.5 : -0.5));
    expect(run(r, series(calm)).events).toEqual([]);
    expect(run(r, series([...calm, 60])).events).toEqual(['firing@20000']);
    expect(run(r, series([...calm.slice(0, 5), 60])).events).toEqual([]); // too few samples
    const below = rule({ outlier: { sigmas: 3, minSamples: 10, direction: 'below' } });
    expect(run(below, series([...calm, 60])).events).toEqual([]);
  });

  it('ewma: a band that follows a slow drift but catches a jump', () => {
    const r = rule({ outlier: { method: 'ewma', alpha: 0.2, sigmas: 4, minSamples: 10 } });
    const drift = Array.from({ length: 40 }, (_, i) => 50 + i * 0.05 + (i % 2 ? 0.3 : -0.3));
    expect(run(r, series(drift)).events).toEqual([]);
    expect(run(r, series([...drift, 70])).events).toEqual(['firing@40000']);
  });

  it('a flat baseline: any change is an outlier; none is not', () => {
    const r = rule({ outlier: { minSamples: 5 } });
    expect(run(r, series([5, 5, 5, 5, 5, 5])).events).toEqual([]);
    expect(run(r, series([5, 5, 5, 5, 5, 5.1])).events).toEqual(['firing@5000']);
  });
});

describe('expr (CEL)', () => {
  it('combines metrics of one device; values persist between readings that carry only some of them', () => {
    const r = rule({ expr: 'temperature > 80.0 && rpm < 100.0' });
    const { events } = run(r, [
      reading(1, { temperature: 85 }),
      reading(2, { rpm: 50 }),
      reading(3, { rpm: 1200 }),
    ]);
    expect(events).toEqual(['firing@2', 'resolved@3']);
  });

  it('a copy made with newState is a branch of its own: evaluating the original leaves it as it was', () => {
    const r = rule({ expr: 'temperature > 80.0 && rpm < 100.0' });
    const { state } = run(r, [reading(1, { temperature: 85, rpm: 50 })]);
    const branch = newState(state);
    run(r, [reading(2, { temperature: 20, rpm: 900 })], state);
    // Saved as pairs.
    expect(JSON.parse(JSON.stringify(state.values))).toEqual({ temperature: [2, 20], rpm: [2, 900] });
    expect(JSON.parse(JSON.stringify(branch.values))).toEqual({ temperature: [1, 85], rpm: [1, 50] });
  });

  it('strings, error codes and the device are usable; a stale value says nothing', () => {
    const r = rule({ expr: { cel: 'state == "FAULT" && "E-7" in errorCodes', maxAge: '10s' } });
    expect(run(r, [reading(1_000, { state: 'FAULT' }, ['E-7'])]).events).toEqual(['firing@1000']);
    expect(run(r, [reading(1_000, { state: 'FAULT' }), reading(20_000, { x: 1 }, ['E-7'])]).events).toEqual(
      [],
    );
  });

  it('an evaluation error is recorded on the state and changes nothing', () => {
    const r = rule({ expr: 'temperature + 1 > 80.0' });
    const [s, e] = evaluate(r, INITIAL_STATE, reading(1, { temperature: 85.5 }));
    expect(e).toEqual([]);
    expect(s.error).toMatch(/^CEL: no such overload/);
  });

  it('a clear expression gives hysteresis', () => {
    const r = rule({ expr: { cel: 'p > 10.0', clear: 'p < 8.0' } });
    expect(run(r, [reading(1, { p: 11 }), reading(2, { p: 9 }), reading(3, { p: 7 })]).events).toEqual([
      'firing@1',
      'resolved@3',
    ]);
  });
});

describe('edge cases across kinds', () => {
  it('states share only empty containers: a window, a z-score and an expression each fill their own', () => {
    const kinds = [
      rule({ window: { fn: 'avg', over: '1m', above: 100 } }),
      rule({ outlier: { method: 'zscore', over: '1m', sigmas: 3, minSamples: 5 } }),
      rule({ expr: 't > 80.0' }),
    ];
    for (const r of kinds) {
      const a = newState();
      const b = newState();
      evaluate(r, a, reading(1_000, { t: 90 }));
      evaluate(r, a, reading(2_000, { t: 95 }));
      expect([a.samples.length + Object.keys(a.values).length]).not.toEqual([0]);
      // The other series and the initial state saw nothing.
      expect(b.samples).toEqual([]);
      expect(b.values).toEqual({});
      expect(INITIAL_STATE.samples).toEqual([]);
      expect(INITIAL_STATE.values).toEqual({});
      // A saved state with nothing in its containers comes back the same, and fills its own.
      const back = newState(JSON.parse(JSON.stringify(b)));
      evaluate(r, back, reading(3_000, { t: 91 }));
      expect(b.samples).toEqual([]);
      expect(b.values).toEqual({});
    }
  });

  it('gaps: a rate over a window that emptied during a gap is not judged until it fills again', () => {
    const r = rule({ rate: { over: '1m', measure: 'delta', above: 5 } });
    // 0 → 10 within the window fires; after a 10-minute gap a lone sample says nothing.
    const { state, events } = run(r, [reading(0, { t: 0 }), reading(30_000, { t: 10 })]);
    expect(events).toEqual(['firing@30000']);
    const after = run(r, [reading(630_000, { t: 50 })], state);
    expect(after.events).toEqual([]);
    expect(samplePairs(after.state)).toEqual([[630_000, 50]]);
  });

  it('NaN and strings are ignored by windows, outliers and expressions', () => {
    const w = rule({ window: { fn: 'avg', over: '1m', above: 10 } });
    const ws = run(w, [
      reading(0, { t: 5 }),
      reading(1_000, { t: Number.NaN }),
      reading(2_000, { t: 'x' }),
    ]).state;
    expect(samplePairs(ws)).toEqual([[0, 5]]);
    const o = rule({ outlier: { minSamples: 3 } });
    expect(run(o, [reading(0, { t: 'x' })]).state.samples).toEqual([]);
    const e = rule({ expr: 't > 1.0' });
    const [es, ee] = evaluate(e, INITIAL_STATE, reading(0, { t: 'high' }));
    expect(ee).toEqual([]);
    expect(es.error).toMatch(/^CEL: no such overload/);
  });

  it('boundaries: window and rate compare strictly; inside is inclusive', () => {
    const w = rule({ window: { fn: 'max', over: '1m', above: 10 } });
    expect(run(w, series([10])).events).toEqual([]);
    const inside = rule({ window: { fn: 'min', over: '1m', inside: [0, 10] } });
    expect(run(inside, series([10])).events).toEqual(['firing@0']);
  });

  it('restart in the middle of a window: the saved samples count after the restart', () => {
    const r = rule({ window: { fn: 'count', over: '1h', above: 2 } });
    const before = run(r, [
      reading(0, { t: 1 }),
      reading(600_000, { t: 1 }),
      reading(1_200_000, { t: 1 }),
    ]).state;
    const saved = JSON.parse(JSON.stringify(before)) as SeriesState;
    // After the restart: one more reading; once a whole hour was watched, the window (0, 1 h] holds 3.
    const { events } = run(r, [reading(3_000_000, { t: 1 }), tick(3_600_000)], saved);
    expect(events).toEqual(['firing@3600000']);
    // Without the saved samples the same reading alone would not fire.
    expect(run(r, [reading(3_000_000, { t: 1 }), tick(6_600_000)]).events).toEqual([]);
  });

  it('times not set are NaN live and null saved; a saved state reads back the same and goes on alike', () => {
    const r = rule({ threshold: { above: 10, for: '5s' } });
    const { state } = run(r, [reading(1_000, { t: 20 })]);
    expect(state.since).toBe(1_000);
    expect(state.firedAt).toBeNaN();
    expect(state.value).toBe(20);
    const text = JSON.stringify(state);
    expect(JSON.parse(text)).toMatchObject({ since: 1_000, firedAt: null, resolvedAt: null, value: 20 });
    const back = newState(JSON.parse(text));
    expect(back.firedAt).toBeNaN();
    expect(back.since).toBe(1_000);
    // Both fire at the end of `for`, from the saved copy as from the live one.
    expect(run(r, [reading(7_000, { t: 21 })], back).events).toEqual(['firing@7000']);
    expect(run(r, [reading(7_000, { t: 21 })], JSON.parse(text)).events).toEqual(['firing@7000']);
    // A value that is not a number is kept beside: an expression's result.
    const e = rule({ expr: 't > 10.0' });
    const es = run(e, [reading(1_000, { t: 20 })]).state;
    expect([es.value, es.otherValue, drivingValue(es)]).toEqual([NaN, true, true]);
    expect(newState({ value: 'E1' } as SavedState).otherValue).toBe('E1'); // saved before the split
    // An expression's variables are saved as [time, value] pairs and read back as they were.
    const esSaved = JSON.parse(JSON.stringify(es));
    expect(esSaved.values).toEqual({ t: [1_000, 20] });
    expect(newState(esSaved).values.t).toEqual(new ExprValue(1_000, 20));
  });

  it('a state saved with samples as pairs (before they were flat) is read as it was', () => {
    const r = rule({ window: { fn: 'count', over: '1h', above: 2 } });
    const old = {
      samples: [
        [0, 1],
        [600_000, 1],
        [1_200_000, 1],
      ],
      startedAt: 0,
      lastTs: 1_200_000,
    };
    const saved = newState(old as unknown as Partial<SeriesState>);
    expect(saved.samples).toEqual([0, 1, 600_000, 1, 1_200_000, 1]);
    expect(run(r, [reading(3_000_000, { t: 1 }), tick(3_600_000)], saved).events).toEqual(['firing@3600000']);
  });

  it('duplicate timestamps in an outlier window replace the sample instead of weighting it twice', () => {
    const r = rule({ outlier: { minSamples: 3 } });
    const { state } = run(r, [reading(0, { t: 1 }), reading(0, { t: 1 }), reading(1_000, { t: 2 })]);
    expect(samplePairs(state)).toEqual([
      [0, 1],
      [1_000, 2],
    ]);
  });
});
