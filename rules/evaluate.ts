import type { FieldValue } from '../ingest/point.js';
import type { CodeEntry, Comparison, Condition, Rule } from './schema.js';

type Priority = 'emergency' | 'general';

/**
 * Evaluation state of one rule for one series (device). Plain data: persisted as JSON.
 *
 * Times are numbers, `NaN` when there is none (`hasTime`; JSON saves NaN as null, and `newState`
 * reads null back as NaN), and the driving value is split into a number and anything else: a
 * field that only ever holds numbers is stored unboxed and written in place, where a field that
 * may hold null gets a new heap number on every write. Written on every reading of 100,000
 * series, those boxes lived until the device's next reading, were promoted to the old
 * generation and were most of what the ingest thread's major collections reclaimed (issue 19).
 */
export interface SeriesState {
  state: 'inactive' | 'pending' | 'firing';
  /** When the condition started to hold (pending) — the reading's time. */
  since: number;
  firedAt: number;
  /** Time of the newest reading evaluated; older readings do not move the alert backwards. */
  lastTs: number;
  /**
   * The value that drives the alert (the metric value, an aggregate) when it is a number, else NaN;
   * `otherValue` holds it when it is not (matching codes, an expression's result). `drivingValue` reads
   * either.
   */
  value: number;
  otherValue: string | boolean | null;
  /** Whether the newest observation met the condition, and whether it was past the clear level. */
  holding: boolean;
  clearing: boolean;
  /** Last time the condition held while firing (for keepFiringFor). */
  lastHeldAt: number;
  resolvedAt: number;
  /** Times it fired within the flapping window, and whether that makes it flapping. */
  fires: number[];
  flapping: boolean;
  /** The priority of the current episode when it differs from the rule's (raised, or from a code table). */
  priority: Priority | null;
  /** The code-table entry that matched (errorCode rules). */
  entry: CodeEntry | null;
  /**
   * window, rate, zscore outliers: the samples in the window, ordered by time, flat —
   * `[ts0, value0, ts1, value1, …]` (a third of the memory of pairs; see `samplePairs`). Live, the
   * array is a buffer whose samples are those from `sampleStart` to `sampleEnd` (saved: just those):
   * a window slides by a reading at one end and one at the other, and trimming the array's front
   * on every reading shrank its room, so that every few dozen readings it was copied into a new
   * one (a third of what the rules promoted to the old generation, issue 19).
   */
  samples: number[];
  sampleStart: number;
  sampleEnd: number;
  /** When the series started (window warm-up for `count`). */
  startedAt: number;
  /** ewma outliers. */
  ewma: { mean: number; variance: number; n: number } | null;
  /** noData: time of the newest reading. */
  lastSeen: number;
  /** expr: newest value of each variable, with its time; and the newest error codes. */
  values: Record<string, ExprValue>;
  codes: string[];
  /** The last evaluation error (an expression that could not be evaluated), for the alert. */
  error: string | null;
  /** The time of the last tick: deadlines at or before it were judged already (no timer loops). */
  checkedAt: number;
}

/** Whether a time of a state is set (not NaN). */
export function hasTime(t: number): boolean {
  return !Number.isNaN(t);
}

/** `t`, or `otherwise` when it is not set. */
function timeOr(t: number, otherwise: number): number {
  return Number.isNaN(t) ? otherwise : t;
}

/** The value that drives the alert, whichever its type; null when there is none. */
export function drivingValue(s: Pick<SeriesState, 'value' | 'otherValue'>): FieldValue | null {
  return Number.isNaN(s.value) ? s.otherValue : s.value;
}

function setValue(s: SeriesState, v: FieldValue | null): void {
  if (typeof v === 'number') {
    s.value = v;
    s.otherValue = null;
  } else {
    s.value = NaN;
    s.otherValue = v;
  }
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

/**
 * The empty containers every state starts with, shared: most rules never fill them (only windows
 * keep samples, only expressions values), and four empty containers per series were 15 MB of a
 * 100,000-series fleet (issue 19: steady memory). Frozen; replaced by an own one before the
 * first write (`ownSamples`, `ownValues`); `fires` and `codes` are only ever replaced.
 */
const NO_NUMBERS = Object.freeze([]) as unknown as number[];
const NO_CODES = Object.freeze([]) as unknown as string[];
const NO_VALUES = Object.freeze({}) as Record<string, ExprValue>;

/** The series' own samples buffer, made on first use. */
function ownSamples(s: SeriesState): number[] {
  if (s.samples === NO_NUMBERS) s.samples = [];
  return s.samples;
}

/** Moves the live samples to the front of the buffer; returns how many numbers they are. */
function liveToFront(s: SeriesState): number {
  const b = s.samples;
  const start = s.sampleStart;
  const live = s.sampleEnd - start;
  // A loop, not copyWithin: V8's copyWithin boxed every double it moved.
  if (start > 0) for (let j = 0; j < live; j++) b[j] = b[start + j] as number;
  s.sampleStart = 0;
  s.sampleEnd = live;
  return live;
}

/** Moves the live samples to the front of the buffer and cuts it to them. */
function compactSamples(s: SeriesState): void {
  if (s.sampleStart === 0 && s.sampleEnd === s.samples.length) return;
  s.samples.length = liveToFront(s);
}

/** How many samples a state holds. */
export function sampleCount(s: SeriesState): number {
  return (s.sampleEnd - s.sampleStart) / 2;
}

/**
 * An expression variable's newest value and its time; saved as `[ts, value]`. An object, not that
 * pair: a pair holding a boolean stored its time as a new heap number on every reading (issue 19).
 */
export class ExprValue {
  constructor(
    public ts: number,
    public value: FieldValue,
  ) {}

  toJSON(): [number, FieldValue] {
    return [this.ts, this.value];
  }
}

/** The series' own expression values, made on first use. */
function ownValues(s: SeriesState): Record<string, ExprValue> {
  if (s.values === NO_VALUES) s.values = {};
  return s.values;
}

/**
 * A state as saved (JSON: times null when unset) or written by an older version (`value` of any
 * type, no `otherValue`, samples as pairs), or made by hand: what `newState` takes.
 */
export type SavedState = Omit<
  { [K in keyof SeriesState]?: SeriesState[K] extends number ? number | null : SeriesState[K] },
  'value' | 'values'
> & {
  value?: FieldValue | null;
  /** Saved as `[ts, value]` pairs; live, `ExprValue`s. */
  values?: Record<string, [number, FieldValue] | ExprValue>;
};

const TIME_FIELDS = [
  'since',
  'firedAt',
  'lastTs',
  'lastHeldAt',
  'resolvedAt',
  'startedAt',
  'lastSeen',
  'checkedAt',
] as const;

/**
 * Made `null` by the field initialiser, then NaN by the constructor: V8 then keeps the field as a
 * pointer (to the one shared NaN until set) instead of a number box of its own per state. For the
 * times set on an alert's transitions only; a write then makes one heap number.
 */
const RARELY_SET = null as unknown as number;

/**
 * The live state: one class, so that every series' state has the same shape with all its fields
 * in the object (a literal spread from a template kept 21 fields in a property array beside it:
 * 150 bytes more per series). The times written on every reading or check (`lastTs`, `lastSeen`,
 * `checkedAt`) and the driving value start as numbers, so that V8 writes them in place; the five
 * written on transitions only start as RARELY_SET (issue 19: nine boxes per state were 810,000 of
 * the 2.2 million objects each full GC of a 10k-device gateway marked, and 13 MB).
 */
class LiveState implements SeriesState {
  state: SeriesState['state'] = 'inactive';
  since = RARELY_SET;
  firedAt = RARELY_SET;
  lastTs = NaN;
  value = NaN;
  otherValue: string | boolean | null = null;
  holding = false;
  clearing = true;
  lastHeldAt = RARELY_SET;
  resolvedAt = RARELY_SET;
  fires: number[] = NO_NUMBERS;
  flapping = false;
  priority: Priority | null = null;
  entry: CodeEntry | null = null;
  samples: number[] = NO_NUMBERS;
  declare sampleStart: number;
  declare sampleEnd: number;
  startedAt = RARELY_SET;
  ewma: { mean: number; variance: number; n: number } | null = null;
  lastSeen = NaN;
  values: Record<string, ExprValue> = NO_VALUES;
  codes: string[] = NO_CODES;
  error: string | null = null;
  checkedAt = NaN;
  /** Running aggregates of the window's values (not saved: rebuilt from the samples). */
  declare running: Running | null;

  constructor() {
    this.since = this.firedAt = this.lastHeldAt = this.resolvedAt = this.startedAt = NaN;
    // Bookkeeping, not state: not enumerable, so neither saved nor copied by a spread.
    Object.defineProperty(this, 'sampleStart', { value: 0, writable: true, enumerable: false });
    Object.defineProperty(this, 'sampleEnd', { value: 0, writable: true, enumerable: false });
    Object.defineProperty(this, 'running', { value: null, writable: true, enumerable: false });
  }

  /**
   * What is saved: the state itself, its samples buffer first cut down to the live samples (no
   * copy made per save: a copy of every state at each checkpoint was the largest thing the
   * gateway promoted to the old generation). The buffer grows again with the next readings.
   */
  toJSON(): this {
    compactSamples(this);
    return this;
  }
}

/** The state of a series that has seen nothing. Frozen: `evaluate` works on a copy of it. */
export const INITIAL_STATE: Readonly<SeriesState> = Object.freeze(new LiveState());

/**
 * A state of its own (nothing written to is shared with INITIAL_STATE or another state; empty
 * containers are the shared frozen ones), from a saved one, one of an older version, or none.
 */
export function newState(from: SavedState = {}): SeriesState {
  const s = new LiveState();
  if (from.state) s.state = from.state;
  for (const k of TIME_FIELDS) {
    const t = from[k];
    if (typeof t === 'number') s[k] = t;
  }
  // Before the split, `value` held any type.
  setValue(s, from.value === undefined || from.value === null ? (from.otherValue ?? null) : from.value);
  if (from.holding !== undefined) s.holding = from.holding;
  if (from.clearing !== undefined) s.clearing = from.clearing;
  if (from.fires?.length) s.fires = [...from.fires];
  if (from.flapping !== undefined) s.flapping = from.flapping;
  s.priority = from.priority ?? null;
  s.entry = from.entry ?? null;
  // Saved before samples were flat: [[ts, value], …].
  if (from.samples?.length) {
    // A live state (a copy to branch from) holds its samples in a part of its buffer; a saved one
    // holds just them (bounds in it are not ours: ignored).
    const live =
      from instanceof LiveState ? from.samples.slice(from.sampleStart, from.sampleEnd) : from.samples;
    s.samples = (live as unknown[]).flat() as number[];
    s.sampleEnd = s.samples.length;
  }
  s.ewma = from.ewma ? { ...from.ewma } : null;
  // Copied: evaluation updates them in place. Saved as pairs.
  const values = Object.entries(from.values ?? {});
  if (values.length)
    s.values = Object.fromEntries(
      values.map(([k, v]) => [
        k,
        Array.isArray(v) ? new ExprValue(v[0], v[1]) : new ExprValue(v.ts, v.value),
      ]),
    );
  if (from.codes?.length) s.codes = [...from.codes];
  s.error = from.error ?? null;
  return s;
}

/** The samples as `[ts, value]` pairs (tests, diagnostics). */
export function samplePairs(s: SeriesState): [number, number][] {
  const out: [number, number][] = [];
  for (let i = s.sampleStart; i + 1 < s.sampleEnd; i += 2)
    out.push([s.samples[i] as number, s.samples[i + 1] as number]);
  return out;
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
 * Running aggregates of a window's values, kept beside the samples (not saved: rebuilt from them in
 * one pass when missing or stale). A window of a fast metric holds hundreds of samples; scanning
 * them on every reading was most of the cost of evaluating a window rule.
 */
interface Running {
  sum: number;
  min: number;
  max: number;
  /** Additions and removals since the last full pass (bounds floating-point drift of `sum`). */
  ops: number;
  stale: boolean;
}

function added(s: SeriesState, v: number): void {
  const r = (s as LiveState).running;
  if (!r || r.stale) return;
  r.sum += v;
  if (v < r.min) r.min = v;
  if (v > r.max) r.max = v;
  r.ops++;
}

function removed(s: SeriesState, v: number): void {
  const r = (s as LiveState).running;
  if (!r || r.stale) return;
  r.sum -= v;
  // The extreme left: the next question scans again (rare for values that move about).
  if (v <= r.min || v >= r.max || ++r.ops > sampleCount(s) + 64) r.stale = true;
}

/**
 * Makes room for one more sample at the end of the buffer: the live samples move to its front when
 * it is full and they do not start there; it grows only when they fill it. A buffer mostly empty
 * (a window that held far more once) is cut down.
 */
function roomAtEnd(s: SeriesState): void {
  const b = ownSamples(s);
  if (s.sampleEnd + 2 <= b.length) return;
  const start = s.sampleStart;
  if (start === 0) {
    b.push(0, 0);
    return;
  }
  const live = liveToFront(s);
  if (b.length > 256 && live * 4 < b.length) b.length = live * 2;
}

/**
 * Inserts a sample in time order (a duplicate time replaces) and drops what left the window — in
 * place: copying a window of a fast metric on every reading cost more than the evaluation.
 */
function addSample(s: SeriesState, ts: number, v: number, overMs: number): void {
  const start = s.sampleStart;
  let i = s.sampleEnd;
  while (i > start && (s.samples[i - 2] as number) > ts) i -= 2;
  if (i > start && s.samples[i - 2] === ts) {
    removed(s, s.samples[i - 1] as number);
    s.samples[i - 1] = v;
  } else {
    const fromEnd = s.sampleEnd - i;
    roomAtEnd(s);
    const b = s.samples;
    const end = s.sampleEnd;
    // Where the sample goes once the buffer was made room in (its samples may have moved).
    i = end - fromEnd;
    for (let j = end + 1; j >= i + 2; j--) b[j] = b[j - 2] as number; // a late sample: the newer ones move up
    b[i] = ts;
    b[i + 1] = v;
    s.sampleEnd = end + 2;
  }
  added(s, v);
  prune(s, s.samples[s.sampleEnd - 2] as number, overMs);
}

/** Drops, in place, samples outside the window (newest - over, newest] and beyond MAX_SAMPLES. */
function prune(s: SeriesState, newest: number, overMs: number): void {
  const b = s.samples;
  const start = s.sampleStart;
  const end = s.sampleEnd;
  let k = start;
  while (k < end && (b[k] as number) <= newest - overMs) k += 2;
  k = Math.max(k, end - 2 * MAX_SAMPLES);
  if (k === start) return;
  for (let j = start + 1; j < k; j += 2) removed(s, b[j] as number);
  // Emptied: the next sample starts at the front again.
  if (k === end) s.sampleStart = s.sampleEnd = 0;
  else s.sampleStart = k;
}

/** An aggregate over a non-empty window: from the running figures, or one pass that renews them. */
function aggregate(fn: 'avg' | 'min' | 'max' | 'sum', s: SeriesState): number {
  const live = s as LiveState;
  let r = live.running;
  if (!r || r.stale) {
    // Renewed in place: a new object each time lived as long as the series (issue 19).
    r ??= live.running = { sum: 0, min: Infinity, max: -Infinity, ops: 0, stale: false };
    r.sum = 0;
    r.min = Infinity;
    r.max = -Infinity;
    r.ops = 0;
    r.stale = false;
    for (let j = s.sampleStart + 1; j < s.sampleEnd; j += 2) {
      const v = s.samples[j] as number;
      r.sum += v;
      if (v < r.min) r.min = v;
      if (v > r.max) r.max = v;
    }
  }
  switch (fn) {
    case 'sum':
      return r.sum;
    case 'avg':
      return r.sum / sampleCount(s);
    case 'min':
      return r.min;
    case 'max':
      return r.max;
  }
}

/** A window or rate condition judged on the samples it holds, as of `at`. */
function judgeWindow(c: Extract<Condition, { kind: 'window' | 'rate' }>, s: SeriesState, at: number) {
  const samples = s.samples;
  const n = sampleCount(s);
  if (c.kind === 'window') {
    if (c.fn === 'count') {
      // Counting needs a whole window of watching first, else a young series looks silent.
      if (!hasTime(s.startedAt) || at - s.startedAt < c.overMs) return undefined;
      return compared(c, n, at);
    }
    if (n < c.minSamples || n === 0) return undefined;
    return compared(c, round(aggregate(c.fn, s)), at);
  }
  if (n < c.minSamples) return undefined;
  const t0 = samples[s.sampleStart] as number;
  const v0 = samples[s.sampleStart + 1] as number;
  const t1 = samples[s.sampleEnd - 2] as number;
  const v1 = samples[s.sampleEnd - 1] as number;
  if (t1 === t0) return undefined;
  const delta = v1 - v0;
  return compared(c, round(c.measure === 'delta' ? delta : (delta / (t1 - t0)) * c.perMs), at);
}

const round = (v: number) => Math.round(v * 1e9) / 1e9;

/** The variables an expression (and its clear expression) reads, once per condition. */
const wantedOf = new WeakMap<Condition, readonly string[]>();
function wanted(c: Extract<Condition, { kind: 'expr' }>): readonly string[] {
  let w = wantedOf.get(c);
  if (!w) {
    w = [...new Set([...c.cel.variables, ...(c.clear?.variables ?? [])])];
    wantedOf.set(c, w);
  }
  return w;
}

/**
 * What a reading says, updating the kind's memory in `s`. `undefined`: the reading says nothing
 * about the condition (the metric is absent, a window is still filling).
 */
function observeReading(
  c: Condition,
  s: SeriesState,
  input: Extract<EvalInput, { kind: 'reading' }>,
): Observation | undefined {
  const ts = input.ts;
  const late = hasTime(s.lastTs) && ts < s.lastTs;
  switch (c.kind) {
    case 'threshold': {
      const v = numeric(input.fields[c.metric]);
      if (v === undefined || late) return undefined;
      return compared(c, v, ts);
    }
    case 'window':
    case 'rate': {
      const raw = input.fields[c.metric];
      const v = c.kind === 'window' && c.fn === 'count' ? (raw === undefined ? undefined : 1) : numeric(raw);
      if (v === undefined) return undefined;
      const newest = s.sampleEnd > s.sampleStart ? (s.samples[s.sampleEnd - 2] as number) : ts;
      if (ts <= newest - c.overMs) return undefined; // older than the window: nothing to change
      addSample(s, ts, v, c.overMs);
      if (!hasTime(s.startedAt)) s.startedAt = ts;
      // A late sample inside the window changes the aggregate as of the newest reading.
      return judgeWindow(c, s, Math.max(ts, timeOr(s.lastTs, ts)));
    }
    case 'outlier': {
      const v = numeric(input.fields[c.metric]);
      if (v === undefined || late) return undefined;
      if (c.method === 'ewma') {
        const e = s.ewma;
        let obs: Observation | undefined;
        if (e && e.n >= c.minSamples) obs = band(c, v, e.mean, Math.sqrt(e.variance), ts);
        if (!e) s.ewma = { mean: v, variance: 0, n: 1 };
        else {
          const diff = v - e.mean;
          const incr = c.alpha * diff;
          e.mean += incr;
          e.variance = (1 - c.alpha) * (e.variance + diff * incr);
          e.n++;
        }
        return obs;
      }
      prune(s, ts, c.overMs);
      const n = sampleCount(s);
      let obs: Observation | undefined;
      if (n >= c.minSamples) {
        const window = s.samples;
        let sum = 0;
        for (let j = s.sampleStart + 1; j < s.sampleEnd; j += 2) sum += window[j] as number;
        const mean = sum / n;
        let sq = 0;
        for (let j = s.sampleStart + 1; j < s.sampleEnd; j += 2) sq += ((window[j] as number) - mean) ** 2;
        obs = band(c, v, mean, Math.sqrt(sq / (n - 1)), ts);
      }
      addSample(s, ts, v, c.overMs);
      return obs;
    }
    case 'noData': {
      if (c.metric !== undefined && input.fields[c.metric] === undefined) return undefined;
      // A backlog older than what was seen says nothing about the silence since.
      if (hasTime(s.lastSeen) && ts <= s.lastSeen) return undefined;
      // Data arrived: the silence is over (a backlog with old times counts only up to its times).
      s.lastSeen = Math.max(timeOr(s.lastSeen, ts), ts);
      return { holds: false, clears: true, value: 0, at: Math.max(ts, timeOr(s.lastTs, ts)) };
    }
    case 'errorCode': {
      if (input.errorCodes === undefined || late) return undefined;
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
      return o;
    }
    case 'expr': {
      const names = wanted(c);
      for (const k of names) {
        const v = input.fields[k];
        const prev = s.values[k];
        if (v === undefined) continue;
        // In place: nothing made per variable and reading.
        if (!prev) ownValues(s)[k] = new ExprValue(ts, v);
        else if (prev.ts <= ts) {
          prev.ts = ts;
          prev.value = v;
        }
      }
      if (input.errorCodes !== undefined && !late) s.codes = input.errorCodes;
      if (late) return undefined;
      const ctx: Record<string, unknown> = { errorCodes: s.codes };
      if (input.device) ctx.device = input.device;
      for (const name of names) {
        const v = s.values[name];
        if (!v || ts - v.ts > c.maxAgeMs) return undefined; // a variable unknown or too old
        ctx[name] = v.value;
      }
      const r = c.cel.evaluate(ctx);
      if (typeof r !== 'boolean') {
        s.error = r.error;
        return undefined;
      }
      let clearsNow = !r;
      if (c.clear) {
        const cl = c.clear.evaluate(ctx);
        if (typeof cl !== 'boolean') {
          s.error = cl.error;
          return undefined;
        }
        clearsNow = cl;
      }
      s.error = null;
      return { holds: r, clears: clearsNow, value: r, at: ts };
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

/** No events: shared, never appended to. */
const NONE: AlertEvent[] = Object.freeze([]) as unknown as AlertEvent[];

/**
 * The alert lifecycle, the same for every kind: inactive → pending (`for`) → firing → resolved,
 * with `keepFiringFor`, a cooldown before firing again, flapping, and severity that may rise.
 * Updates `s` in place; returns the events.
 */
function advance(rule: Rule, s: SeriesState, obs: Observation): AlertEvent[] {
  const at = obs.at;
  if (obs.holds || s.state !== 'firing') setValue(s, obs.value);
  s.holding = obs.holds;
  s.clearing = obs.clears;
  switch (s.state) {
    case 'inactive': {
      if (!obs.holds) return NONE;
      if (rule.cooldownMs > 0 && hasTime(s.resolvedAt) && at < s.resolvedAt + rule.cooldownMs) return NONE;
      if (forMs(rule.condition) > 0) {
        s.state = 'pending';
        s.since = at;
        return [{ type: 'pending', at, value: obs.value }];
      }
      return fire(rule, s, obs, at);
    }
    case 'pending': {
      if (!obs.holds) {
        s.state = 'inactive';
        s.since = NaN;
        return [{ type: 'inactive', at, value: obs.value }];
      }
      const since = timeOr(s.since, at);
      if (at - since >= forMs(rule.condition)) return fire(rule, s, obs, at);
      return NONE;
    }
    case 'firing': {
      if (obs.holds) {
        s.lastHeldAt = at;
        // Severity only rises within an episode: a general fault that became an emergency stays one.
        if (obs.priority === 'emergency' && (s.priority ?? rule.ticket.priority) !== 'emergency') {
          s.priority = 'emergency';
          return [{ type: 'escalated', at, value: obs.value, priority: 'emergency' }];
        }
        return NONE;
      }
      if (!obs.clears) return NONE;
      const keepUntil = timeOr(s.lastHeldAt, at) + rule.keepFiringForMs;
      if (rule.keepFiringForMs > 0 && at < keepUntil) return NONE;
      return resolve(s, rule.keepFiringForMs > 0 ? Math.max(at, keepUntil) : at, obs.value);
    }
  }
}

/**
 * The fire times that decide flapping once the alert fires at `when`: the newest `count` within
 * the window, `when` last. Only whether `count` fires fall within the window matters, so no more
 * are kept: keeping every fire of the window (1 h by default) let a flapping series hold and
 * filter thousands of times on each fire, and save them all at each checkpoint (issue 19).
 * Times are in the order the alert fired; an older `when` (a late reading) keeps its place last.
 */
export function recentFires(
  fires: readonly number[],
  when: number,
  flapping: { count: number; withinMs: number },
): number[] {
  const after = when - flapping.withinMs;
  let from = fires.length;
  while (from > 0 && fires.length - from < flapping.count - 1 && (fires[from - 1] as number) > after) from--;
  const out = fires.slice(from);
  out.push(when);
  return out;
}

/** The alert fires at `when` (a module function, not a closure made on every observation). */
function fire(rule: Rule, s: SeriesState, obs: Observation, when: number): AlertEvent[] {
  const fires = recentFires(s.fires, when, rule.flapping);
  const flapping = fires.length >= rule.flapping.count;
  const priority = obs.priority && obs.priority !== rule.ticket.priority ? obs.priority : null;
  const e: AlertEvent = { type: 'firing', at: when, value: obs.value, flapping };
  if (priority) e.priority = priority;
  if (obs.entry) e.entry = obs.entry;
  s.state = 'firing';
  if (!hasTime(s.since)) s.since = when;
  s.firedAt = when;
  s.lastHeldAt = when;
  s.fires = fires;
  s.flapping = flapping;
  s.priority = priority;
  s.entry = obs.entry ?? null;
  return [e];
}

function resolve(s: SeriesState, at: number, value: FieldValue | null): AlertEvent[] {
  s.state = 'inactive';
  s.since = NaN;
  s.firedAt = NaN;
  s.resolvedAt = at;
  s.priority = null;
  s.entry = null;
  return [{ type: 'resolved', at, value }];
}

/**
 * Evaluation: `(rule, state, input) -> [state, events]`. No clock, no I/O. For speed — it runs for
 * every rule on every reading — the state is updated in place and returned (a frozen state such as
 * INITIAL_STATE is copied first, and so is a state as saved — `JSON.parse` of one); keep a copy
 * (`newState`) to branch. Readings are judged by their
 * own timestamps: an older reading does not move an alert backwards, a late sample inside a window
 * still counts, and timers (ticks) act at the exact deadline they stand for.
 */
export function evaluate(
  rule: Rule,
  state: SeriesState | SavedState,
  input: EvalInput,
): [SeriesState, AlertEvent[]] {
  const s = state instanceof LiveState && !Object.isFrozen(state) ? state : newState(state);
  return [s, evaluateInPlace(rule, s, input)];
}

/**
 * `evaluate` on a state that is not frozen, returning only the events (the rule engine's path: no
 * tuple per evaluation). The events array is shared and empty when nothing happened.
 */
export function evaluateInPlace(rule: Rule, s: SeriesState, input: EvalInput): AlertEvent[] {
  if (input.kind === 'tick') return tick(rule, s, input.now);
  const lastTs = s.lastTs;
  const obs = observeReading(rule.condition, s, input);
  if (!obs) return NONE;
  s.lastTs = Math.max(timeOr(lastTs, input.ts), input.ts);
  return advance(rule, s, obs);
}

function tick(rule: Rule, s: SeriesState, now: number): AlertEvent[] {
  const c = rule.condition;
  s.checkedAt = Math.max(now, timeOr(s.checkedAt, now));
  const f = forMs(c);
  // A pending alert whose `for` ran out while the condition still held fires at the deadline.
  if (s.state === 'pending' && s.holding && hasTime(s.since) && now >= s.since + f) {
    return advance(rule, s, {
      holds: true,
      clears: false,
      value: drivingValue(s) ?? 0,
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
    hasTime(s.lastHeldAt) &&
    now >= s.lastHeldAt + rule.keepFiringForMs
  ) {
    return resolve(s, s.lastHeldAt + rule.keepFiringForMs, drivingValue(s));
  }
  if (c.kind === 'noData' && hasTime(s.lastSeen) && s.state !== 'firing') {
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
  if ((c.kind === 'window' || c.kind === 'rate') && s.sampleEnd > s.sampleStart) {
    // Samples age out of the window as time passes: judge again without a new reading.
    const at = Math.max(now, timeOr(s.lastTs, now));
    prune(s, at, c.overMs);
    const obs = judgeWindow(c, s, at);
    if (obs && (obs.holds !== s.holding || obs.clears !== s.clearing)) return advance(rule, s, obs);
  }
  return NONE;
}

/** When silence since `lastSeen` fires a noData alert: after `for`, and not within a cooldown. */
function noDataDue(
  rule: Rule,
  c: Extract<Condition, { kind: 'noData' }>,
  s: SeriesState,
  lastSeen: number,
): number {
  const due = lastSeen + c.forMs;
  return hasTime(s.resolvedAt) && rule.cooldownMs > 0 ? Math.max(due, s.resolvedAt + rule.cooldownMs) : due;
}

/**
 * When a tick could change this state, or `undefined`. `queuedAt`: a deadline the caller holds
 * already; a window's deadline at or after it is not worth asking whether it is moot (the answer
 * cannot make the caller act), which spares a pass over the samples on every reading.
 */
export function nextTickAt(rule: Rule, s: SeriesState, queuedAt = Infinity): number | undefined {
  const c = rule.condition;
  // No closure here: this runs after every evaluation of every rule (issue 19).
  let next = Infinity;
  if (s.state === 'pending' && s.holding && hasTime(s.since)) next = sooner(s, next, s.since + forMs(c));
  if (s.state === 'firing' && !s.holding && s.clearing && rule.keepFiringForMs > 0 && hasTime(s.lastHeldAt))
    next = sooner(s, next, s.lastHeldAt + rule.keepFiringForMs);
  if (c.kind === 'noData' && hasTime(s.lastSeen) && s.state !== 'firing')
    next = sooner(s, next, noDataDue(rule, c, s, s.lastSeen));
  if ((c.kind === 'window' || c.kind === 'rate') && s.sampleEnd > s.sampleStart) {
    const leaves = (s.samples[s.sampleStart] as number) + c.overMs + 1;
    if (leaves >= queuedAt || !leavingIsMoot(c, s)) next = sooner(s, next, leaves);
    if (c.kind === 'window' && c.fn === 'count' && hasTime(s.startedAt))
      next = sooner(s, next, s.startedAt + c.overMs);
  }
  return next === Infinity ? undefined : next;
}

/**
 * Whether samples leaving the window, with no reading, cannot change the alert: it is inactive and
 * not holding, and no window that can remain as its samples leave, oldest first, meets the
 * comparison. Then the series waits for its next reading instead of being woken each time its
 * oldest sample leaves (issue 19: in the bench fleet, the queue's pops and re-queues of such
 * series were a fifth of the engine's time). Its samples are then pruned by that reading rather
 * than by the ticks.
 */
function leavingIsMoot(c: Extract<Condition, { kind: 'window' | 'rate' }>, s: SeriesState): boolean {
  if (s.state !== 'inactive' || s.holding) return false;
  if (c.kind === 'window') {
    if (c.fn === 'count') return false; // fewer samples is what `count below` waits for
    // An average, minimum or maximum of what remains lies between the minimum and maximum now.
    const r = (s as LiveState).running;
    if (c.fn !== 'sum' && r && !r.stale && !canMeet(c.cmp, round(r.min), round(r.max))) return true;
  }
  return !aRemainderMeets(c, s);
}

/**
 * Whether the window judged on what remains once one or more of its oldest samples left meets
 * the comparison for some remainder — one pass from the newest sample back. A margin keeps a
 * value that rounding may put on either side of a level from counting as moot.
 */
function aRemainderMeets(c: Extract<Condition, { kind: 'window' | 'rate' }>, s: SeriesState): boolean {
  const b = s.samples;
  const tLast = b[s.sampleEnd - 2] as number;
  const vLast = b[s.sampleEnd - 1] as number;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let n = 0;
  for (let k = s.sampleEnd - 2; k >= s.sampleStart + 2; k -= 2) {
    const t = b[k] as number;
    const v = b[k + 1] as number;
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (n < c.minSamples) continue;
    let x: number;
    if (c.kind === 'rate') {
      if (t === tLast) continue;
      x = c.measure === 'delta' ? vLast - v : ((vLast - v) / (tLast - t)) * c.perMs;
    } else x = c.fn === 'avg' ? sum / n : c.fn === 'sum' ? sum : c.fn === 'min' ? min : max;
    const margin = 1e-6 * Math.max(1, Math.abs(x));
    if (compare(c.cmp, x + margin) || compare(c.cmp, x - margin)) return true;
  }
  return false;
}

/** Whether some value in [lo, hi] meets the comparison (`lo` ≤ `hi`). */
function canMeet(c: Comparison, lo: number, hi: number): boolean {
  // Either end does, or the range holds the whole of an `inside` band.
  return compare(c, lo) || compare(c, hi) || (c.op === 'inside' && lo <= c.low && hi >= c.high);
}

/** `t` if it is sooner than `next` and not a deadline a tick already judged (time alone changes nothing there). */
function sooner(s: SeriesState, next: number, t: number): number {
  return (!hasTime(s.checkedAt) || t > s.checkedAt) && t < next ? t : next;
}
