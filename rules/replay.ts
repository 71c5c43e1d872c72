import type { Device } from '../ingest/devices.js';
import type { FieldValue, Point } from '../ingest/point.js';
import { RuleEngine } from './engine.js';
import { ManualScheduler } from './manual-scheduler.js';
import type { Rule } from './schema.js';

/** An alert as a replay sees it at some moment. */
export interface ReplayAlert {
  state: 'pending' | 'firing' | 'inactive';
  priority: 'emergency' | 'general';
  flapping: boolean;
}

/** One firing of an alert from start to end (end null: still firing when the replay ended). */
export interface Episode {
  alertId: string;
  ruleId: string;
  deviceId: string;
  firedAt: number;
  resolvedAt: number | null;
  priority: 'emergency' | 'general';
  /** The value when it fired, and the furthest value while it fired (numbers only). */
  value: FieldValue | null;
  peak: number | null;
}

export interface ReplayOptions {
  /** Times at which `onCheckpoint` sees the alerts (after everything at or before that time). */
  checkpoints?: number[];
  onCheckpoint?: (at: number, alerts: ReadonlyMap<string, ReplayAlert>) => void;
  /** Devices whose no-data clocks start at `start` even if they never report. */
  watch?: Device[];
  start?: number;
  /** Timers run up to here after the last reading (default: the last reading's time). */
  end?: number;
}

/**
 * Runs readings through the real engine on a manual clock: `faultline rules test` and backtests. An
 * hour of readings takes milliseconds, and timers (`for`, no data, windows) fire at their exact times.
 */
export function replay(
  rules: readonly Rule[],
  points: readonly Point[],
  device: (id: string) => Device,
  opts: ReplayOptions = {},
): { episodes: Episode[]; readings: number } {
  const sorted = [...points].sort((a, b) => a.ts - b.ts);
  const start = opts.start ?? sorted[0]?.ts ?? 0;
  const sched = new ManualScheduler(start);
  const engine = new RuleEngine(rules, sched);
  const alerts = new Map<string, ReplayAlert>();
  const open = new Map<string, Episode>();
  const episodes: Episode[] = [];
  engine.onTransition((tr) => {
    const prev = alerts.get(tr.alertId);
    const e = tr.event;
    const rulePriority = tr.rule.ticket.priority;
    const priority =
      e.type === 'firing' || e.type === 'escalated'
        ? (e.priority ?? (e.type === 'firing' ? rulePriority : (prev?.priority ?? rulePriority)))
        : (prev?.priority ?? rulePriority);
    const state =
      e.type === 'escalated'
        ? 'firing'
        : e.type === 'resolved' || e.type === 'inactive'
          ? 'inactive'
          : e.type;
    alerts.set(tr.alertId, { state, priority, flapping: e.flapping ?? prev?.flapping ?? false });
    if (e.type === 'firing') {
      const ep: Episode = {
        alertId: tr.alertId,
        ruleId: tr.rule.id,
        deviceId: tr.device.id,
        firedAt: e.at,
        resolvedAt: null,
        priority,
        value: e.value,
        peak: typeof e.value === 'number' ? e.value : null,
      };
      open.set(tr.alertId, ep);
      episodes.push(ep);
    } else {
      const ep = open.get(tr.alertId);
      if (ep && e.type === 'escalated') ep.priority = priority;
      if (ep && e.type === 'resolved') {
        ep.resolvedAt = e.at;
        open.delete(tr.alertId);
      }
    }
  });
  // The furthest value of a firing alert, from the engine's state after each reading.
  const trackPeaks = () => {
    for (const ep of open.values()) {
      const v = engine.state(ep.alertId)?.value;
      if (v === undefined || Number.isNaN(v)) continue; // NaN: the value is not a number
      const rule = rules.find((r) => r.id === ep.ruleId);
      const low = rule && 'cmp' in rule.condition && rule.condition.cmp.op === 'below';
      ep.peak = ep.peak === null ? v : low ? Math.min(ep.peak, v) : Math.max(ep.peak, v);
    }
  };
  if (opts.watch) engine.watch(opts.watch, start);
  const checkpoints = [...(opts.checkpoints ?? [])].sort((a, b) => a - b);
  let k = 0;
  const feedUntil = (t: number) => {
    while (k < sorted.length && (sorted[k] as Point).ts <= t) {
      const p = sorted[k++] as Point;
      sched.advanceTo(p.ts);
      engine.onReading(p, device(p.deviceId));
      trackPeaks();
    }
    sched.advanceTo(t);
  };
  for (const at of checkpoints) {
    feedUntil(at);
    opts.onCheckpoint?.(at, alerts);
  }
  feedUntil(Math.max(opts.end ?? 0, sorted[sorted.length - 1]?.ts ?? start));
  engine.stop();
  return { episodes, readings: sorted.length };
}
