import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso } from '../../lib/time.js';
import { PRIORITIES, SLA_STATES, SOURCES, STATUSES } from '../../tickets/model.js';
import type { ManualTicketInput, TicketService } from '../../tickets/service.js';
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

const transitionBody = z
  .object({
    to: z.enum(STATUSES),
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
      const t = await tickets.transition(id, body.to, body.actor ?? 'api', body.note ?? null);
      reply.code(200);
      return tickets.view(t);
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
