import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DeviceRegistry } from '../../ingest/devices.js';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import type { Alert, AlertFilter } from '../../rules/alerts.js';
import type { AlertStore } from '../../rules/store.js';
import { seesSite } from '../auth.js';
import { principalOf } from '../guard.js';
import { limitParam, listParam } from '../problem.js';
import { page, problemSchema } from '../schemas.js';

const listQuery = z
  .object({
    state: listParam(['pending', 'firing', 'resolved', 'inactive']).optional(),
    deviceId: z.string().min(1).optional(),
    ruleId: z.string().min(1).optional(),
    /** Alerts of the devices at this site. */
    site: z.string().min(1).optional(),
    limit: limitParam,
    cursor: z.string().min(1).optional(),
  })
  .strict();

const alertSchema = z
  .object({
    id: z.string(),
    ruleId: z.string(),
    deviceId: z.string(),
    state: z.enum(['pending', 'firing', 'resolved', 'inactive']),
    priority: z.enum(['emergency', 'general', 'preventive']),
    faultType: z.string(),
    value: z.union([z.number(), z.string(), z.boolean()]).nullable(),
    activeAt: z.string().nullable(),
    firedAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    fireCount: z.number().int(),
    flapping: z.boolean(),
    silencedBy: z.string().nullable(),
    updatedAt: z.string(),
    /** The ticket this alert opened (its newest), if any. */
    ticketId: z.string().nullable(),
  })
  .strict();

const historySchema = z
  .object({
    at: z.string(),
    event: z.enum(['pending', 'firing', 'resolved', 'inactive', 'escalated']),
    value: z.union([z.number(), z.string(), z.boolean()]).nullable(),
    priority: z.enum(['emergency', 'general']),
    silencedBy: z.string().nullable(),
  })
  .strict();

export function alertView(a: Alert, ticketId: string | null = null) {
  return {
    id: a.id,
    ruleId: a.ruleId,
    deviceId: a.deviceId,
    state: a.state,
    priority: a.priority,
    faultType: a.faultType,
    value: a.value,
    activeAt: toIsoOrNull(a.activeAt),
    firedAt: toIsoOrNull(a.firedAt),
    resolvedAt: toIsoOrNull(a.resolvedAt),
    fireCount: a.fireCount,
    flapping: a.flapping,
    silencedBy: a.silencedBy,
    updatedAt: toIso(a.updatedAt), // the gateway's clock, always a time
    ticketId,
  };
}

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };

/** The tickets of alerts, by alert id (the ticket service). */
type TicketsOfAlerts = (alertIds: readonly string[]) => Promise<Map<string, string>>;

export function alertRoutes(alerts: AlertStore, devices: DeviceRegistry, ticketsOf: TicketsOfAlerts) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/alerts',
      {
        config: { access: 'alerts:read' },
        schema: {
          tags: ['alerts'],
          summary: 'List alerts (firing first)',
          querystring: listQuery,
          response: { 200: page(alertSchema), ...errors },
        },
      },
      async (req) => {
        const p = principalOf(req);
        const q = req.query;
        const filter: AlertFilter = {};
        if (q.state) filter.state = q.state;
        if (q.deviceId) filter.deviceId = q.deviceId;
        if (q.ruleId) filter.ruleId = q.ruleId;
        if (p.sites || q.site)
          filter.deviceIn = devices
            .list()
            .filter((d) => seesSite(p, d.site) && (q.site === undefined || d.site === q.site))
            .map((d) => d.id);
        const res = await alerts.list(filter, q.limit, q.cursor);
        const tickets = await ticketsOf(res.items.map((a) => a.id));
        return {
          items: res.items.map((a) => alertView(a, tickets.get(a.id) ?? null)),
          nextCursor: res.nextCursor,
        };
      },
    );

    app.get(
      '/alerts/:id',
      {
        config: { access: 'alerts:read' },
        schema: {
          tags: ['alerts'],
          summary: 'An alert with its history (the newest 100 changes first)',
          params: z.object({ id: z.string().min(1).max(300) }),
          response: { 200: alertSchema.extend({ history: z.array(historySchema) }).strict(), ...errors },
        },
      },
      async (req) => {
        const p = principalOf(req);
        const { id } = req.params;
        const a = await alerts.get(id);
        if (!a || !seesSite(p, devices.get(a.deviceId)?.site ?? null))
          throw new FaultlineError('FL_ERR_ALERT_NOT_FOUND', `alert "${id}" does not exist`);
        const history = await alerts.history(id, 100);
        const shown = history.flatMap((h) => {
          const at = toIsoOrNull(h.at);
          return at === null ? [] : [{ ...h, at }];
        });
        const ticket = (await ticketsOf([a.id])).get(a.id) ?? null;
        return { ...alertView(a, ticket), history: shown };
      },
    );
  };
}
