import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import picomatch from 'picomatch';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import type { Outbox, StoredEvent } from '../../notify/outbox.js';
import { type Principal, type StreamTokens, seesSite } from '../auth.js';
import { principalOf } from '../guard.js';

const REPLAY_PAGE = 1_000;
/** A client that does not read closes its stream (it reconnects with Last-Event-ID and catches up). */
const MAX_BUFFERED_BYTES = 4 * 1_048_576;

const query = z
  .object({
    /** Event types or globs, comma-separated (`ticket.*,sla.breach`); default all. */
    types: z.string().min(1).max(500).optional(),
    /** Replay from after this event id (instead of the Last-Event-ID header). */
    lastEventId: z
      .string()
      .regex(/^\d{1,15}$/)
      .optional(),
    /** A stream token (POST /events/token), for EventSource, which cannot send headers. */
    token: z.string().min(1).max(500).optional(),
  })
  .strict();

/** Whether the caller may see the event: a key limited to sites sees theirs; a customer its tickets. */
export function seesEvent(p: Principal, e: StoredEvent): boolean {
  if (p.role === 'customer')
    return (e.type.startsWith('ticket.') || e.type === 'customer.notice') && e.customer === p.customer;
  return p.sites === null || seesSite(p, e.site);
}

const frame = (e: StoredEvent) =>
  `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ id: String(e.seq), type: e.type, timestamp: toIsoOrNull(e.at), subject: e.subject, data: e.data })}\n\n`;

/**
 * `GET /events`: Server-Sent Events of ticket, alert, SLA and device changes. Resumable: with
 * `Last-Event-ID` (EventSource sends it when it reconnects) or `lastEventId`, the events after it are
 * replayed first, then new ones follow. A comment every `heartbeatMs` keeps proxies from closing it.
 */
/** Streams open at once: per key, and in all (each holds a socket, a timer and a buffer). */
export interface StreamLimits {
  perKey: number;
  total: number;
}

export function eventRoutes(
  outbox: Outbox,
  tokens: StreamTokens,
  limits: StreamLimits = { perKey: 20, total: 1_000 },
  heartbeatMs = 15_000,
) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    // Open streams end when the API starts closing (a stop or restart), so that closing does not wait on them.
    const open = new Set<{ destroy(): void }>();
    const perKey = new Map<string, number>();
    app.addHook('preClose', async () => {
      for (const s of open) s.destroy();
    });
    app.post(
      '/events/token',
      {
        config: { access: 'events:read', worker: true },
        schema: {
          tags: ['events'],
          summary: 'A short-lived token to open the event stream from a browser (EventSource)',
        },
      },
      async (req) => {
        const t = tokens.issue(principalOf(req));
        return { token: t.token, expiresAt: toIso(t.expiresAt) };
      },
    );

    app.get(
      '/events',
      {
        config: { access: 'events:read', streamToken: true, worker: true },
        schema: {
          tags: ['events'],
          summary: 'Live events (text/event-stream), resumable with Last-Event-ID',
          querystring: query,
        },
      },
      async (req, reply) => {
        const p = principalOf(req);
        const q = req.query;
        const want = q.types ? picomatch(q.types.split(',').map((s) => s.trim())) : () => true;
        const header = req.headers['last-event-id'];
        const fromText =
          q.lastEventId ?? (typeof header === 'string' && /^\d{1,15}$/.test(header) ? header : undefined);
        const visible = (e: StoredEvent) => want(e.type) && seesEvent(p, e);
        // One key cannot hold every socket and timer of the API (issue 18: cheap denial of service).
        const mine = perKey.get(p.keyId) ?? 0;
        if (mine >= limits.perKey || open.size >= limits.total)
          throw new FaultlineError(
            'FL_ERR_API_RATE_LIMITED',
            mine >= limits.perKey
              ? `this key has ${mine} event streams open already (api.streams.perKey: ${limits.perKey}); close one first`
              : `${open.size} event streams are open (api.streams.total: ${limits.total}); retry later`,
          );
        perKey.set(p.keyId, mine + 1);

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
          'x-content-type-options': 'nosniff',
        });
        res.write('retry: 3000\n\n');
        let closed = false;
        // The last event sent or passed over: events come in seq order, and one the replay read
        // from the database may be relayed again afterwards (with the API on its worker thread the
        // relay reads the main thread's commits from the database too, a little later) — never twice.
        let after = 0;
        const send = (e: StoredEvent) => {
          if (closed || e.seq <= after) return;
          after = e.seq;
          if (!visible(e)) return;
          res.write(frame(e));
          if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
        };
        // Live events are held back while the replay runs, then sent after it.
        let replaying = true;
        const held: StoredEvent[] = [];
        const off = outbox.on((e) => (replaying ? held.push(e) : send(e)));
        const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
        heartbeat.unref();
        open.add(res);
        res.on('close', () => {
          open.delete(res);
          const left = (perKey.get(p.keyId) ?? 1) - 1;
          if (left > 0) perKey.set(p.keyId, left);
          else perKey.delete(p.keyId);
          closed = true;
          off();
          clearInterval(heartbeat);
        });
        after = fromText === undefined ? await outbox.lastSeq() : Number(fromText);
        for (;;) {
          const page = await outbox.since(after, REPLAY_PAGE);
          for (const e of page) send(e);
          if (page.length < REPLAY_PAGE || closed) break;
          await new Promise((r) => setImmediate(r));
        }
        replaying = false;
        for (const e of held) send(e);
        held.length = 0;
      },
    );
  };
}
