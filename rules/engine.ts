import type { Device } from '../ingest/devices.js';
import type { Point } from '../ingest/point.js';
import {
  type AlertEvent,
  type EvalInput,
  evaluate,
  INITIAL_STATE,
  nextTickAt,
  type SeriesState,
} from './evaluate.js';
import { compileMatcher, type DeviceMatcher } from './match.js';
import type { Rule } from './schema.js';

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
}

interface Series {
  state: SeriesState;
  compiled: Compiled;
  device: Device;
  timer?: unknown;
}

export function alertIdFor(ruleId: string, deviceId: string): string {
  return `${ruleId}@${deviceId}`;
}

/**
 * Holds every rule's per-device state, feeds readings through the pure `evaluate`, and arms one
 * timer per pending alert at the end of its `for` (no polling).
 */
export class RuleEngine {
  private compiled: Compiled[] = [];
  private readonly series = new Map<string, Series>();
  private readonly listeners: TransitionListener[] = [];

  constructor(
    rules: readonly Rule[],
    private readonly scheduler: Scheduler = systemScheduler,
  ) {
    this.setRules(rules);
  }

  rules(): Rule[] {
    return this.compiled.map((c) => c.rule);
  }

  /** Replaces the rule set; state is kept for rules whose id stays. */
  setRules(rules: readonly Rule[]): void {
    this.compiled = rules.filter((r) => r.enabled).map((rule) => ({ rule, matches: compileMatcher(rule) }));
    const byId = new Map(this.compiled.map((c) => [c.rule.id, c]));
    for (const [key, s] of this.series) {
      const c = byId.get(s.compiled.rule.id);
      if (c) s.compiled = c;
      else {
        if (s.timer !== undefined) this.scheduler.clearTimeout(s.timer);
        this.series.delete(key);
      }
    }
  }

  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  /** Evaluates every matching rule against one durable reading. */
  onReading(point: Point, device: Device): void {
    const input: EvalInput = { kind: 'reading', ts: point.ts, fields: point.fields };
    if (point.errorCodes) input.errorCodes = point.errorCodes;
    for (const c of this.compiled) {
      const cond = c.rule.condition;
      if (cond.kind === 'threshold' && !(cond.metric in point.fields)) continue;
      if (cond.kind === 'errorCode' && point.errorCodes === undefined) continue;
      if (!c.matches(device)) continue;
      const key = alertIdFor(c.rule.id, device.id);
      let s = this.series.get(key);
      if (!s) {
        s = { state: INITIAL_STATE, compiled: c, device };
        this.series.set(key, s);
      }
      s.device = device;
      this.step(key, s, input);
    }
  }

  /**
   * Restores the state of an alert that was pending or firing when the gateway stopped, so that
   * its next reading continues the episode instead of firing it again. Unknown or disabled rules
   * are skipped.
   */
  restore(
    alert: {
      ruleId: string;
      state: string;
      activeAt: number | null;
      firedAt: number | null;
      value: SeriesState['value'];
    },
    device: Device,
  ): void {
    const c = this.compiled.find((x) => x.rule.id === alert.ruleId);
    if (!c || (alert.state !== 'firing' && alert.state !== 'pending')) return;
    const key = alertIdFor(c.rule.id, device.id);
    const state: SeriesState = {
      state: alert.state,
      since: alert.activeAt,
      firedAt: alert.state === 'firing' ? alert.firedAt : null,
      lastTs: null,
      value: alert.value,
      holding: true,
    };
    const s: Series = { state, compiled: c, device };
    this.series.set(key, s);
    this.arm(key, s);
  }

  /** Current evaluation state, for the API and tests. */
  state(alertId: string): SeriesState | undefined {
    return this.series.get(alertId)?.state;
  }

  stop(): void {
    for (const s of this.series.values()) {
      if (s.timer !== undefined) this.scheduler.clearTimeout(s.timer);
      s.timer = undefined;
    }
  }

  private step(key: string, s: Series, input: EvalInput): void {
    const [state, events] = evaluate(s.compiled.rule, s.state, input);
    s.state = state;
    this.arm(key, s);
    for (const event of events) {
      const t: AlertTransition = { alertId: key, rule: s.compiled.rule, device: s.device, event };
      for (const l of this.listeners) l(t);
    }
  }

  private arm(key: string, s: Series): void {
    if (s.timer !== undefined) this.scheduler.clearTimeout(s.timer);
    s.timer = undefined;
    const at = nextTickAt(s.compiled.rule, s.state);
    if (at === undefined) return;
    s.timer = this.scheduler.setTimeout(
      () => {
        s.timer = undefined;
        this.step(key, s, { kind: 'tick', now: this.scheduler.now() });
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - this.scheduler.now())),
    );
  }
}
