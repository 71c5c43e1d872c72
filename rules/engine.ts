import { createHash } from 'node:crypto';
import FlatQueue from 'flatqueue';
import picomatch from 'picomatch';
import type { Device } from '../ingest/devices.js';
import type { FieldValue, Point } from '../ingest/point.js';
import {
  type AlertEvent,
  type DeviceFacts,
  type EvalInput,
  evaluateInPlace,
  INITIAL_STATE,
  newState,
  nextTickAt,
  type SeriesState,
  sampleCount,
} from './evaluate.js';
import { compileMatcher, type DeviceMatcher } from './match.js';
import { metricsOf, type Rule } from './schema.js';
import type { SavedSeries } from './store.js';

/** A transition of one alert (one rule for one device), as the engine reports it. */
export interface AlertTransition {
  alertId: string;
  rule: Rule;
  device: Device;
  event: AlertEvent;
}

export type TransitionListener = (t: AlertTransition) => void;

/** Timers, injected so that tests step time instead of sleeping. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's setTimeout fires at once past 2^31-1 ms (~24.8 days); longer waits are re-armed. */
export const MAX_TIMER_MS = 2_147_483_647;

export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Compiled {
  rule: Rule;
  matches: DeviceMatcher;
  /** A hash of the condition and lifecycle: saved state is kept only for the same definition. */
  fingerprint: string;
}

/**
 * One rule's series on one device. A class with every field set in the constructor, numbers as
 * numbers: the deadline and the save time are written on most evaluations, and optional fields
 * added later lived in a property array with a new heap number on each write (issue 19).
 */
class Series {
  /** The deadline this series waits for in the engine's queue (Infinity: it waits for readings). */
  timerAt = Infinity;
  /** Changed since it was last taken for saving. */
  unsaved = false;
  /** In the engine's queue of series due for saving. */
  queued = false;

  constructor(
    /** The alert id (`rule@device`). */
    readonly key: string,
    public state: SeriesState,
    public compiled: Compiled,
    public device: Device,
    /** When it was last taken for saving (NaN: never). */
    public savedAt = NaN,
  ) {}
}

/** New series spread their checkpoints over this many phases of the checkpoint interval. */
const CHECKPOINT_PHASES = 64;

export function alertIdFor(ruleId: string, deviceId: string): string {
  return `${ruleId}@${deviceId}`;
}

/**
 * The rules a device matches, by metric, as positions in `compiled`: one plan shared by every device
 * that matches the same rules (a fleet has a few hundred distinct plans, not one per device: issue
 * 19, where a map, six arrays and ten slot objects per device were 15 MB of 10,000 devices).
 */
interface RulePlan {
  compiled: Compiled[];
  byMetric: Map<string, number[]>;
  /** Rules that look at every reading (errorCode, device-level noData). */
  any: number[];
}

/** The rules of one device, with the facts they were matched on. */
interface DeviceRules {
  name: string;
  model: string | null;
  site: string;
  tags: Record<string, string>;
  facts: DeviceFacts;
  plan: RulePlan;
  /** Per rule of the plan: its series once there is one, and the reading that visited it last. */
  series: (Series | undefined)[];
  seen: number[];
}

/** Rules by the metric they read, split into rules for listed devices and rules for any device. */
interface Bucket {
  byDevice: Map<string, Compiled[]>;
  anyDevice: Compiled[];
}

const isLiteral = (s: string) => !picomatch.scan(s).isGlob;

/**
 * Holds every rule's per-series state, feeds readings through the pure `evaluate`, and queues each
 * series at the next moment time alone could change it (the end of a `for`, a no-data deadline, a
 * sample leaving a window), under one timer — no polling. Rules are indexed by metric and device, so a
 * reading costs what the rules that can match it cost, not what all rules cost.
 */
export class RuleEngine {
  private compiled: Compiled[] = [];
  private byMetric = new Map<string, Bucket>();
  /** Rules that look at every reading of a device (errorCode, device-level noData). */
  private anyMetric: Bucket = { byDevice: new Map(), anyDevice: [] };
  private readonly series = new Map<string, Series>();
  /**
   * The series' deadlines, soonest first, under one timer (issue 19: a Node timer per series was
   * 30,000 timers and a clearTimeout + setTimeout per window reading). An entry whose series has
   * since moved its deadline is skipped when it comes up; a deadline moving later keeps the
   * earlier entry, which re-queues the series when it comes up (so each series has one live entry).
   */
  private readonly deadlines = new FlatQueue<Series>();
  private timer: unknown;
  private timerAt = Infinity;
  /** Deadlines are being handled: the timer is armed once, after them. */
  private firing = false;
  private deviceRules = new Map<string, DeviceRules>();
  /** Plans by the rules they hold (positions in `compiled`, joined). */
  private plans = new Map<string, RulePlan>();
  /** Each compiled rule's position, for the plans' keys (made with the rule set). */
  private compiledIndex = new Map<Compiled, number>();
  /** Counts readings, to visit a rule on several of a reading's metrics once. */
  private epoch = 0;
  private readonly listeners: TransitionListener[] = [];
  private readonly errorListeners: ((alertId: string, err: unknown) => void)[] = [];
  /** Evaluations that threw (one rule on one series); the others of the reading went on. */
  evaluationErrors = 0;
  /** Alert transitions emitted since start. */
  transitions = 0;
  /**
   * Series due for saving, in the order they became due (`Series.queued`; taken from `dirtyHead`
   * on). An array and a flag, not a set of keys: up to 100,000 keys added and deleted every few
   * seconds rehashed and regrew the set's table all the time (issue 19).
   */
  private readonly dirty: Series[] = [];
  private dirtyHead = 0;
  private dirtyCount = 0;
  private readonly deleted = new Map<string, { ruleId: string; deviceId: string; fingerprint: string }>();

  /**
   * `checkpointMs`: a series whose evaluation changed only its running memory (window samples, an
   * average, the newest value) is due for saving at most this often; a transition (pending,
   * firing, resolved…) or a timer makes it due at once. `flushAll()` makes every change due.
   */
  constructor(
    rules: readonly Rule[],
    private readonly scheduler: Scheduler = systemScheduler,
    private readonly checkpointMs = 0,
  ) {
    this.setRules(rules);
  }

  rules(): Rule[] {
    return this.compiled.map((c) => c.rule);
  }

  /**
   * Replaces the rule set. A rule whose definition is unchanged keeps its state; a changed or
   * removed rule's series are dropped (a firing alert of a removed rule stays as stored).
   */
  setRules(rules: readonly Rule[]): void {
    this.compiled = rules
      .filter((r) => r.enabled)
      .map((rule) => ({ rule, matches: compileMatcher(rule), fingerprint: fingerprint(rule) }));
    this.byMetric = new Map();
    this.anyMetric = { byDevice: new Map(), anyDevice: [] };
    this.deviceRules = new Map();
    this.plans = new Map();
    this.compiledIndex = new Map(this.compiled.map((c, i) => [c, i]));
    for (const c of this.compiled) {
      const metrics = metricsOf(c.rule.condition);
      const buckets = metrics.length ? metrics.map((m) => this.bucket(m)) : [this.anyMetric];
      const devices = c.rule.match.devices;
      const list = devices === undefined ? undefined : Array.isArray(devices) ? devices : [devices];
      for (const b of buckets) {
        if (list?.every(isLiteral)) {
          for (const d of list) {
            const at = b.byDevice.get(d) ?? [];
            at.push(c);
            b.byDevice.set(d, at);
          }
        } else b.anyDevice.push(c);
      }
    }
    const byId = new Map(this.compiled.map((c) => [c.rule.id, c]));
    for (const [key, s] of this.series) {
      const c = byId.get(s.compiled.rule.id);
      if (c && c.fingerprint === s.compiled.fingerprint) {
        s.compiled = c;
        continue;
      }
      this.disarm(s);
      this.series.delete(key);
      this.unqueue(s);
      this.deleted.set(key, {
        ruleId: s.compiled.rule.id,
        deviceId: s.device.id,
        fingerprint: s.compiled.fingerprint,
      });
    }
  }

  private bucket(metric: string): Bucket {
    let b = this.byMetric.get(metric);
    if (!b) {
      b = { byDevice: new Map(), anyDevice: [] };
      this.byMetric.set(metric, b);
    }
    return b;
  }

  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  /** Told of an evaluation that threw (issue 18: one item fails, the rest carry on). */
  onError(listener: (alertId: string, err: unknown) => void): void {
    this.errorListeners.push(listener);
  }

  /**
   * The rules that match this device, by metric — computed once per device (globs and tags are
   * tested once, not on every reading) and again when its name, model, site or tags change, or
   * the rules or saved series are replaced.
   */
  private rulesFor(device: Device): DeviceRules {
    const e = this.deviceRules.get(device.id);
    if (
      e &&
      e.model === device.model &&
      e.site === device.site &&
      e.tags === device.tags &&
      e.name === device.name
    )
      return e;
    const plan = this.planFor(device);
    const fresh: DeviceRules = {
      name: device.name,
      model: device.model,
      site: device.site,
      tags: device.tags,
      facts: facts(device),
      plan,
      series: new Array(plan.compiled.length).fill(undefined),
      seen: new Array(plan.compiled.length).fill(0),
    };
    this.deviceRules.set(device.id, fresh);
    return fresh;
  }

  /** The plan of the rules this device matches: the one already made for the same rules, or new. */
  private planFor(device: Device): RulePlan {
    const pick = (b: Bucket) =>
      [...(b.byDevice.get(device.id) ?? []), ...b.anyDevice].filter((c) => c.matches(device));
    const any = pick(this.anyMetric);
    const byMetric: [string, Compiled[]][] = [];
    for (const [metric, b] of this.byMetric) {
      const list = pick(b);
      if (list.length > 0) byMetric.push([metric, list]);
    }
    const index = this.compiledIndex;
    const key = JSON.stringify([
      any.map((c) => index.get(c)),
      byMetric.map(([m, l]) => [m, l.map((c) => index.get(c))]),
    ]);
    const known = this.plans.get(key);
    if (known) return known;
    // One position per rule, shared by the lists of every metric the rule reads.
    const compiled: Compiled[] = [];
    const at = (c: Compiled) => {
      let i = compiled.indexOf(c);
      if (i < 0) i = compiled.push(c) - 1;
      return i;
    };
    const plan: RulePlan = {
      compiled,
      any: any.map(at),
      byMetric: new Map(byMetric.map(([m, l]) => [m, l.map(at)])),
    };
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * Evaluates every matching rule against one durable reading: the device's rules on any reading,
   * then those on each metric the reading carries, each rule once.
   */
  onReading(point: Point, device: Device): void {
    const r = this.rulesFor(device);
    const input: EvalInput = { kind: 'reading', ts: point.ts, fields: point.fields, device: r.facts };
    if (point.errorCodes) input.errorCodes = point.errorCodes;
    const epoch = ++this.epoch;
    const now = this.scheduler.now();
    for (const i of r.plan.any) this.visit(r, i, epoch, device, input, now);
    for (const metric in point.fields) {
      const list = r.plan.byMetric.get(metric);
      if (list) for (const i of list) this.visit(r, i, epoch, device, input, now);
    }
  }

  private visit(
    r: DeviceRules,
    i: number,
    epoch: number,
    device: Device,
    input: Extract<EvalInput, { kind: 'reading' }>,
    now: number,
  ) {
    if (r.seen[i] === epoch) return;
    r.seen[i] = epoch;
    const c = r.plan.compiled[i] as Compiled;
    if (c.rule.condition.kind === 'errorCode' && input.errorCodes === undefined) return;
    let s = r.series[i];
    if (!s) {
      const key = alertIdFor(c.rule.id, device.id);
      s = this.series.get(key);
      if (!s) {
        // A new series is first due at a checkpoint phase of its own, so that a fleet whose
        // series all began together is not saved all at once ever after.
        const phase = ((this.series.size % CHECKPOINT_PHASES) / CHECKPOINT_PHASES) * this.checkpointMs;
        s = new Series(key, INITIAL_STATE, c, device, now - phase);
        this.series.set(key, s);
      }
      r.series[i] = s;
    }
    s.device = device;
    this.step(s, input, now);
  }

  /**
   * Starts the no-data clocks of devices that have not sent anything since the gateway started
   * (configured devices, devices known from before): silence counts from their last reading, or
   * from `since` when there was none.
   */
  watch(devices: readonly Device[], since: number): void {
    for (const c of this.compiled) {
      const cond = c.rule.condition;
      if (cond.kind !== 'noData') continue;
      for (const device of devices) {
        if (!c.matches(device)) continue;
        const key = alertIdFor(c.rule.id, device.id);
        if (this.series.has(key)) continue;
        const last = cond.metric ? device.lastValues[cond.metric]?.ts : device.lastSeenAt;
        const s = new Series(key, newState({ lastSeen: last ?? since }), c, device);
        this.series.set(key, s);
        this.queue(s);
        this.arm(s);
      }
    }
  }

  /**
   * Restores saved series (after a restart) for rules whose definition is unchanged, and arms their
   * timers; a deadline that passed while the gateway was down is handled at once.
   */
  load(saved: SavedSeries[], resolve: (deviceId: string) => Device): { restored: number; dropped: number } {
    let restored = 0;
    let dropped = 0;
    const loaded: Series[] = [];
    const byId = new Map(this.compiled.map((c) => [c.rule.id, c]));
    for (const e of saved) {
      const c = byId.get(e.ruleId);
      // A series whose newest reading is far in the future was fed by a wrong clock before readings'
      // times were checked (issue 18): kept, it would ignore every real reading as late, forever.
      const lastTs = (e.state as { lastTs?: unknown } | null)?.lastTs;
      const impossible = typeof lastTs === 'number' && lastTs > this.scheduler.now() + 86_400_000;
      // A state that cannot be read (a damaged row) is dropped like a changed rule's: the series
      // starts afresh, the others are restored, the start goes on.
      const state = c && c.fingerprint === e.fingerprint && !impossible ? readable(e.state) : undefined;
      if (!c || state === undefined) {
        dropped++;
        this.deleted.set(e.alertId, { ruleId: e.ruleId, deviceId: e.deviceId, fingerprint: e.fingerprint });
        continue;
      }
      const s = new Series(e.alertId, state, c, resolve(e.deviceId));
      const replaced = this.series.get(e.alertId);
      if (replaced) {
        this.disarm(replaced);
        // Due for saving: the one that replaces it is (as the key was before).
        if (replaced.queued) {
          this.unqueue(replaced);
          this.queue(s);
        }
      }
      this.series.set(e.alertId, s);
      loaded.push(s);
      restored++;
    }
    // Slots may hold series that were just replaced; only the loaded ones need arming.
    for (const s of loaded) {
      this.deviceRules.delete(s.device.id);
      this.arm(s);
    }
    return { restored, dropped };
  }

  /**
   * Lets go of every series of these devices (another instance evaluates them now, issue 20): their
   * timers stop, and their current state is returned for saving — the new owner loads it.
   */
  forget(deviceIds: ReadonlySet<string>): SavedSeries[] {
    const out: SavedSeries[] = [];
    for (const [key, s] of this.series) {
      if (!deviceIds.has(s.device.id)) continue;
      this.disarm(s);
      this.series.delete(key);
      this.unqueue(s);
      out.push(saved(s));
    }
    for (const id of deviceIds) this.deviceRules.delete(id);
    return out;
  }

  /**
   * Restores an alert that was pending or firing (stored by the alert tracker) when no saved series
   * exists for it — state from before series were persisted.
   */
  restore(
    alert: {
      ruleId: string;
      state: string;
      activeAt: number | null;
      firedAt: number | null;
      value: FieldValue | null;
    },
    device: Device,
  ): void {
    const c = this.compiled.find((x) => x.rule.id === alert.ruleId);
    if (!c || (alert.state !== 'firing' && alert.state !== 'pending')) return;
    const key = alertIdFor(c.rule.id, device.id);
    if (this.series.has(key)) return;
    const state: SeriesState = newState({
      state: alert.state,
      since: alert.activeAt,
      firedAt: alert.state === 'firing' ? alert.firedAt : null,
      lastHeldAt: alert.state === 'firing' ? alert.firedAt : null,
      value: alert.value,
      holding: true,
      clearing: false,
    });
    const s = new Series(key, state, c, device);
    this.series.set(key, s);
    this.queue(s);
    this.arm(s);
  }

  /**
   * Series changed since the last call, for the state store (and forgotten here): at most `max`,
   * so that a large fleet is saved in slices between readings rather than in one long pause.
   * The states are the live objects: the store serialises them when called.
   */
  takeChanges(max = Infinity): SavedSeries<SeriesState | null>[] {
    const out: SavedSeries<SeriesState | null>[] = [];
    for (const [key, d] of this.deleted) {
      if (out.length >= max) return out;
      out.push({ alertId: key, ...d, state: null });
      this.deleted.delete(key);
    }
    const now = this.scheduler.now();
    const dirty = this.dirty;
    while (this.dirtyHead < dirty.length && out.length < max) {
      const s = dirty[this.dirtyHead++] as Series;
      // Taken off the queue since (forgotten, replaced): already skipped by the count.
      if (!s.queued) continue;
      this.unqueue(s);
      s.unsaved = false;
      s.savedAt = now;
      out.push(saved(s));
    }
    if (this.dirtyHead === dirty.length) {
      dirty.length = 0; // the array keeps its room for the next round
      this.dirtyHead = 0;
    } else if (this.dirtyHead > 4096 && this.dirtyHead * 2 > dirty.length) {
      dirty.copyWithin(0, this.dirtyHead);
      dirty.length -= this.dirtyHead;
      this.dirtyHead = 0;
    }
    return out;
  }

  /** Makes every change due for saving, checkpoint or not (before a stop). */
  flushAll(): void {
    for (const s of this.series.values()) if (s.unsaved) this.queue(s);
  }

  /** Series changed and not yet taken. */
  get pendingChanges(): number {
    return this.dirtyCount + this.deleted.size;
  }

  private queue(s: Series): void {
    if (s.queued) return;
    s.queued = true;
    this.dirty.push(s);
    this.dirtyCount++;
  }

  private unqueue(s: Series): void {
    if (!s.queued) return;
    s.queued = false;
    this.dirtyCount--;
  }

  /** Current evaluation state, for the API and tests. */
  state(alertId: string): SeriesState | undefined {
    return this.series.get(alertId)?.state;
  }

  /**
   * How many series are held, how many samples they keep (state is bounded: see MAX_SAMPLES), and
   * how many distinct rule plans the devices share.
   */
  size(): { series: number; samples: number; plans: number } {
    let samples = 0;
    for (const s of this.series.values()) samples += sampleCount(s.state);
    return { series: this.series.size, samples, plans: this.plans.size };
  }

  stop(): void {
    for (const s of this.series.values()) this.disarm(s);
    this.deadlines.clear();
    this.deadlines.shrink();
    this.armTimer();
  }

  /** `now`: the scheduler's time, read once per reading (not once per rule). */
  private step(s: Series, input: EvalInput, now: number): void {
    const key = s.key;
    let events: AlertEvent[];
    try {
      if (Object.isFrozen(s.state)) s.state = newState(s.state);
      events = evaluateInPlace(s.compiled.rule, s.state, input);
    } catch (err) {
      // One rule failing on one series must not keep the reading from the other rules.
      this.evaluationErrors++;
      for (const l of this.errorListeners) l(key, err);
      return;
    }
    // Updated in place: every evaluation may have changed what is saved.
    s.unsaved = true;
    // A tick without events changed running memory only (samples left the window, the time it
    // judged): saved at the checkpoint like a reading's.
    if (events.length > 0 || !(now - s.savedAt < this.checkpointMs)) this.queue(s); // NaN: never saved
    this.arm(s);
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as AlertEvent;
      this.transitions++;
      const t: AlertTransition = { alertId: key, rule: s.compiled.rule, device: s.device, event };
      for (const l of this.listeners) l(t);
    }
  }

  private disarm(s: Series): void {
    s.timerAt = Infinity;
  }

  /**
   * Queues the series at its next deadline, unless an earlier entry of it is queued already.
   * `at`: that deadline when the caller asked already.
   */
  private arm(s: Series, at = nextTickAt(s.compiled.rule, s.state, s.timerAt)): void {
    if (at === undefined || s.timerAt <= at) return;
    s.timerAt = at;
    this.deadlines.push(s, at);
    if (at < this.timerAt && !this.firing) this.armTimer();
  }

  /** The one timer, at the soonest queued deadline (in steps: Node's timers overflow past ~24.8 days). */
  private armTimer(): void {
    const at = this.deadlines.peekValue() ?? Infinity;
    if (at === this.timerAt) return;
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = this.scheduler.setTimeout(
      this.onTimer,
      Math.min(MAX_TIMER_MS, Math.max(0, at - this.scheduler.now())),
    );
  }

  /** Every deadline due by now, in order; a series whose deadline moved later is queued again. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.scheduler.now();
    this.firing = true;
    try {
      for (
        let at = this.deadlines.peekValue();
        at !== undefined && at <= now;
        at = this.deadlines.peekValue()
      ) {
        const s = this.deadlines.pop() as Series;
        if (s.timerAt !== at || this.series.get(s.key) !== s) continue; // moved, or gone
        s.timerAt = Infinity;
        const due = nextTickAt(s.compiled.rule, s.state);
        if (due !== undefined && due > now) this.arm(s, due);
        else if (due !== undefined) this.step(s, { kind: 'tick', now }, now);
      }
    } finally {
      this.firing = false;
      this.armTimer();
    }
  };
}

/** A saved state as a live one, or undefined when it is not one (not an object, or a part unreadable). */
function readable(saved: unknown): SeriesState | undefined {
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) return undefined;
  try {
    return newState(saved as SeriesState);
  } catch {
    return undefined;
  }
}

/** A series as the state store keeps it (its state the live object). */
function saved(s: Series): SavedSeries {
  return {
    alertId: s.key,
    ruleId: s.compiled.rule.id,
    fingerprint: s.compiled.fingerprint,
    deviceId: s.device.id,
    state: s.state,
  };
}

function facts(d: Device): DeviceFacts {
  return { id: d.id, name: d.name, model: d.model, site: d.site, tags: d.tags };
}

/** A short stable hash of what the evaluation depends on. */
export function fingerprint(rule: Rule): string {
  const c = rule.condition;
  const condition = c.kind === 'expr' ? { ...c, cel: c.cel.source, clear: c.clear?.source ?? null } : c;
  const text = JSON.stringify([
    condition,
    rule.keepFiringForMs,
    rule.cooldownMs,
    rule.flapping,
    rule.ticket.priority,
  ]);
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
