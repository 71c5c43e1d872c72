import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Device, DeviceRegistry } from '../../ingest/devices.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import { limitParam, parseOrThrow } from '../problem.js';

const listQuery = z
  .object({
    site: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    limit: limitParam,
    cursor: z.string().min(1).optional(),
  })
  .strict();

export function deviceView(d: Device) {
  const lastValues: Record<string, { value: unknown; ts: string }> = {};
  for (const [k, v] of Object.entries(d.lastValues)) lastValues[k] = { value: v.value, ts: toIso(v.ts) };
  return {
    id: d.id,
    name: d.name,
    model: d.model,
    site: d.site,
    customer: d.customer,
    tags: d.tags,
    configured: d.configured,
    firstSeenAt: toIsoOrNull(d.firstSeenAt),
    lastSeenAt: toIsoOrNull(d.lastSeenAt),
    lastValues,
    activeErrorCodes: d.activeErrorCodes,
  };
}

export function deviceRoutes(devices: DeviceRegistry) {
  return async (app: FastifyInstance) => {
    app.get('/devices', async (req) => {
      const q = parseOrThrow(listQuery, req.query, 'query');
      const after = q.cursor ? (decodeCursor(q.cursor, 1)[0] as string) : undefined;
      const all = devices
        .list()
        .filter((d) => (q.site ? d.site === q.site : true) && (q.model ? d.model === q.model : true))
        .filter((d) => (after === undefined ? true : d.id > after))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const items = all.slice(0, q.limit);
      const last = items[items.length - 1];
      return {
        items: items.map(deviceView),
        nextCursor: all.length > q.limit && last ? encodeCursor([last.id]) : null,
      };
    });

    app.get('/devices/:id', async (req) => {
      const { id } = parseOrThrow(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
      const d = devices.get(id);
      if (!d) throw new FaultlineError('FL_ERR_DEVICE_NOT_FOUND', `device "${id}" does not exist`);
      return deviceView(d);
    });
  };
}
