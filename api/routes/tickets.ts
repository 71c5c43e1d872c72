import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toIso } from '../../lib/time.js';
import { PRIORITIES, SLA_STATES, SOURCES, STATUSES } from '../../tickets/model.js';
import type { TicketService } from '../../tickets/service.js';
import type { TicketFilter } from '../../tickets/store.js';
import { limitParam, listParam, parseOrThrow } from '../problem.js';

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

export function ticketRoutes(tickets: TicketService) {
  return async (app: FastifyInstance) => {
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
  };
}
