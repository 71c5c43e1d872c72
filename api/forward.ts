import type { FastifyInstance, FastifyReply, FastifyRequest, InjectOptions } from 'fastify';

/**
 * The API in two threads (`api.worker`): a worker thread owns the HTTP port and serves the routes
 * marked `config.worker` (reads from its own SQLite connections); every other route is checked there
 * (key, permission, rate limit, body) and then passed to the main thread, which answers it with the
 * same app through `inject`. This file is both ends of that passage; the threads and their messages
 * are wired in `gateway/api-thread.ts`.
 */

/** A request the worker passes on, as it arrived. */
export interface ForwardedRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body as received (JSON or text), or null without one. */
  body: string | null;
  /** The caller's address (rate limits without a key go by it). */
  remoteAddress: string;
}

export interface ForwardedResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Uint8Array;
}

export type Forward = (r: ForwardedRequest) => Promise<ForwardedResponse>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as received, kept where requests are forwarded. */
    rawBody?: string;
  }
}

/** Headers of the connection rather than of the message (RFC 9110 §7.6.1), and those the server sets anew. */
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'date',
]);

/**
 * In the worker's app: keeps each body as received (the validated one may carry defaults and
 * coercions the main thread would apply again) and gives every route that is not served here a
 * handler that forwards it. Call before the routes are registered.
 */
export function installForwarding(app: FastifyInstance, forward: Forward): void {
  // The same JSON parser as Fastify's own (prototype poisoning refused), keeping the text.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    req.rawBody = body as string;
    json(req, body as string, done);
  });
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (req, body, done) => {
    req.rawBody = body as string;
    done(null, body);
  });

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const res = await forward({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: req.rawBody ?? null,
      remoteAddress: req.ip,
    });
    reply.code(res.status);
    for (const [name, value] of Object.entries(res.headers))
      if (value !== undefined && !CONNECTION_HEADERS.has(name)) reply.header(name, value);
    return reply.send(Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength));
  };
  app.addHook('onRoute', (r) => {
    // Routes without an access declaration are Fastify's and its plugins' (documentation pages).
    if (r.config?.access !== undefined && !r.config.worker) r.handler = handler;
  });
}

/** In the main thread: answers a forwarded request with the full app. */
export async function answerForwarded(app: FastifyInstance, r: ForwardedRequest): Promise<ForwardedResponse> {
  const res = await app.inject({
    method: r.method as NonNullable<InjectOptions['method']>,
    url: r.url,
    headers: r.headers,
    remoteAddress: r.remoteAddress,
    ...(r.body !== null ? { payload: r.body } : {}),
  });
  return { status: res.statusCode, headers: res.headers, body: res.rawPayload };
}
