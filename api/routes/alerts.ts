import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import type { Alert, AlertStore } from '../../rules/alerts.js';
import { limitParam, listParam, parseOrThrow } from '../problem.js';

const listQuery = z
  .object({
    state: listParam(['pending', 'firing', 'resolved', 'inactive']).optional(),
    deviceId: z.string().min(1).optional(),
    ruleId: z.string().min(1).optional(),
    limit: limitParam,
    cursor: z.string().min(1).optional(),
  })
  .strict();

export function alertView(a: Alert) {
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
    updatedAt: toIso(a.updatedAt),
  };
}

export function alertRoutes(alerts: AlertStore) {
  return async (app: FastifyInstance) => {
    app.get('/alerts', async (req) => {
      const q = parseOrThrow(listQuery, req.query, 'query');
      const filter: Parameters<AlertStore['list']>[0] = {};
      if (q.state) filter.state = q.state;
      if (q.deviceId) filter.deviceId = q.deviceId;
      if (q.ruleId) filter.ruleId = q.ruleId;
      const page = await alerts.list(filter, q.limit, q.cursor);
      return { items: page.items.map(alertView), nextCursor: page.nextCursor };
    });

    app.get('/alerts/:id', async (req) => {
      const { id } = parseOrThrow(z.object({ id: z.string().min(1).max(300) }), req.params, 'path');
      const a = await alerts.get(id);
      if (!a) throw new FaultlineError('FL_ERR_ALERT_NOT_FOUND', `alert "${id}" does not exist`);
      return alertView(a);
    });
  };
}
