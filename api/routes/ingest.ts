import type { FastifyInstance } from 'fastify';
import type { IngestStatus } from '../../ingest/status.js';
import { toIsoOrNull } from '../../lib/time.js';

/** `GET /ingest`: where every accepted reading is — counted, spooled, written, dead-lettered. */
export function ingestRoutes(status: () => Promise<IngestStatus>) {
  return async (app: FastifyInstance) => {
    app.get(
      '/ingest',
      {
        config: { access: 'ingest:read' },
        schema: { tags: ['ingest'], summary: 'Where every accepted reading is' },
      },
      async () => {
        const s = await status();
        const now = Date.now();
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
          deadLetters: s.deadLetters,
          sources: s.sources,
        };
      },
    );
  };
}
