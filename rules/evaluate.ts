import type { FieldValue } from '../ingest/point.js';
import type { CodeEntry, Comparison, Condition, Rule } from './schema.js';

type Priority = 'emergency' | 'general';

/** Evaluation state of one rule for one series (device). Plain data: persisted as JSON. */
export interface SeriesState {
  state: 'inactive' | 'pending' | 'firing';
  /** When the condition started to hold (pending) — the reading's time. */
  since: number | null;
  firedAt: number | null;
  /** Time of the newest reading evaluated; older readings do not move the alert backwards. */
  lastTs: number | null;
  /** The value that drives the alert: the metric value, an aggregate, the matching codes. */
  value: FieldValue | null;
  /** Whether the newest observation met the condition, and whether it was past the clear level. */
  holding: boolean;
  clearing: boolean;
  /** Last time the condition held while firing (for keepFiringFor). */
  lastHeldAt: number | null;
  resolvedAt: number | null;
  /** Times it fired within the flapping window, and whether that makes it flapping. */
  fires: number[];
  flapping: boolean;
  /** The priority of the current episode when it differs from the rule's (raised, or from a code table). */
  priority: Priority | null;
  /** The code-table entry that matched (errorCode rules). */
  entry: CodeEntry | null;
  /** window, rate, zscore outliers: [ts, value] in the window, ordered by time. */
  samples: [number, number][];
  /** When the series started (window warm-up for `count`). */
  startedAt: number | null;
  /** ewma outliers. */
  ewma: { mean: number; variance: number; n: number } | null;
  /** noData: time of the newest reading. */
  lastSeen: number | null;
  /** expr: newest value of each variable, with its time; and the newest error codes. */
  values: Record<string, [number, FieldValue]>;
  codes: string[];
  /** The last evaluation error (an expression that could not be evaluated), for the alert. */
  error: string | null;
  /** The time of the last tick: deadlines at or before it were judged already (no timer loops). */
  checkedAt: number | null;
}

export interface DeviceFacts {
  id: string;
  name: string;
  model: string | null;
  site: string;
  tags: Record<string, string>;
}

export type EvalInput =
  | {
      kind: 'reading';
      ts: number;
      fields: Record<string, FieldValue>;
      errorCodes?: string[];
      device?: DeviceFacts;
    }
  | { kind: 'tick'; now: number };

export type AlertEventType = 'pending' | 'firing' | 'resolved' | 'inactive' | 'escalated';

export interface AlertEvent {
  type: AlertEventType;
  /** The time the transition happened, judged by reading timestamps (or the timer's deadline). */
  at: number;
  value: FieldValue | null;
  /** The episode's priority when it is not the rule's: a code table's, or raised to emergency. */
  priority?: Priority;
  /** The code-table entry behind a firing (fault type and title for the ticket). */
  entry?: CodeEntry;
  flapping?: boolean;
}

/** Samples kept per series at most: windows of fast metrics are thinned from the oldest. */
export const MAX_SAMPLES = 10_000;

export const INITIAL_STATE: Readonly<SeriesState> = {
  state: 'inactive',
  since: null,
  firedAt: null,
  lastTs: null,
  value: null,
  holding: false,
  clearing: true,
  lastHeldAt: null,
  resolvedAt: null,
  fires: [],
  flapping: false,
  priority: null,
  entry: null,
  // Frozen: the shared initial window is never appended to (addSample copies a frozen array first).
  samples: Object.freeze([]) as unknown as [number, number][],
  startedAt: null,
  ewma: null,
  lastSeen: null,
  values: {},
  codes: [],
  error: null,
  checkedAt: null,
};

/** A state from storage or an older version: every field present. */
export function normaliseState(s: Partial<SeriesState>): SeriesState {
  return { ...INITIAL_STATE, ...s };
}

/** What one reading (or the passing of time) says about a condition. */
interface Observation {
  holds: boolean;
  /** Past the clear level (hysteresis): a firing alert may resolve. */
  clears: boolean;
  value: FieldValue;
  /** The time the observation stands for. */
  at: number;
  priority?: Priority;
  entry?: CodeEntry;
}

export function compare(c: Comparison, v: number): boolean {
  switch (c.op) {
    case 'above':
      return v > c.level;
    case 'below':
      return v < c.level;
    case 'outside':
      return v < c.low || v > c.high;
    case 'inside':
      return v >= c.low && v <= c.high;
  }
}

function clears(c: Comparison, clear: number | [number, number] | undefined, v: number): boolean {
  if (clear === undefined) return !compare(c, v);
  if (typeof clear === 'number') return c.op === 'above' ? v <= clear : v >= clear;
  const [lo, hi] = clear;
  return c.op === 'outside' ? v >= lo && v <= hi : v < lo || v > hi;
}

/** A number a rule can compare: booleans as 1/0; NaN, infinities and strings say nothing. */
function numeric(raw: FieldValue | undefined): number | undefined {
  const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

type Comparing = Extract<Condition, { cmp: Comparison }>;

function compared(c: Comparing, v: number, at: number): Observation {
  const o: Observation = { holds: compare(c.cmp, v), clears: clears(c.cmp, c.clear, v), value: v, at };
  if (c.emergency && compare(c.emergency, v)) o.priority = 'emergency';
  return o;
}

/**
 * Inserts a sample in time order (a duplicate time replaces) and drops what left the window — in
 * place: a window of a fast metric holds thousands of samples, and copying them on every reading
 * cost more than the rest of the evaluation (see `evaluate`).
 */
function addSample(window: [number, number][], ts: number, v: number, overMs: number): [number, number][] {
  const samples = Object.isFrozen(window) ? [...window] : window;
  let i = samples.length;
  while (i > 0 && (samples[i - 1] as [number, number])[0] > ts) i--;
  if (i > 0 && (samples[i - 1] as [number, number])[0] === ts) samples[i - 1] = [ts, v];
  else if (i === samples.length) samples.push([ts, v]);
  else samples.splice(i, 0, [ts, v]);
  return prune(samples, (samples[samples.length - 1] as [number, number])[0], overMs);
}

/** Drops, in place, samples outside the window (newest - over, newest] and beyond MAX_SAMPLES. */
function prune(window: [number, number][], newest: number, overMs: number): [number, number][] {
  const samples = Object.isFrozen(window) ? [...window] : window;
  let k = 0;
  while (k < samples.length && (samples[k] as [number, number])[0] <= newest - overMs) k++;
  k = Math.max(k, samples.length - MAX_SAMPLES);
  if (k > 0) samples.splice(0, k);
  return samples;
}

function aggregate(fn: 'avg' | 'min' | 'max' | 'sum' | 'count', samples: [number, number][]): number {
  const vs = samples.map((s) => s[1]);
  switch (fn) {
    case 'count':
      return vs.length;
    case 'sum':
      return vs.reduce((a, b) => a + b, 0);
    case 'avg':
      return vs.reduce((a, b) => a + b, 0) / vs.length;
    case 'min':
      return Math.min(...vs);
    case 'max':
      return Math.max(...vs);
  }
}

/** A window or rate condition judged on the samples it holds, as of `at`. */
function judgeWindow(c: Extract<Condition, { kind: 'window' | 'rate' }>, s: SeriesState, at: number) {
  const samples = s.samples;
  if (c.kind === 'window') {
    if (c.fn === 'count') {
      // Counting needs a whole window of watching first, else a young series looks silent.
      if (s.startedAt === null || at - s.startedAt < c.overMs) return undefined;
      return compared(c, samples.length, at);
    }
    if (samples.length < c.minSamples || samples.length === 0) return undefined;
    return compared(c, round(aggregate(c.fn, samples)), at);
  }
  if (samples.length < c.minSamples) return undefined;
  const [t0, v0] = samples[0] as [number, number];
  const [t1, v1] = samples[samples.length - 1] as [number, number];
  if (t1 === t0) return undefined;
  const delta = v1 - v0;
  return compared(c, round(c.measure === 'delta' ? delta : (delta / (t1 - t0)) * c.perMs), at);
}

const round = (v: number) => Math.round(v * 1e9) / 1e9;

/**
 * What a reading says, and the kind's memory after it. `undefined` observation: the reading says
 * nothing about the condition (the metric is absent, a window is still filling).
 */
function observeReading(
  c: Condition,
  s: SeriesState,
  input: Extract<EvalInput, { kind: 'reading' }>,
): [SeriesState, Observation | undefined] {
  const ts = input.ts;
  const late = s.lastTs !== null && ts < s.lastTs;
  switch (c.kind) {
    case 'threshold': {
      const v = numeric(input.fields[c.metric]);
      if (v === undefined || late) return [s, undefined];
      return [s, compared(c, v, ts)];
    }
    case 'window':
    case 'rate': {
      const raw = input.fields[c.metric];
      const v = c.kind === 'window' && c.fn === 'count' ? (raw === undefined ? undefined : 1) : numeric(raw);
      if (v === undefined) return [s, undefined];
      const newest = s.samples.length ? (s.samples[s.samples.length - 1] as [number, number])[0] : ts;
      if (ts <= newest - c.overMs) return [s, undefined]; // older than the window: nothing to change
      const next: SeriesState = {
        ...s,
        samples: addSample(s.samples, ts, v, c.overMs),
        startedAt: s.startedAt ?? ts,
      };
      // A late sample inside the window changes the aggregate as of the newest reading.
      const at = Math.max(ts, s.lastTs ?? ts);
      return [next, judgeWindow(c, next, at)];
    }
    case 'outlier': {
      const v = numeric(input.fields[c.metric]);
      if (v === undefined || late) return [s, undefined];
      if (c.method === 'ewma') {
        const e = s.ewma;
        let obs: Observation | undefined;
        if (e && e.n >= c.minSamples) obs = band(c, v, e.mean, Math.sqrt(e.variance), ts);
        let next: NonNullable<SeriesState['ewma']>;
        if (!e) next = { mean: v, variance: 0, n: 1 };
        else {
          const diff = v - e.mean;
          const incr = c.alpha * diff;
          next = { mean: e.mean + incr, variance: (1 - c.alpha) * (e.variance + diff * incr), n: e.n + 1 };
        }
        return [{ ...s, ewma: next }, obs];
      }
      const window = prune(s.samples, ts, c.overMs);
      let obs: Observation | undefined;
      if (window.length >= c.minSamples) {
        const vs = window.map((x) => x[1]);
        const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
        const sd = Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / (vs.length - 1));
        obs = band(c, v, mean, sd, ts);
      }
      return [{ ...s, samples: addSample(window, ts, v, c.overMs) }, obs];
    }
    case 'noData': {
      if (c.metric !== undefined && input.fields[c.metric] === undefined) return [s, undefined];
      // A backlog older than what was seen says nothing about the silence since.
      if (s.lastSeen !== null && ts <= s.lastSeen) return [s, undefined];
      const lastSeen = Math.max(s.lastSeen ?? ts, ts);
      // Data arrived: the silence is over (a backlog with old times counts only up to its times).
      return [
        { ...s, lastSeen },
        { holds: false, clears: true, value: 0, at: Math.max(ts, s.lastTs ?? ts) },
      ];
    }
    case 'errorCode': {
      if (input.errorCodes === undefined || late) return [s, undefined];
      const active = input.errorCodes.filter(
        (code) => c.codes.includes(code) || c.prefixes.some((p) => code.startsWith(p)) || code in c.table,
      );
      const entries = active.flatMap((code) => (c.table[code] ? [c.table[code] as CodeEntry] : []));
      const o: Observation = {
        holds: active.length > 0,
        clears: active.length === 0,
        value: active.join(','),
        at: ts,
      };
      const entry = entries.find((e) => e.severity === 'emergency') ?? entries[0];
      if (entry) {
        o.entry = entry;
        if (entry.severity) o.priority = entry.severity;
      }
      return [s, o];
    }
    case 'expr': {
      const values = { ...s.values };
      const wanted = new Set([...c.cel.variables, ...(c.clear?.variables ?? [])]);
      for (const [k, v] of Object.entries(input.fields)) {
        const prev = values[k];
        if (wanted.has(k) && (!prev || prev[0] <= ts)) values[k] = [ts, v];
      }
      const codes = input.errorCodes !== undefined && !late ? input.errorCodes : s.codes;
      const next = { ...s, values, codes };
      if (late) return [next, undefined];
      const ctx: Record<string, unknown> = { errorCodes: codes };
      if (input.device) ctx.device = input.device;
      for (const name of wanted) {
        const v = values[name];
        if (!v || ts - v[0] > c.maxAgeMs) return [next, undefined]; // a variable unknown or too old
        ctx[name] = v[1];
      }
      const r = c.cel.evaluate(ctx);
      if (typeof r !== 'boolean') return [{ ...next, error: r.error }, undefined];
      let clearsNow = !r;
      if (c.clear) {
        const cl = c.clear.evaluate(ctx);
        if (typeof cl !== 'boolean') return [{ ...next, error: cl.error }, undefined];
        clearsNow = cl;
      }
      return [
        { ...next, error: null },
        { holds: r, clears: clearsNow, value: r, at: ts },
      ];
    }
  }
}

function band(
  c: Extract<Condition, { kind: 'outlier' }>,
  v: number,
  mean: number,
  sd: number,
  at: number,
): Observation {
  const z = sd === 0 ? (v === mean ? 0 : v > mean ? Infinity : -Infinity) : (v - mean) / sd;
  const holds =
    c.direction === 'above' ? z > c.sigmas : c.direction === 'below' ? z < -c.sigmas : Math.abs(z) > c.sigmas;
  return { holds, clears: !holds, value: v, at };
}

function forMs(c: Condition): number {
  return c.kind === 'noData' ? 0 : c.forMs;
}

/**
 * The alert lifecycle, the same for every kind: inactive → pending (`for`) → firing → resolved,
 * with `keepFiringFor`, a cooldown before firing again, flapping, and severity that may rise.
 */
function advance(rule: Rule, s0: SeriesState, obs: Observation): [SeriesState, AlertEvent[]] {
  const at = obs.at;
  const s: SeriesState = { ...s0, holding: obs.holds, clearing: obs.clears };
  if (obs.holds || s0.state !== 'firing') s.value = obs.value;
  const fire = (when: number): [SeriesState, AlertEvent[]] => {
    const fires = [...s.fires.filter((t) => t > when - rule.flapping.withinMs), when];
    const flapping = fires.length >= rule.flapping.count;
    const priority = obs.priority && obs.priority !== rule.ticket.priority ? obs.priority : null;
    const e: AlertEvent = { type: 'firing', at: when, value: obs.value, flapping };
    if (priority) e.priority = priority;
    if (obs.entry) e.entry = obs.entry;
    return [
      {
        ...s,
        state: 'firing',
        since: s.since ?? when,
        firedAt: when,
        lastHeldAt: when,
        fires,
        flapping,
        priority,
        entry: obs.entry ?? null,
      },
      [e],
    ];
  };
  switch (s0.state) {
    case 'inactive': {
      if (!obs.holds) return [s, []];
      if (rule.cooldownMs > 0 && s.resolvedAt !== null && at < s.resolvedAt + rule.cooldownMs) return [s, []];
      if (forMs(rule.condition) > 0) {
        return [{ ...s, state: 'pending', since: at }, [{ type: 'pending', at, value: obs.value }]];
      }
      return fire(at);
    }
    case 'pending': {
      if (!obs.holds)
        return [{ ...s, state: 'inactive', since: null }, [{ type: 'inactive', at, value: obs.value }]];
      const since = s.since ?? at;
      if (at - since >= forMs(rule.condition)) return fire(at);
      return [s, []];
    }
    case 'firing': {
      if (obs.holds) {
        const next: SeriesState = { ...s, lastHeldAt: at };
        // Severity only rises within an episode: a general fault that became an emergency stays one.
        if (obs.priority === 'emergency' && (s.priority ?? rule.ticket.priority) !== 'emergency') {
          next.priority = 'emergency';
          return [next, [{ type: 'escalated', at, value: obs.value, priority: 'emergency' }]];
        }
        return [next, []];
      }
      if (!obs.clears) return [s, []];
      const keepUntil = (s.lastHeldAt ?? at) + rule.keepFiringForMs;
      if (rule.keepFiringForMs > 0 && at < keepUntil) return [s, []];
      return resolve(s, rule.keepFiringForMs > 0 ? Math.max(at, keepUntil) : at, obs.value);
    }
  }
}

function resolve(s: SeriesState, at: number, value: FieldValue | null): [SeriesState, AlertEvent[]] {
  return [
    { ...s, state: 'inactive', since: null, firedAt: null, resolvedAt: at, priority: null, entry: null },
    [{ type: 'resolved', at, value }],
  ];
}

/**
 * Evaluation: `(rule, state, input) -> [state, events]`. No clock, no I/O. One exception to purity,
 * for speed: the sample window of `state` is updated in place and shared with the returned state,
 * so a state must not be evaluated twice (the engine replaces it; keep a JSON copy to branch). Readings are judged
 * by their own timestamps: an older reading does not move an alert backwards, a late sample inside
 * a window still counts, and timers (ticks) act at the exact deadline they stand for.
 */
export function evaluate(rule: Rule, state: SeriesState, input: EvalInput): [SeriesState, AlertEvent[]] {
  const c = rule.condition;
  if (input.kind === 'tick') return tick(rule, state, input.now);
  const [s, obs] = observeReading(c, state, input);
  const lastTs = Math.max(state.lastTs ?? input.ts, input.ts);
  if (!obs) return [{ ...s, lastTs: c.kind === 'noData' ? state.lastTs : s.lastTs }, []];
  return advance(rule, { ...s, lastTs }, obs);
}

function tick(rule: Rule, s0: SeriesState, now: number): [SeriesState, AlertEvent[]] {
  const c = rule.condition;
  const s: SeriesState = { ...s0, checkedAt: Math.max(now, s0.checkedAt ?? now) };
  const f = forMs(c);
  // A pending alert whose `for` ran out while the condition still held fires at the deadline.
  if (s.state === 'pending' && s.holding && s.since !== null && now >= s.since + f) {
    return advance(rule, s, {
      holds: true,
      clears: false,
      value: s.value ?? 0,
      at: s.since + f,
      ...(s.priority ? { priority: s.priority } : {}),
    });
  }
  // keepFiringFor ran out without the condition holding again.
  if (
    s.state === 'firing' &&
    !s.holding &&
    s.clearing &&
    rule.keepFiringForMs > 0 &&
    s.lastHeldAt !== null &&
    now >= s.lastHeldAt + rule.keepFiringForMs
  ) {
    return resolve(s, s.lastHeldAt + rule.keepFiringForMs, s.value);
  }
  if (c.kind === 'noData' && s.lastSeen !== null && s.state !== 'firing') {
    const due = noDataDue(rule, c, s, s.lastSeen);
    if (now >= due) {
      // Fires at the exact deadline, even when the tick comes late (the gateway was down).
      return advance(rule, s, {
        holds: true,
        clears: false,
        value: Math.round((due - s.lastSeen) / 1000),
        at: due,
      });
    }
  }
  if ((c.kind === 'window' || c.kind === 'rate') && s.samples.length) {
    // Samples age out of the window as time passes: judge again without a new reading.
    const at = Math.max(now, s.lastTs ?? now);
    const samples = prune(s.samples, at, c.overMs);
    const next = { ...s, samples };
    const obs = judgeWindow(c, next, at);
    if (obs && (obs.holds !== s.holding || obs.clears !== s.clearing)) return advance(rule, next, obs);
    return [next, []];
  }
  return [s, []];
}

/** When silence since `lastSeen` fires a noData alert: after `for`, and not within a cooldown. */
function noDataDue(
  rule: Rule,
  c: Extract<Condition, { kind: 'noData' }>,
  s: SeriesState,
  lastSeen: number,
): number {
  const due = lastSeen + c.forMs;
  return s.resolvedAt !== null && rule.cooldownMs > 0 ? Math.max(due, s.resolvedAt + rule.cooldownMs) : due;
}

/** When a tick could change this state, or `undefined`. */
export function nextTickAt(rule: Rule, s: SeriesState): number | undefined {
  const c = rule.condition;
  const times: number[] = [];
  if (s.state === 'pending' && s.holding && s.since !== null) times.push(s.since + forMs(c));
  if (s.state === 'firing' && !s.holding && s.clearing && rule.keepFiringForMs > 0 && s.lastHeldAt !== null)
    times.push(s.lastHeldAt + rule.keepFiringForMs);
  if (c.kind === 'noData' && s.lastSeen !== null && s.state !== 'firing')
    times.push(noDataDue(rule, c, s, s.lastSeen));
  if ((c.kind === 'window' || c.kind === 'rate') && s.samples.length) {
    times.push((s.samples[0] as [number, number])[0] + c.overMs + 1);
    if (c.kind === 'window' && c.fn === 'count' && s.startedAt !== null) times.push(s.startedAt + c.overMs);
  }
  // A deadline a tick has already judged is not armed again: time alone changes nothing there.
  const open = times.filter((t) => s.checkedAt === null || t > s.checkedAt);
  return open.length ? Math.min(...open) : undefined;
}
