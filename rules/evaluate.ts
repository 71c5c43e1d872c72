import type { FieldValue } from '../ingest/point.js';
import type { Condition, Rule } from './schema.js';

/** Evaluation state of one rule for one series (device). */
export interface SeriesState {
  state: 'inactive' | 'pending' | 'firing';
  /** When the condition started to hold (pending) — the reading's time. */
  since: number | null;
  firedAt: number | null;
  /** Time of the newest reading evaluated; older readings do not change the state. */
  lastTs: number | null;
  /** The value that drives the alert: the metric value, or the matching codes. */
  value: FieldValue | null;
  /** Whether the newest reading met the condition. */
  holding: boolean;
}

export type EvalInput =
  | { kind: 'reading'; ts: number; fields: Record<string, FieldValue>; errorCodes?: string[] }
  | { kind: 'tick'; now: number };

export type AlertEventType = 'pending' | 'firing' | 'resolved' | 'inactive';

export interface AlertEvent {
  type: AlertEventType;
  /** The time the transition happened, judged by reading timestamps (or the tick). */
  at: number;
  value: FieldValue | null;
}

export const INITIAL_STATE: SeriesState = {
  state: 'inactive',
  since: null,
  firedAt: null,
  lastTs: null,
  value: null,
  holding: false,
};

/** What a reading says about a condition: `undefined` when it says nothing (metric absent). */
interface Observation {
  holds: boolean;
  /** For threshold rules with hysteresis: may a firing alert clear on this reading? */
  clears: boolean;
  value: FieldValue;
}

function observe(c: Condition, input: Extract<EvalInput, { kind: 'reading' }>): Observation | undefined {
  if (c.kind === 'threshold') {
    const raw = input.fields[c.metric];
    const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
    if (typeof v !== 'number') return undefined;
    if (c.above !== undefined) return { holds: v > c.above, clears: v <= (c.clear ?? c.above), value: v };
    const below = c.below as number;
    return { holds: v < below, clears: v >= (c.clear ?? below), value: v };
  }
  if (input.errorCodes === undefined) return undefined;
  const active = input.errorCodes.filter((code) => c.codes.includes(code));
  return { holds: active.length > 0, clears: active.length === 0, value: active.join(',') };
}

function forMs(c: Condition): number {
  return c.kind === 'threshold' ? c.forMs : 0;
}

/**
 * Pure evaluation: `(rule, state, input) -> [state, events]`. No clock, no I/O. Readings older than
 * the newest one already seen are ignored, so that a device replaying its backlog cannot flip an
 * alert backwards.
 */
export function evaluate(rule: Rule, state: SeriesState, input: EvalInput): [SeriesState, AlertEvent[]] {
  const c = rule.condition;
  if (input.kind === 'tick') {
    // A pending alert whose `for` ran out while the condition still held fires at the deadline.
    if (state.state === 'pending' && state.holding && state.since !== null) {
      const due = state.since + forMs(c);
      if (input.now >= due) {
        return [
          { ...state, state: 'firing', firedAt: due },
          [{ type: 'firing', at: due, value: state.value }],
        ];
      }
    }
    return [state, []];
  }

  if (state.lastTs !== null && input.ts < state.lastTs) return [state, []];
  const obs = observe(c, input);
  if (!obs) return [state, []];
  const ts = input.ts;
  const next: SeriesState = { ...state, lastTs: ts, holding: obs.holds };

  switch (state.state) {
    case 'inactive':
      if (!obs.holds) return [next, []];
      if (forMs(c) > 0) {
        return [
          { ...next, state: 'pending', since: ts, value: obs.value },
          [{ type: 'pending', at: ts, value: obs.value }],
        ];
      }
      return [
        { ...next, state: 'firing', since: ts, firedAt: ts, value: obs.value },
        [{ type: 'firing', at: ts, value: obs.value }],
      ];
    case 'pending': {
      if (!obs.holds) {
        return [
          { ...next, state: 'inactive', since: null, value: obs.value },
          [{ type: 'inactive', at: ts, value: obs.value }],
        ];
      }
      const since = state.since ?? ts;
      if (ts - since >= forMs(c)) {
        return [
          { ...next, state: 'firing', firedAt: ts, value: obs.value },
          [{ type: 'firing', at: ts, value: obs.value }],
        ];
      }
      return [{ ...next, value: obs.value }, []];
    }
    case 'firing':
      if (obs.clears) {
        return [
          { ...next, state: 'inactive', since: null, firedAt: null, value: obs.value },
          [{ type: 'resolved', at: ts, value: obs.value }],
        ];
      }
      return [{ ...next, value: obs.holds ? obs.value : state.value }, []];
  }
}

/** When a tick could change this state (the end of a pending `for`), or `undefined`. */
export function nextTickAt(rule: Rule, state: SeriesState): number | undefined {
  if (state.state === 'pending' && state.holding && state.since !== null)
    return state.since + forMs(rule.condition);
  return undefined;
}
