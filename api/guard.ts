import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AuthThrottle } from '../lib/auth-throttle.js';
import { FaultlineError } from '../lib/errors.js';
import type { Ticket } from '../tickets/model.js';
import type { TicketFilter } from '../tickets/store.js';
import { type ApiKeys, can, type Permission, type Principal, type StreamTokens, seesSite } from './auth.js';
import type { Sessions } from './sessions.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What the route needs: a permission of the caller's role, a console session whatever the role
     * (`session`: the user's own account), or nothing (`public`). Required.
     */
    access?: Permission | 'public' | 'session';
    /** The route also takes a stream token in `?token=` (EventSource cannot send headers). */
    streamToken?: boolean;
    /**
     * Served by the API worker thread (`api.worker`) where there is one: the route reads only what
     * the worker has too (the SQLite stores, the configuration). Other routes go to the main thread.
     */
    worker?: boolean;
  }
  interface FastifyInstance {
    /** Every route with the access it declared (for the access tests and the documentation). */
    faultlineRoutes: RouteEntry[];
  }
  interface FastifyRequest {
    /** The caller, once the key was checked (null on public routes). */
    principal: Principal | null;
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  access: Permission | 'public' | 'session' | null;
}

/** Routes outside `/api/v1` that anyone may call: the documentation page and its assets. */
const PUBLIC_PREFIXES = ['/docs'];

/**
 * Checks every request before its handler: the route's declared access, the bearer key — or, without
 * one, the console session and for changes its CSRF token (sessions.ts) — (401 when missing or
 * unknown), the role's permission (403). Registration fails for an `/api/v1` route that
 * declares no access, so that no route is open by omission.
 */
export function installAuth(
  app: FastifyInstance,
  keys: ApiKeys,
  tokens?: StreamTokens,
  throttle?: AuthThrottle,
  sessions?: Sessions,
): void {
  // A plugin at the root, registered after the session plugin: its hooks run after that one's.
  app.register(fp(async (root) => installHooks(root, keys, tokens, throttle, sessions)));
}

function installHooks(
  app: FastifyInstance,
  keys: ApiKeys,
  tokens: StreamTokens | undefined,
  throttle: AuthThrottle | undefined,
  sessions: Sessions | undefined,
): void {
  app.decorateRequest('principal', null);
  const table: RouteEntry[] = [];
  app.decorate('faultlineRoutes', table);
  app.addHook('onRoute', (r) => {
    if (r.url.startsWith('/api/v1') && !r.config?.access)
      throw new Error(`route ${r.method} ${r.url} declares no access (config.access)`);
    for (const method of Array.isArray(r.method) ? r.method : [r.method])
      if (method !== 'HEAD') table.push({ method, url: r.url, access: r.config?.access ?? null });
  });
  app.addHook('onRequest', async (req, reply) => {
    const access = req.routeOptions.config?.access;
    if (access === 'public') return;
    if (access === undefined && PUBLIC_PREFIXES.some((p) => req.url.startsWith(p))) return;
    // Unknown routes under /api/v1 need a key too: no probing for what exists.
    if (access === undefined && !req.url.startsWith('/api/')) return;
    if (access === 'session') {
      const signedIn = await sessions?.principal(req);
      if (!signedIn) throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'sign in to the console first');
      req.principal = signedIn.principal;
      return;
    }
    const withKey = req.headers.authorization !== undefined || (req.query as { token?: unknown })?.token;
    const p =
      (!withKey && (await sessions?.principal(req))?.principal) ||
      (await authenticateThrottled(
        req,
        reply,
        keys,
        req.routeOptions.config?.streamToken ? tokens : undefined,
        throttle,
      ));
    if (access !== undefined && !can(p, access as Permission))
      throw new FaultlineError(
        'FL_ERR_AUTH_FORBIDDEN',
        `the ${p.role} role may not do this (needs ${access})`,
      );
    req.principal = p;
  });
}

/**
 * `authenticate`, with failed attempts counted per client address (issue 18): once an address sent
 * `maxFailures` unknown keys or tokens within the window, its failures are answered 429 (with
 * Retry-After) until the block ends. A valid key still passes (checking one is a hash and an index
 * lookup), so that an attacker behind the same NAT cannot lock the plant's programs out. A request
 * without credentials is not a guess and is not counted.
 */
async function authenticateThrottled(
  req: FastifyRequest,
  reply: FastifyReply,
  keys: ApiKeys,
  tokens: StreamTokens | undefined,
  throttle: AuthThrottle | undefined,
): Promise<Principal> {
  try {
    return await authenticate(req, keys, tokens);
  } catch (err) {
    const presented = req.headers.authorization !== undefined || (req.query as { token?: unknown })?.token;
    if (!throttle || !presented || !(err instanceof FaultlineError) || err.code !== 'FL_ERR_AUTH_REQUIRED')
      throw err;
    const blockedMs = Math.max(await throttle.blockedFor(req.ip), await throttle.failed(req.ip));
    if (blockedMs === 0) throw err;
    reply.header('retry-after', String(Math.ceil(blockedMs / 1000)));
    throw new FaultlineError(
      'FL_ERR_API_RATE_LIMITED',
      `too many failed authentications from this address; retry in ${Math.ceil(blockedMs / 1000)} s`,
    );
  }
}

async function authenticate(req: FastifyRequest, keys: ApiKeys, tokens?: StreamTokens): Promise<Principal> {
  const h = req.headers.authorization;
  const token = (req.query as Record<string, unknown> | undefined)?.token;
  if (!h && tokens && typeof token === 'string') {
    const p = await tokens.verify(token);
    if (!p)
      throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'unknown or expired stream token: get a new one');
    return p;
  }
  if (!h) throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'send an API key: Authorization: Bearer <key>');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'the Authorization header must be "Bearer <key>"');
  const p = await keys.verify(m[1] as string);
  if (!p) throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'unknown, revoked or expired API key');
  return p;
}

/** The caller of a route that is not public. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'send an API key');
  return req.principal;
}

/** Limits a ticket query to what the caller may see: its sites, its customer. */
export function scopeTickets(p: Principal, f: TicketFilter): TicketFilter {
  const out: TicketFilter = { ...f };
  if (p.sites) out.siteIn = p.sites;
  if (p.role === 'customer') out.customer = p.customer ?? '\u0000none';
  return out;
}

/** Whether the caller may see this ticket at all (sites, customer). Hidden tickets are "not found". */
export function seesTicket(p: Principal, t: Pick<Ticket, 'site' | 'customer'>): boolean {
  if (!seesSite(p, t.site)) return false;
  if (p.role === 'customer') return p.customer !== null && t.customer === p.customer;
  return true;
}

/**
 * Work on a ticket (status changes, reports, comments): a technician on the tickets assigned to
 * them; dispatchers and admins on every ticket they can see.
 */
export function assertMayWork(p: Principal, t: Pick<Ticket, 'id' | 'assignees'>): void {
  if (can(p, 'tickets:dispatch')) return;
  if (p.role === 'technician' && p.technician !== null && t.assignees.includes(p.technician)) return;
  throw new FaultlineError(
    'FL_ERR_AUTH_FORBIDDEN',
    `ticket ${t.id} is not assigned to ${p.technician ?? `key ${p.name}`}`,
  );
}
