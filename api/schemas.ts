import { z } from 'zod';
import { PRIORITIES, SLA_STATES, SLA_TARGETS, SOURCES, STATUSES, WAIT_REASONS } from '../tickets/model.js';

/**
 * Response shapes, for the OpenAPI document and to keep answers to their contract: a field a view
 * adds without its schema fails the tests (objects are strict).
 */
const iso = z.iso.datetime();
const isoOrNull = iso.nullable();
const parts = z.array(z.object({ part: z.string(), quantity: z.number() }).strict());

export const clockSchema = z
  .object({
    dueAt: iso,
    state: z.enum(SLA_STATES),
    metAt: isoOrNull,
    pausedAt: isoOrNull,
    /** The clock's target: working time allowed (ms). */
    targetMs: z.number().int(),
    /** Working time used when answered, or when met (ms; business hours and pauses excluded). */
    elapsedMs: z.number().int(),
  })
  .strict();

export const ticketSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    description: z.string(),
    priority: z.enum(PRIORITIES),
    status: z.enum(STATUSES),
    source: z.enum(SOURCES),
    deviceId: z.string().nullable(),
    site: z.string().nullable(),
    area: z.enum(['local', 'remote']),
    customer: z.string().nullable(),
    equipmentModel: z.string().nullable(),
    ruleId: z.string().nullable(),
    alertId: z.string().nullable(),
    faultType: z.string(),
    occurrences: z.number().int(),
    lastOccurrenceAt: isoOrNull,
    reportedAt: iso,
    createdAt: iso,
    updatedAt: iso,
    assignees: z.array(z.string()),
    team: z.string().nullable(),
    reporter: z
      .object({
        name: z.string(),
        phone: z.string().optional(),
        email: z.string().optional(),
        takenBy: z.string().optional(),
      })
      .strict()
      .nullable(),
    report: z
      .object({
        cause: z.string(),
        actions: z.string(),
        partsUsed: parts,
        prevention: z.string(),
        by: z.string(),
        at: iso,
        review: z
          .object({
            state: z.enum(['pending', 'accepted', 'returned']),
            by: z.string().nullable(),
            at: isoOrNull,
            findings: z.string().nullable(),
          })
          .strict(),
      })
      .strict()
      .nullable(),
    feedback: z
      .object({ score: z.number().int(), comment: z.string().nullable(), at: iso })
      .strict()
      .nullable(),
    waitingOn: z.enum(WAIT_REASONS).nullable(),
    waitingFor: z
      .array(z.object({ part: z.string(), quantity: z.number(), expectedAt: isoOrNull }).strict())
      .nullable(),
    dispatch: z
      .object({
        by: z.enum(['own', 'partner']),
        team: z.string().nullable(),
        technicians: z.array(z.string()),
        appointmentAt: iso,
        tools: z.array(z.string()),
        parts,
        note: z.string().nullable(),
        plannedAt: iso,
        plannedBy: z.string(),
      })
      .strict()
      .nullable(),
    labels: z.record(z.string(), z.string()),
    sla: z.partialRecord(z.enum(SLA_TARGETS), clockSchema),
  })
  .strict();

export const timelineEntrySchema = z
  .object({
    ticketId: z.string(),
    at: iso,
    type: z.string(),
    actor: z.string(),
    from: z.enum(STATUSES).nullable(),
    to: z.enum(STATUSES).nullable(),
    note: z.string().nullable(),
  })
  .strict();

export const ticketWithTimelineSchema = ticketSchema
  .extend({
    timeline: z.array(timelineEntrySchema),
    /** The statuses the ticket may go to now (`POST /tickets/:id/transitions`). */
    next: z.array(z.enum(STATUSES)),
  })
  .strict();

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).strict();

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
    errors: z.unknown().optional(),
  })
  .strict()
  .describe('RFC 9457 problem details (docs/errors.md)');

/**
 * A key or a user with the technician role names its technician, with the customer role its
 * customer (the rule both `POST /keys` and `POST /users` check, beside the field).
 */
export function refineBinding(what: 'key' | 'user') {
  return (
    b: { role: string; technician?: string | undefined; customer?: string | undefined },
    ctx: z.RefinementCtx,
  ) => {
    for (const role of ['technician', 'customer'] as const)
      if (b.role === role && !b[role])
        ctx.addIssue({ code: 'custom', path: [role], message: `a ${role} ${what} names its ${role}` });
  };
}
