import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso } from '../../lib/time.js';
import { PRIORITIES, SLA_STATES, SOURCES, STATUSES, WAIT_REASONS } from '../../tickets/model.js';
import type { ManualTicketInput, TicketService, TransitionInput } from '../../tickets/service.js';
import type { TicketFilter } from '../../tickets/store.js';
import { limitParam, listParam, parseOrThrow, timeParam } from '../problem.js';

const listQuery = z
  .object({
    status: listParam(STATUSES).optional(),
    priority: listParam(PRIORITIES).optional(),
    source: listParam(SOURCES).optional(),
    slaState: listParam(SLA_STATES).optional(),
    deviceId: z.string().min(1).optional(),
    site: z.string().min(1).optional(),
    customer: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
    assignee: z.string().min(1).optional(),
    faultType: z.string().min(1).optional(),
    ruleId: z.string().min(1).optional(),
    q: z.string().min(1).max(200).optional(),
    sort: z.enum(['urgency', '-createdAt']).default('urgency'),
    limit: limitParam,
    cursor: z.string().min(1).optional(),
  })
  .strict();

const idParams = z.object({ id: z.string().min(1).max(64) }).strict();

const partsList = z
  .array(z.object({ part: z.string().min(1).max(200), quantity: z.number().positive() }).strict())
  .max(200);

const reportBody = z
  .object({
    cause: z.string().min(1).max(5_000),
    actions: z.string().min(1).max(10_000),
    partsUsed: partsList.default([]),
    prevention: z.string().max(5_000).default(''),
  })
  .strict();

const dispatchBody = z
  .object({
    by: z.enum(['own', 'partner']).optional(),
    team: z.string().min(1).max(64).optional(),
    technicians: z.array(z.string().min(1).max(200)).max(20).optional(),
    appointmentAt: timeParam,
    tools: z.array(z.string().min(1).max(200)).max(100).optional(),
    parts: partsList.optional(),
    note: z.string().max(10_000).optional(),
  })
  .strict();

const transitionBody = z
  .object({
    to: z.enum(STATUSES),
    /** Resolving needs a repair report: give it here, or before with POST /tickets/:id/report. */
    report: reportBody.optional(),
    /** Entering `waiting`: what the ticket waits on (the SLA policy's pause conditions apply). */
    waitingOn: z.enum(WAIT_REASONS).optional(),
    /** Entering `dispatched`: the planned on-site visit. */
    dispatch: dispatchBody.optional(),
    note: z.string().max(10_000).optional(),
    actor: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((b) => b.to !== 'waiting' || b.waitingOn !== undefined, {
    path: ['waitingOn'],
    message: `waiting needs waitingOn (${WAIT_REASONS.join(', ')})`,
  });

const visitBody = z
  .object({
    at: timeParam,
    note: z.string().max(10_000).optional(),
    actor: z.string().min(1).max(200).optional(),
  })
  .strict();

const createBody = z
  .object({
    title: z.string().min(1).max(300),
    description: z.string().max(20_000).default(''),
    priority: z.enum(['emergency', 'general']),
    source: z.enum(['phone', 'portal', 'email']),
    reporter: z
      .object({
        name: z.string().min(1).max(200),
        phone: z.string().min(1).max(50).optional(),
        email: z.email().optional(),
        takenBy: z.string().min(1).max(200).optional(),
      })
      .strict(),
    faultType: z.string().min(1).max(64),
    deviceId: z.string().min(1).max(128).optional(),
    site: z.string().min(1).max(128).optional(),
    customer: z.string().min(1).max(200).optional(),
    equipmentModel: z.string().min(1).max(200).optional(),
    team: z.string().min(1).max(64).optional(),
    labels: z.record(z.string().max(64), z.string().max(500)).optional(),
    reportedAt: timeParam.optional(),
    actor: z.string().min(1).max(200).optional(),
  })
  .strict();

const person = z.string().min(1).max(200);
const assignBody = z
  .object({
    add: z.array(person).max(50).default([]),
    remove: z.array(person).max(50).default([]),
    actor: person.optional(),
  })
  .strict()
  .refine((b) => b.add.length + b.remove.length > 0, 'give add and/or remove');
const commentBody = z.object({ note: z.string().min(1).max(20_000), actor: person.optional() }).strict();

export function ticketRoutes(tickets: TicketService, faultTypes: readonly string[]) {
  return async (app: FastifyInstance) => {
    /** A ticket filed by a hotline operator, the customer portal or e-mail intake. */
    app.post('/tickets', async (req, reply) => {
      const b = parseOrThrow(createBody, req.body ?? {}, 'body');
      const problems: { path: string; message: string }[] = [];
      if (!faultTypes.includes(b.faultType))
        problems.push({
          path: 'faultType',
          message: `unknown fault type (rules.faultTypes: ${faultTypes.join(', ')})`,
        });
      if (b.reportedAt !== undefined && b.reportedAt > Date.now() + 60_000)
        problems.push({ path: 'reportedAt', message: 'a fault cannot be reported in the future' });
      if (b.deviceId && b.site)
        problems.push({ path: 'site', message: 'give deviceId or site: the device knows its site' });
      if (b.customer !== undefined && tickets.hasCustomers() && !tickets.customer(b.customer))
        problems.push({ path: 'customer', message: `unknown customer "${b.customer}"` });
      if (problems.length)
        throw new FaultlineError(
          'FL_ERR_API_VALIDATION',
          problems.map((p) => `body ${p.path}: ${p.message}`).join('; '),
          { details: problems },
        );
      const input: ManualTicketInput = {
        title: b.title,
        description: b.description,
        priority: b.priority,
        source: b.source,
        reporter: b.reporter,
        faultType: b.faultType,
        actor: b.actor ?? b.reporter.takenBy ?? b.source,
      };
      for (const k of [
        'deviceId',
        'site',
        'customer',
        'equipmentModel',
        'team',
        'labels',
        'reportedAt',
      ] as const)
        if (b[k] !== undefined) (input as unknown as Record<string, unknown>)[k] = b[k];
      const t = await tickets.createManual(input);
      reply.code(201).header('location', `/api/v1/tickets/${t.id}`);
      return tickets.view(t);
    });

    app.get('/tickets', async (req) => {
      const q = parseOrThrow(listQuery, req.query, 'query');
      const filter: TicketFilter = {};
      for (const k of [
        'status',
        'priority',
        'source',
        'slaState',
        'deviceId',
        'site',
        'customer',
        'team',
        'assignee',
        'faultType',
        'ruleId',
        'q',
      ] as const) {
        if (q[k] !== undefined) (filter as Record<string, unknown>)[k] = q[k];
      }
      const page = await tickets.list(filter, q.sort, q.limit, q.cursor);
      return { items: page.items.map((t) => tickets.view(t)), nextCursor: page.nextCursor };
    });

    app.get('/tickets/:id', async (req) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const t = await tickets.get(id);
      const timeline = await tickets.timeline(id);
      return {
        ...tickets.view(t),
        timeline: timeline.map((e) => ({ ...e, at: toIso(e.at) })),
      };
    });

    app.post('/tickets/:id/transitions', async (req, reply) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const body = parseOrThrow(transitionBody, req.body ?? {}, 'body');
      const input: TransitionInput = { actor: body.actor ?? 'api', note: body.note ?? null };
      if (body.report) input.report = body.report;
      if (body.waitingOn) input.waitingOn = body.waitingOn;
      if (body.dispatch) {
        const { appointmentAt, ...rest } = body.dispatch;
        input.dispatch = { appointmentAt, ...rest };
      }
      const t = await tickets.transition(id, body.to, input);
      reply.code(200);
      return tickets.view(t);
    });

    /** Another visit time agreed with the customer (a dispatched ticket, or a preventive visit). */
    app.post('/tickets/:id/visit', async (req) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const body = parseOrThrow(visitBody, req.body ?? {}, 'body');
      return tickets.view(await tickets.agreeVisit(id, body.at, body.actor ?? 'api', body.note ?? null));
    });

    app.post('/tickets/:id/report', async (req, reply) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const body = parseOrThrow(
        reportBody.extend({ actor: z.string().min(1).max(200).optional() }),
        req.body ?? {},
        'body',
      );
      const { actor, ...report } = body;
      reply.code(201);
      return tickets.view(await tickets.submitReport(id, report, actor ?? 'api'));
    });

    app.post('/tickets/:id/report/review', async (req) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const body = parseOrThrow(
        z
          .object({
            accepted: z.boolean(),
            findings: z.string().min(1).max(10_000).optional(),
            actor: z.string().min(1).max(200).optional(),
          })
          .strict(),
        req.body ?? {},
        'body',
      );
      return tickets.view(
        await tickets.reviewReport(id, body.accepted, body.findings ?? null, body.actor ?? 'api'),
      );
    });

    app.post('/tickets/:id/feedback', async (req, reply) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const body = parseOrThrow(
        z
          .object({
            score: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]),
            comment: z.string().min(1).max(5_000).optional(),
          })
          .strict(),
        req.body ?? {},
        'body',
      );
      reply.code(201);
      return tickets.view(await tickets.feedback(id, body.score, body.comment ?? null));
    });

    /** What the customer receives: the stages with their times and the repair report (no review findings). */
    app.get('/tickets/:id/customer-report', async (req) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const t = await tickets.get(id);
      const timeline = await tickets.timeline(id);
      const firstAt = (to: string) => timeline.find((e) => e.type === 'status' && e.to === to)?.at ?? null;
      const stages = {
        reported: toIso(t.reportedAt),
        responded: t.sla.response?.metAt ? toIso(t.sla.response.metAt) : null,
        onSite: firstAt('on_site') !== null ? toIso(firstAt('on_site') as number) : null,
        resolved: firstAt('resolved') !== null ? toIso(firstAt('resolved') as number) : null,
      };
      return {
        ticket: t.id,
        title: t.title,
        customer: t.customer,
        equipment: { deviceId: t.deviceId, model: t.equipmentModel, site: t.site },
        priority: t.priority,
        status: t.status,
        stages,
        sla: tickets.view(t).sla,
        report: t.report
          ? {
              cause: t.report.cause,
              actions: t.report.actions,
              partsUsed: t.report.partsUsed,
              prevention: t.report.prevention,
            }
          : null,
        feedback: t.feedback ? { score: t.feedback.score, comment: t.feedback.comment } : null,
      };
    });

    app.post('/tickets/:id/assignees', async (req) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const body = parseOrThrow(assignBody, req.body ?? {}, 'body');
      return tickets.view(await tickets.assign(id, body.add, body.remove, body.actor ?? 'api'));
    });

    app.post('/tickets/:id/comments', async (req, reply) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const body = parseOrThrow(commentBody, req.body ?? {}, 'body');
      const t = await tickets.comment(id, body.note, body.actor ?? 'api');
      reply.code(201);
      return tickets.view(t);
    });
  };
}
