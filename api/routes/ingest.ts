import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DeviceRegistry } from '../../ingest/devices.js';
import type { IngestStatus } from '../../ingest/status.js';
import type { DeadLetterStore } from '../../ingest/store.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import { type Principal, seesSite } from '../auth.js';
import { principalOf } from '../guard.js';

const MAX_PAYLOAD_SHOWN = 4_096;

/**
 * `GET /ingest`: where every accepted reading is — counted, spooled, written, dead-lettered.
 * `GET /ingest/dead-letters`: the newest rejected payloads with their reasons.
 */
export function ingestRoutes(
  status: () => Promise<IngestStatus>,
  deadLetters?: DeadLetterStore,
  devices?: DeviceRegistry,
) {
  /** The devices a key limited to sites may see; undefined for a key that sees every site. */
  const visibleDevices = (p: Principal): string[] | undefined =>
    p.sites === null
      ? undefined
      : (devices?.list() ?? []).filter((d) => seesSite(p, d.site)).map((d) => d.id);
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/ingest',
      {
        config: { access: 'ingest:read' },
        schema: { tags: ['ingest'], summary: 'Where every accepted reading is' },
      },
      async (req) => {
        const s = await status();
        const now = Date.now();
        const mine = visibleDevices(principalOf(req));
        return {
          readings: s.readings,
          spool: {
            ...s.spool,
            oldestAt: toIsoOrNull(s.spool.oldestAt),
            oldestAgeMs: s.spool.oldestAt === null ? null : now - s.spool.oldestAt,
          },
          influx: s.influx && {
            ...s.influx,
            lastSuccessAt: toIsoOrNull(s.influx.lastSuccessAt),
            lastErrorAt: toIsoOrNull(s.influx.lastErrorAt),
            state: s.influx.failingFor > 0 ? 'retrying' : 'ok',
          },
          deadLetters: mine && deadLetters ? await deadLetters.count(mine) : s.deadLetters,
          sources: s.sources,
        };
      },
    );

    if (!deadLetters) return;
    app.get(
      '/ingest/dead-letters',
      {
        config: { access: 'ingest:read' },
        schema: {
          tags: ['ingest'],
          summary: 'The newest rejected payloads, with the reason and where they came from',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict(),
        },
      },
      async (req) => {
        // A key limited to sites sees its devices' rejects only (unknown senders stay hidden from it).
        const mine = visibleDevices(principalOf(req));
        const items = await deadLetters.list(req.query.limit, mine);
        return {
          items: items.map((d) => {
            const text = d.payload.toString('utf8');
            const printable = !text.includes('\uFFFD');
            return {
              id: d.id,
              at: toIso(d.at),
              source: d.source,
              deviceId: d.deviceId,
              origin: d.origin,
              reason: d.reason,
              payloadBytes: d.payload.length,
              payload: printable ? text.slice(0, MAX_PAYLOAD_SHOWN) : null,
              payloadBase64: printable ? null : d.payload.subarray(0, MAX_PAYLOAD_SHOWN).toString('base64'),
            };
          }),
          total: await deadLetters.count(mine),
        };
      },
    );
  };
}
