import { describe, expect, it } from 'vitest';
import { type EvalInput, evaluate, INITIAL_STATE, nextTickAt, type SeriesState } from './evaluate.js';
import type { Condition, Rule } from './schema.js';

function rule(condition: Condition): Rule {
  return {
    id: 'r',
    description: '',
    enabled: true,
    match: {},
    condition,
    ticket: { priority: 'general', faultType: 'x', labels: {} },
    source: 'x:1:1',
  };
}

const reading = (ts: number, fields: Record<string, number>, errorCodes?: string[]): EvalInput =>
  errorCodes ? { kind: 'reading', ts, fields, errorCodes } : { kind: 'reading', ts, fields };

/** Feeds inputs in order; returns the final state and every event type with its time. */
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

describe('threshold', () => {
  const hot = rule({ kind: 'threshold', metric: 't', above: 90, clear: 85, forMs: 0 });

  it('fires above the level and clears only past the clear level (hysteresis)', () => {
    const { events, state } = run(hot, [
      reading(1, { t: 80 }),
      reading(2, { t: 91 }),
      reading(3, { t: 88 }), // between clear and threshold: still firing
      reading(4, { t: 92 }),
      reading(5, { t: 85 }),
    ]);
    expect(events).toEqual(['firing@2', 'resolved@5']);
    expect(state.state).toBe('inactive');
  });

  it('exactly at the threshold does not fire; without clear, at the threshold clears', () => {
    const r = rule({ kind: 'threshold', metric: 't', above: 90, forMs: 0 });
    expect(run(r, [reading(1, { t: 90 })]).events).toEqual([]);
    expect(run(r, [reading(1, { t: 95 }), reading(2, { t: 90 })]).events).toEqual(['firing@1', 'resolved@2']);
  });

  it('below with clear above it', () => {
    const low = rule({ kind: 'threshold', metric: 'p', below: 2, clear: 3, forMs: 0 });
    expect(run(low, [reading(1, { p: 1.5 }), reading(2, { p: 2.5 }), reading(3, { p: 3.1 })]).events).toEqual(
      ['firing@1', 'resolved@3'],
    );
  });

  it('`for`: pending first, firing once the condition held long enough by reading time', () => {
    const r = rule({ kind: 'threshold', metric: 't', above: 90, forMs: 1_000 });
    expect(
      run(r, [reading(0, { t: 95 }), reading(500, { t: 96 }), reading(1_000, { t: 97 })]).events,
    ).toEqual(['pending@0', 'firing@1000']);
    expect(
      run(r, [reading(0, { t: 95 }), reading(500, { t: 80 }), reading(1_200, { t: 97 })]).events,
    ).toEqual(['pending@0', 'inactive@500', 'pending@1200']);
  });

  it('`for`: a tick at the deadline fires a still-holding pending alert at the deadline', () => {
    const r = rule({ kind: 'threshold', metric: 't', above: 90, forMs: 1_000 });
    const { state } = run(r, [reading(100, { t: 95 })]);
    expect(nextTickAt(r, state)).toBe(1_100);
    expect(run(r, [{ kind: 'tick', now: 1_099 }], state).events).toEqual([]);
    expect(run(r, [{ kind: 'tick', now: 1_500 }], state).events).toEqual(['firing@1100']);
  });

  it('ignores readings older than the newest seen (late backlog cannot flip the alert)', () => {
    const { events } = run(hot, [reading(10, { t: 95 }), reading(5, { t: 50 }), reading(11, { t: 95 })]);
    expect(events).toEqual(['firing@10']);
  });

  it('says nothing about readings without the metric, or with a non-numeric value', () => {
    const { events, state } = run(hot, [reading(1, { other: 1 })]);
    expect(events).toEqual([]);
    expect(state).toEqual(INITIAL_STATE);
    const [s2, e2] = evaluate(hot, INITIAL_STATE, { kind: 'reading', ts: 1, fields: { t: 'hot' } });
    expect(e2).toEqual([]);
    expect(s2).toEqual(INITIAL_STATE);
  });
});

describe('errorCode', () => {
  const r = rule({ kind: 'errorCode', codes: ['E1', 'E2'] });

  it('fires on a listed code, holds while any is active, resolves when none is', () => {
    const { events } = run(r, [
      reading(1, {}, ['E9']),
      reading(2, {}, ['E1']),
      reading(3, {}, ['E2', 'E9']),
      reading(4, {}, []),
    ]);
    expect(events).toEqual(['firing@2', 'resolved@4']);
  });

  it('a reading that does not report codes changes nothing', () => {
    const firing = run(r, [reading(1, {}, ['E1'])]).state;
    expect(run(r, [reading(2, { t: 1 })], firing).events).toEqual([]);
  });

  it('the value is the matching codes', () => {
    const [, events] = evaluate(r, INITIAL_STATE, reading(1, {}, ['E2', 'X', 'E1']));
    expect(events[0]?.value).toBe('E2,E1');
  });
});
