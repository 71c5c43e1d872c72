import { z } from 'zod';
import { duration } from '../lib/duration.js';
import { shown } from '../lib/zod-messages.js';
import type { Priority, SlaClock, SlaState, SlaTarget } from './model.js';

/** A target: one duration, or one per service area (own technicians vs partner team). */
const target = z.union([duration, z.object({ local: duration, remote: duration }).strict()], {
  error: (iss) => `expected a duration (4h) or { local: 4h, remote: 24h }, got ${shown(iss.input)}`,
});
type Target = z.output<typeof target>;

/**
 * The SLA policy (R1). Every time is configuration; the defaults are the example policy:
 * emergency — respond 1h, on site 4h (local) / 24h (remote, partner team);
 * general — respond 4h, remote fix 8h, on site 48h; preventive — announced 3 days ahead.
 */
export const slaSchema = z
  .object({
    /** Warn when this share (percent) of a clock's time has elapsed. */
    warnAt: z.array(z.number().gt(0).lt(100)).default([50, 75]),
    emergency: z
      .object({
        response: target.prefault('1h'),
        onsite: target.prefault({ local: '4h', remote: '24h' }),
        remoteFix: target.optional(),
        resolution: target.optional(),
      })
      .strict()
      .prefault({}),
    general: z
      .object({
        response: target.prefault('4h'),
        remoteFix: target.prefault('8h'),
        onsite: target.prefault('48h'),
        resolution: target.optional(),
      })
      .strict()
      .prefault({}),
    preventive: z
      .object({
        /** How long before the visit the customer is contacted to agree it. */
        notice: duration.prefault('3d'),
        /** The customer is told at least this long before; used by the preventive schedule. */
        response: target.optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type SlaPolicy = z.output<typeof slaSchema>;

function resolveTarget(t: Target | undefined, area: 'local' | 'remote'): number | undefined {
  if (t === undefined) return undefined;
  return typeof t === 'number' ? t : t[area];
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
  const add = (name: SlaTarget, ms: number | undefined) => {
    if (ms !== undefined) clocks[name] = { startAt: reportedAt, dueAt: reportedAt + ms, metAt: null };
  };
  if (priority === 'preventive') {
    add('response', resolveTarget(policy.preventive.response, area));
    if (visitAt !== undefined) clocks.visit = { startAt: reportedAt, dueAt: visitAt, metAt: null };
    return clocks;
  }
  const p = policy[priority];
  add('response', resolveTarget(p.response, area));
  add('remoteFix', resolveTarget(p.remoteFix, area));
  add('onsite', resolveTarget(p.onsite, area));
  add('resolution', resolveTarget(p.resolution, area));
  return clocks;
}

/**
 * A clock's state at `now`: met (or breached, if met late), breached when overdue, warning once
 * the first warning share has elapsed, else running.
 */
export function clockState(c: SlaClock, now: number, warnAt: readonly number[]): SlaState {
  if (c.metAt !== null) return c.metAt <= c.dueAt ? 'met' : 'breached';
  if (now > c.dueAt) return 'breached';
  const span = c.dueAt - c.startAt;
  const firstWarn = Math.min(...warnAt, 100);
  if (span > 0 && ((now - c.startAt) / span) * 100 >= firstWarn) return 'warning';
  return 'running';
}
