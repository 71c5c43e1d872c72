import { z } from 'zod';
import { duration } from '../lib/duration.js';
import { shown } from '../lib/zod-messages.js';
import { Calendar, calendarSchema } from './calendar.js';
import { pausableState, startClock } from './clock.js';
import {
  type Priority,
  SLA_TARGETS,
  type SlaClock,
  type SlaState,
  type SlaTarget,
  WAIT_REASONS,
  type WaitReason,
} from './model.js';

/**
 * A target: one duration, or one per service area (own technicians vs partner team), optionally on
 * a calendar of its own (`{ within: 8h, calendar: office }`, `{ local: 4h, remote: 24h, calendar: office }`).
 */
const target = z.union(
  [
    duration,
    z.object({ local: duration, remote: duration, calendar: z.string().min(1).optional() }).strict(),
    z.object({ within: duration, calendar: z.string().min(1).optional() }).strict(),
  ],
  {
    error: (iss) =>
      `expected a duration (4h), { local: 4h, remote: 24h } or { within: 8h, calendar: office }, got ${shown(iss.input)}`,
  },
);
type Target = z.output<typeof target>;

export type EscalationRole = 'assignee' | 'lead' | 'supervisor';
export type EscalationStage = 'created' | 'warning' | 'breach';

/** Who hears of what, per class (R4.1): the plan's chain unless the configuration says otherwise. */
export const DEFAULT_ESCALATION: Record<Priority, Partial<Record<EscalationStage, EscalationRole[]>>> = {
  emergency: { created: ['lead'], warning: ['assignee', 'lead'], breach: ['supervisor'] },
  general: { warning: ['assignee', 'lead'], breach: ['supervisor'] },
  preventive: { warning: ['assignee'], breach: ['lead'] },
};

const roles = z.array(z.enum(['assignee', 'lead', 'supervisor']));
const chain = z
  .object({ created: roles.optional(), warning: roles.optional(), breach: roles.optional() })
  .strict();

/**
 * Pause conditions: the clocks a `waiting` ticket stops, per reason. By default waiting on the
 * customer stops every clock; waiting on parts or a third party stops none (stock and suppliers are
 * the provider's business, R4.2) unless the contract says so: `parts: [resolution]`.
 */
const pauseTargets = z.preprocess(
  (v) => (v === 'all' ? [...SLA_TARGETS] : v),
  z.array(z.enum(SLA_TARGETS), {
    error: (iss) => `expected "all" or a list of targets, got ${shown(iss.input)}`,
  }),
);
const pauseSchema = z
  .object({
    customer: pauseTargets.optional(),
    parts: pauseTargets.optional(),
    third_party: pauseTargets.optional(),
  })
  .strict();
export const DEFAULT_PAUSE: Record<WaitReason, readonly SlaTarget[]> = {
  customer: SLA_TARGETS,
  parts: [],
  third_party: [],
};

/** Each class may count its times on a calendar (default `24x7`); a target may name another. */
const classCalendar = z.string().min(1).default('24x7');

/**
 * The SLA policy (R1). Every time is configuration; the defaults are the example policy:
 * emergency — respond 1h, on site 4h (local) / 24h (remote, partner team);
 * general — respond 4h, remote fix 8h, on site 48h; preventive — announced 3 days ahead.
 */
export const slaSchema = z
  .object({
    /** Warn when this share (percent) of a clock's time has elapsed. */
    warnAt: z.array(z.number().gt(0).lt(100)).default([50, 75]),
    /**
     * Named calendars: working hours in a time zone, with holidays. `24x7` always exists. A target on
     * an office calendar counts working time only (Friday 16:00 + 4h = Monday 11:00 with 08:00–17:00).
     */
    calendars: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/), calendarSchema).default({}),
    /** Which clocks a `waiting` ticket stops, per reason (customer, parts, third_party); per class too. */
    pause: pauseSchema.prefault({}),
    /** Who is told at creation, at each warning and at a breach, per class (roles of the ticket's team). */
    escalation: z
      .object({ emergency: chain.optional(), general: chain.optional(), preventive: chain.optional() })
      .strict()
      .transform((e) => ({
        emergency: e.emergency ?? DEFAULT_ESCALATION.emergency,
        general: e.general ?? DEFAULT_ESCALATION.general,
        preventive: e.preventive ?? DEFAULT_ESCALATION.preventive,
      }))
      .prefault({}),
    emergency: z
      .object({
        calendar: classCalendar,
        pause: pauseSchema.optional(),
        response: target.prefault('1h'),
        onsite: target.prefault({ local: '4h', remote: '24h' }),
        remoteFix: target.optional(),
        resolution: target.optional(),
      })
      .strict()
      .prefault({}),
    general: z
      .object({
        calendar: classCalendar,
        pause: pauseSchema.optional(),
        response: target.prefault('4h'),
        remoteFix: target.prefault('8h'),
        onsite: target.prefault('48h'),
        resolution: target.optional(),
      })
      .strict()
      .prefault({}),
    preventive: z
      .object({
        calendar: classCalendar,
        pause: pauseSchema.optional(),
        /** How long before the visit the customer is contacted to agree it. */
        notice: duration.prefault('3d'),
        /** The customer is told at least this long before; used by the preventive schedule. */
        response: target.optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    const known = new Set(['24x7', ...Object.keys(p.calendars)]);
    const check = (path: (string | number)[], name: string | undefined) => {
      if (name !== undefined && !known.has(name))
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown calendar "${name}" (calendars: ${[...known].join(', ')})`,
        });
    };
    for (const cls of ['emergency', 'general', 'preventive'] as const) {
      check([cls, 'calendar'], p[cls].calendar);
      for (const [k, t] of Object.entries(p[cls]))
        if (t && typeof t === 'object' && !Array.isArray(t) && 'calendar' in t)
          check([cls, k, 'calendar'], t.calendar);
    }
  });

export type SlaPolicy = z.output<typeof slaSchema>;

/** The targets a wait for `reason` pauses on a ticket of `priority`: the class's rule, else the policy's. */
export function pausedBy(
  policy: SlaPolicy,
  priority: Priority,
  reason: WaitReason,
): readonly SlaTarget[] | 'all' {
  return policy[priority].pause?.[reason] ?? policy.pause[reason] ?? DEFAULT_PAUSE[reason];
}

export { WAIT_REASONS };

const calendarCache = new WeakMap<SlaPolicy, Map<string, Calendar>>();

/** The calendar a policy calls `name` (`24x7` always exists). */
export function calendarOf(policy: SlaPolicy, name: string): Calendar {
  let m = calendarCache.get(policy);
  if (!m) {
    m = new Map([['24x7', new Calendar('24x7')]]);
    for (const [k, spec] of Object.entries(policy.calendars)) m.set(k, new Calendar(spec));
    calendarCache.set(policy, m);
  }
  const c = m.get(name);
  if (!c) throw new Error(`unknown calendar "${name}"`);
  return c;
}

/** A target's duration for the area, and the calendar it is counted on (its own, else the class's). */
function resolveTarget(
  t: Target | undefined,
  area: 'local' | 'remote',
  classCalendarName: string,
): { ms: number; calendar: string } | undefined {
  if (t === undefined) return undefined;
  if (typeof t === 'number') return { ms: t, calendar: classCalendarName };
  const ms = 'within' in t ? t.within : t[area];
  return { ms, calendar: t.calendar ?? classCalendarName };
}

/**
 * The clocks of a new ticket, from `reportedAt` (the reading's time for monitoring tickets).
 * Computed once and stored on the ticket.
 */
export function computeClocks(
  policy: SlaPolicy,
  priority: Priority,
  area: 'local' | 'remote',
  reportedAt: number,
  visitAt?: number,
): Partial<Record<SlaTarget, SlaClock>> {
  const clocks: Partial<Record<SlaTarget, SlaClock>> = {};
  const add = (name: SlaTarget, t: { ms: number; calendar: string } | undefined) => {
    if (t === undefined) return;
    // The deadline counts only the calendar's working time (24x7: plain time).
    clocks[name] = startClock(calendarOf(policy, t.calendar), t.calendar, t.ms, reportedAt);
  };
  if (priority === 'preventive') {
    add('response', resolveTarget(policy.preventive.response, area, policy.preventive.calendar));
    // The agreed visit time is a fixed moment: a plain-time clock ending there.
    if (visitAt !== undefined)
      clocks.visit = startClock(
        calendarOf(policy, '24x7'),
        '24x7',
        Math.max(0, visitAt - reportedAt),
        reportedAt,
      );
    return clocks;
  }
  const p = policy[priority];
  add('response', resolveTarget(p.response, area, p.calendar));
  add('remoteFix', resolveTarget(p.remoteFix, area, p.calendar));
  add('onsite', resolveTarget(p.onsite, area, p.calendar));
  add('resolution', resolveTarget(p.resolution, area, p.calendar));
  return clocks;
}

/**
 * A clock's state at `now`: met (or breached, if met late), paused, breached when overdue, warning
 * once the first warning share of its working time has elapsed, else running.
 */
export function clockState(policy: SlaPolicy, c: SlaClock, now: number): SlaState {
  return pausableState(calendarOf(policy, c.calendar), c, now, policy.warnAt);
}

/** When a running clock shows its first warning (the policy's first share of its working time). */
export function firstWarningAt(policy: SlaPolicy, c: SlaClock): number | null {
  if (c.metAt !== null || c.runningSince === null) return null;
  // A whole millisecond, never before the share (times are stored as integers: PostgreSQL's BIGINT
  // refuses 1796723223593.5, and a ticket with an odd target then could not be stored at all).
  const first = Math.ceil((Math.min(...policy.warnAt, 100) / 100) * c.targetMs);
  if (first <= c.workedMs) return c.runningSince;
  return Math.ceil(calendarOf(policy, c.calendar).add(c.runningSince, first - c.workedMs));
}
