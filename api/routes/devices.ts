import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Device, DeviceRegistry } from '../../ingest/devices.js';
import { type History, type HistoryBucket, MINUTE_MS } from '../../ingest/history.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { parseDuration } from '../../lib/duration.js';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import { seesSite } from '../auth.js';
import { principalOf } from '../guard.js';
import { limitParam, timeParam } from '../problem.js';

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
  for (const [k, v] of Object.entries(d.lastValues)) {
    const ts = toIsoOrNull(v.ts);
    if (ts !== null) lastValues[k] = { value: v.value, ts };
  }
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
    units: d.units ?? {},
    connectivity: { ...d.connectivity, since: toIsoOrNull(d.connectivity.since) },
  };
}

const MAX_BUCKETS = 10_000;

const time = timeParam;

const telemetryQuery = z
  .object({
    metric: z.string().min(1),
    from: time.optional(),
    to: time.optional(),
    step: z
      .string()
      .default('1m')
      .transform((v, ctx) => {
        const ms = parseDuration(v);
        if (ms === undefined || ms < MINUTE_MS || ms % MINUTE_MS !== 0) {
          ctx.addIssue({
            code: 'custom',
            message: `step must be a whole number of minutes, at least 1m, got "${v}"`,
          });
          return z.NEVER;
        }
        return ms;
      }),
    /**
     * Where from: `auto` (default) InfluxDB when one is configured, else — or when it cannot answer —
     * the local rollups; `rollups` or `influxdb` to choose.
     */
    source: z.enum(['auto', 'rollups', 'influxdb']).default('auto'),
  })
  .strict();

/** A metric's history from InfluxDB (when one is configured): steps of min, max, mean, last, count. */
export type InfluxHistory = (
  deviceId: string,
  metric: string,
  from: number,
  to: number,
  stepMs: number,
) => Promise<HistoryBucket[]>;

type Sources = (deviceId: string) => { adapter: string; protocol: string; stats: Record<string, unknown> }[];

const idParams = z.object({ id: z.string().min(1).max(128) });
const tags = ['devices'];

export function deviceRoutes(
  devices: DeviceRegistry,
  history: History,
  sources: Sources = () => [],
  influx?: InfluxHistory,
) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    /** The device, if the caller may see its site. */
    const visible = (req: Parameters<typeof principalOf>[0], id: string) => {
      const d = devices.get(id);
      if (!d || !seesSite(principalOf(req), d.site))
        throw new FaultlineError('FL_ERR_DEVICE_NOT_FOUND', `device "${id}" does not exist`);
      return d;
    };

    app.get(
      '/devices',
      {
        config: { access: 'devices:read' },
        schema: {
          tags,
          summary: 'Devices with connectivity, last seen and last values',
          querystring: listQuery,
        },
      },
      async (req) => {
        const p = principalOf(req);
        const q = req.query;
        const after = q.cursor ? (decodeCursor(q.cursor, 1)[0] as string) : undefined;
        const all = devices
          .list()
          .filter((d) => seesSite(p, d.site))
          .filter((d) => (q.site ? d.site === q.site : true) && (q.model ? d.model === q.model : true))
          .filter((d) => (after === undefined ? true : d.id > after))
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const items = all.slice(0, q.limit);
        const last = items[items.length - 1];
        return {
          items: items.map((d) => ({ ...deviceView(d), sources: sources(d.id) })),
          nextCursor: all.length > q.limit && last ? encodeCursor([last.id]) : null,
        };
      },
    );

    app.get(
      '/devices/:id',
      { config: { access: 'devices:read' }, schema: { tags, summary: 'A device', params: idParams } },
      async (req) => {
        const d = visible(req, req.params.id);
        return { ...deviceView(d), sources: sources(d.id) };
      },
    );

    // Local history from the per-minute rollups (step ≥ 1m).
    app.get(
      '/devices/:id/telemetry',
      {
        config: { access: 'devices:read' },
        schema: {
          tags,
          summary: "A metric's history (per-minute rollups: min, max, mean, last, count)",
          params: idParams,
          querystring: telemetryQuery,
        },
      },
      async (req) => {
        const { id } = req.params;
        visible(req, id);
        const q = req.query;
        const to = q.to ?? Date.now();
        const from = q.from ?? to - 3_600_000;
        if (from >= to) throw new FaultlineError('FL_ERR_API_VALIDATION', '"from" must be before "to"');
        if ((to - from) / q.step > MAX_BUCKETS) {
          throw new FaultlineError(
            'FL_ERR_API_VALIDATION',
            `at most ${MAX_BUCKETS} steps per request: widen "step" or narrow the range`,
          );
        }
        if (q.source === 'influxdb' && !influx)
          throw new FaultlineError('FL_ERR_API_VALIDATION', 'query source: no InfluxDB is configured', {
            details: [{ path: 'source', message: 'no InfluxDB is configured' }],
          });
        let source: 'influxdb' | 'rollups' = influx && q.source !== 'rollups' ? 'influxdb' : 'rollups';
        let fallback: string | undefined;
        let buckets: HistoryBucket[] = [];
        if (source === 'influxdb')
          try {
            buckets = await (influx as InfluxHistory)(id, q.metric, from, to, q.step);
          } catch (err) {
            if (q.source === 'influxdb')
              throw new FaultlineError(
                'FL_ERR_API_UNAVAILABLE',
                `InfluxDB could not answer: ${(err as Error).message}`,
              );
            // The local rollups answer instead, and the answer says why.
            source = 'rollups';
            fallback = `InfluxDB could not answer (${(err as Error).message}); from the local rollups`;
          }
        if (source === 'rollups') buckets = await history.query(id, q.metric, from, to, q.step);
        if (buckets.length === 0) {
          const known = await history.metrics(id);
          if (!known.includes(q.metric)) {
            throw new FaultlineError(
              'FL_ERR_API_VALIDATION',
              `device "${id}" has no history of metric "${q.metric}"${known.length ? ` (it has: ${known.join(', ')})` : ''}`,
            );
          }
        }
        return {
          deviceId: id,
          metric: q.metric,
          from: toIso(from),
          to: toIso(to),
          stepMs: q.step,
          source,
          ...(fallback ? { fallback } : {}),
          points: buckets.map((b) => ({ ...b, t: toIso(b.t) })),
        };
      },
    );
  };
}
