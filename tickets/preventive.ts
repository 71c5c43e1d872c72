import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';
import picomatch from 'picomatch';
import { z } from 'zod';
import type { Device } from '../ingest/devices.js';
import { duration } from '../lib/duration.js';
import type { Logger } from '../lib/log.js';
import { configId, cronProblem, validTimeZone } from '../lib/schedule.js';
import type { Scheduler } from '../rules/engine.js';
import { MAX_TIMER_MS } from '../rules/engine.js';
import type { PreventiveStore, UsageState } from './store.js';

/**
 * Preventive maintenance (R1.3): schedules per device or model create a preventive ticket `notice`
 * before the visit is due (the customer is contacted to agree it), with the visit as its deadline,
 * and open a maintenance window for the visit so that the planned work opens no fault tickets.
 */
const id = configId;

export const preventiveScheduleSchema = z
  .object({
    id,
    title: z.string().min(1),
    description: z.string().default(''),
    /** Which devices: ids or globs, and/or a model (glob). */
    devices: z.array(z.string().min(1)).optional(),
    model: z.string().min(1).optional(),
    /** Every N calendar units from `from` (`{ months: 6 }`, `{ weeks: 2 }`, `{ days: 90 }`) … */
    every: z
      .object({
        days: z.number().int().positive().optional(),
        weeks: z.number().int().positive().optional(),
        months: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** … counted from this local date-time (`2026-01-05T08:00`) in `timezone`; or a cron rule instead. */
    from: z.string().optional(),
    cron: z.string().min(1).optional(),
    /**
     * … or a usage counter from telemetry (running hours, cycles): service every `every` units of
     * `metric`, the first at `first` (default `every`). The visit is forecast from the counter's rate
     * since the last service; the ticket opens `notice` before that.
     */
    usage: z
      .object({
        metric: z.string().min(1),
        every: z.number().positive(),
        first: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    timezone: z.string().default('UTC'),
    /** How long before the visit the ticket opens (default: the SLA policy's preventive notice). */
    notice: duration.optional(),
    /** How long the visit takes: the maintenance window. */
    visit: duration.prefault('4h'),
    faultType: z.string().min(1).default('general'),
    team: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!s.devices && !s.model)
      ctx.addIssue({
        code: 'custom',
        path: ['devices'],
        message: 'give devices (ids or globs) and/or a model',
      });
    if (!validTimeZone(s.timezone))
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown time zone "${s.timezone}"` });
    if ([s.every, s.cron, s.usage].filter((x) => x !== undefined).length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['every'],
        message: 'give exactly one of every (with from), cron and usage',
      });
    if (s.every) {
      const units = Object.values(s.every).filter((v) => v !== undefined);
      if (units.length !== 1)
        ctx.addIssue({ code: 'custom', path: ['every'], message: 'give one of days, weeks or months' });
      if (!s.from)
        ctx.addIssue({ code: 'custom', path: ['from'], message: 'every needs from (the first visit)' });
      else if (!DateTime.fromISO(s.from, { zone: s.timezone }).isValid)
        ctx.addIssue({
          code: 'custom',
          path: ['from'],
          message: `expected a local date-time like 2026-01-05T08:00, got "${s.from}"`,
        });
    }
    if (s.cron) {
      const problem = cronProblem(s.cron, s.timezone);
      if (problem) ctx.addIssue({ code: 'custom', path: ['cron'], message: problem });
    }
  });

export type PreventiveSchedule = z.output<typeof preventiveScheduleSchema>;
type UsageSchedule = PreventiveSchedule & { usage: NonNullable<PreventiveSchedule['usage']> };
const isUsage = (s: PreventiveSchedule): s is UsageSchedule => s.usage !== undefined;

/** A counter's rate is trusted once it was watched this long since the last service. */
export const MIN_RATE_SPAN_MS = 10 * 60_000;

/** The first due value of the grid (first, first + every, …) above `value`. */
export function nextDueValue(u: { every: number; first?: number | undefined }, value: number): number {
  const first = u.first ?? u.every;
  if (value < first) return first;
  return first + (Math.floor((value - first) / u.every) + 1) * u.every;
}

/**
 * When the counter reaches `due`, forecast from its rate since `base`: null while the rate is not
 * known yet (watched too briefly, or the counter did not move).
 */
export function forecastDue(
  base: { value: number; at: number },
  last: { value: number; at: number },
  due: number,
): number | null {
  const span = last.at - base.at;
  const moved = last.value - base.value;
  if (span < MIN_RATE_SPAN_MS || moved <= 0) return null;
  return Math.round(last.at + ((due - last.value) / moved) * span); // a whole millisecond
}

/** The first visit of a schedule strictly after `after` (ms). */
export function nextVisit(s: PreventiveSchedule, after: number): number {
  if (s.cron)
    return CronExpressionParser.parse(s.cron, { currentDate: new Date(after), tz: s.timezone })
      .next()
      .getTime();
  const start = DateTime.fromISO(s.from as string, { zone: s.timezone });
  const every = s.every as { days?: number; weeks?: number; months?: number };
  // Calendar arithmetic in the zone: "every 3 months from 5 January 08:00" stays at 08:00 local.
  const step = (k: number) =>
    start
      .plus({ days: (every.days ?? 0) * k, weeks: (every.weeks ?? 0) * k, months: (every.months ?? 0) * k })
      .toMillis();
  if (step(0) > after) return step(0);
  const approx = every.months
    ? 30.4 * 86_400_000 * every.months
    : ((every.days ?? 0) + (every.weeks ?? 0) * 7) * 86_400_000;
  let k = Math.max(0, Math.floor((after - step(0)) / approx) - 1);
  while (step(k) <= after) k++;
  return step(k);
}

export function scheduleMatches(s: PreventiveSchedule, d: Device): boolean {
  if (s.devices && !picomatch(s.devices)(d.id)) return false;
  if (s.model && (d.model === null || !picomatch(s.model)(d.model))) return false;
  return true;
}

export interface PreventiveDeps {
  schedules: readonly PreventiveSchedule[];
  devices: () => readonly Device[];
  /** The policy's notice (default for schedules without one). */
  notice: number;
  /**
   * Opens the preventive ticket for a visit (and its maintenance window); returns its id, or null
   * when the same visit already has an open ticket. Usage schedules give the due counter value as
   * the key (one ticket per service) and say why the visit is due.
   */
  open: (
    s: PreventiveSchedule,
    device: Device,
    visitAt: number,
    usage?: { key: string; detail: string },
  ) => Promise<string | null>;
  store: PreventiveStore;
  scheduler: Scheduler;
  logger: Logger;
}

/**
 * Opens preventive tickets on time, and never twice: the last visit handled per (schedule, device) is
 * stored, and the ticket store refuses a second open ticket for the same visit. One timer, at the
 * next opening of all schedules; at start, visits whose notice began while the gateway was down
 * (and that are not past) are opened at once.
 */
export class PreventivePlanner {
  private timer: unknown;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  private readonly usage: UsageSchedule[];
  private readonly usageState = new Map<string, UsageState>();
  /** (schedule, device) pairs whose usage ticket is being opened (readings keep coming meanwhile). */
  private readonly opening = new Set<string>();
  /** Usage states are loaded (`loadUsage`): readings before that change nothing. */
  private loaded = false;
  /** Stopped for good (the gateway stops); `stopped` alone is a standby's (calendar visits elsewhere). */
  private closed = false;

  constructor(private readonly deps: PreventiveDeps) {
    this.usage = deps.schedules.filter(isUsage);
  }

  /** Loads what the store remembers, then opens what is due and arms the timer (`run`). */
  async start(): Promise<void> {
    this.stopped = false; // started again: an instance that became the leader (issue 20)
    await this.loadUsage();
    await this.run();
  }

  /**
   * Reads the usage counters' states from the store. Usage is counted by whichever instance
   * evaluates the device (issue 20: not only the leader), so every instance loads them at its start,
   * and those of the devices it takes over from another (`devices`) when it does.
   */
  async loadUsage(devices?: ReadonlySet<string>): Promise<void> {
    if (this.usage.length > 0)
      for (const { scheduleId, deviceId, state } of await this.deps.store.usageStates())
        if (!devices || devices.has(deviceId)) this.usageState.set(`${scheduleId}\u0000${deviceId}`, state);
    this.loaded = true;
  }

  /** Keeps the usage state here at once and in the store as it comes; a failed save is logged. */
  private saveUsage(scheduleId: string, deviceId: string, u: UsageState): Promise<void> {
    this.usageState.set(`${scheduleId}\u0000${deviceId}`, u);
    return this.deps.store.saveUsage(scheduleId, deviceId, u).catch((err: unknown) => {
      this.deps.logger.error({ err, schedule: scheduleId, deviceId }, 'preventive usage state not saved');
    });
  }

  /**
   * A reading: usage schedules watching one of its metrics forecast when the counter reaches the next
   * service, and open the ticket once that is within the notice (or at once when the counter is past
   * it: the visit is then proposed `notice` from now). A counter that went backwards (replaced, reset)
   * starts a new baseline. Cheap when no usage schedule is configured.
   */
  observe(fields: Readonly<Record<string, unknown>>, device: Device, at: number): void {
    if (this.usage.length === 0 || this.closed || !this.loaded) return;
    for (const s of this.usage) {
      const value = fields[s.usage.metric];
      if (typeof value !== 'number' || !Number.isFinite(value) || !scheduleMatches(s, device)) continue;
      const key = `${s.id}\u0000${device.id}`;
      if (this.opening.has(key)) continue;
      const u = this.usageState.get(key);
      if (!u || value < u.baseValue) {
        if (u)
          this.deps.logger.warn(
            { schedule: s.id, deviceId: device.id, value, was: u.baseValue },
            'usage counter went back: new baseline',
          );
        void this.saveUsage(s.id, device.id, {
          dueValue: nextDueValue(s.usage, value),
          baseValue: value,
          baseAt: at,
          ticketId: u?.ticketId ?? null,
        });
        continue;
      }
      const notice = s.notice ?? this.deps.notice;
      const now = this.deps.scheduler.now();
      const overdue = value >= u.dueValue;
      const forecast = overdue
        ? null
        : forecastDue({ value: u.baseValue, at: u.baseAt }, { value, at }, u.dueValue);
      if (!overdue && (forecast === null || forecast - notice > now)) continue;
      const visitAt = overdue ? now + notice : Math.max(now, forecast as number);
      const rate =
        forecast !== null
          ? ` (forecast from ${(((value - u.baseValue) / (at - u.baseAt)) * 86_400_000).toPrecision(3)} per day)`
          : '';
      const detail = `${s.usage.metric} is ${value}; service due at ${u.dueValue}${overdue ? ' (already reached)' : rate}.`;
      this.opening.add(key);
      this.running = this.running
        .then(async () => {
          const ticketId = await this.deps.open(s, device, visitAt, {
            key: `${s.usage.metric}=${u.dueValue}`,
            detail,
          });
          // The next service is counted from this one; the rate is measured afresh from here.
          await this.saveUsage(s.id, device.id, {
            dueValue: nextDueValue(s.usage, Math.max(value, u.dueValue)),
            baseValue: value,
            baseAt: at,
            ticketId,
          });
        })
        .catch((err: unknown) => this.deps.logger.error({ err, schedule: s.id }, 'preventive ticket failed'))
        .finally(() => this.opening.delete(key));
    }
  }

  /** Opens what is due now and arms the timer for the next opening. */
  run(): Promise<void> {
    this.running = this.running
      .then(() => this.tick())
      .catch((err: unknown) => {
        this.deps.logger.error({ err }, 'preventive planning failed');
      });
    return this.running;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const now = this.deps.scheduler.now();
    let nextOpen: number | undefined;
    for (const s of this.deps.schedules) {
      if (isUsage(s)) continue;
      const notice = s.notice ?? this.deps.notice;
      for (const d of this.deps.devices()) {
        if (!scheduleMatches(s, d)) continue;
        // The next visit after the last one handled (or after now - ε for a new schedule/device).
        let visit = nextVisit(s, (await this.deps.store.lastVisit(s.id, d.id)) ?? now - 1);
        // Visits already past when first seen are not opened late; the next one is planned.
        while (visit <= now) visit = nextVisit(s, visit);
        const openAt = visit - notice;
        if (openAt <= now) {
          const ticketId = await this.deps.open(s, d, visit);
          await this.deps.store.saveVisit(s.id, d.id, visit, ticketId);
          const following = nextVisit(s, visit) - notice;
          if (nextOpen === undefined || following < nextOpen) nextOpen = following;
        } else if (nextOpen === undefined || openAt < nextOpen) nextOpen = openAt;
      }
    }
    this.arm(nextOpen);
  }

  private arm(at: number | undefined): void {
    if (this.timer !== undefined) this.deps.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    if (at === undefined || this.stopped) return;
    this.timer = this.deps.scheduler.setTimeout(
      () => {
        this.timer = undefined;
        void this.run();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - this.deps.scheduler.now())),
    );
  }

  idle(): Promise<void> {
    return this.running;
  }

  /** Stops everything: calendar visits and usage counting (the gateway stops). */
  close(): void {
    this.closed = true;
    this.stop();
  }

  /** Calendar visits stop here (another instance leads); usage is still counted for this one's devices. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
