import { createHash, randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import CSRF from '@fastify/csrf';
import session, { type SessionStore as FastifySessionStore } from '@fastify/session';
import type { FastifyInstance, FastifyRequest, Session } from 'fastify';
import fp from 'fastify-plugin';
import { FaultlineError } from '../lib/errors.js';
import type { Principal } from './auth.js';
import type { SessionStore } from './store.js';
import { principalOf, type User, type Users } from './users.js';

/**
 * Console sign-in sessions (issue 21), on `@fastify/session` and `@fastify/cookie`: the cookie holds
 * a random id (192 bits) signed with a secret kept in the database (shared by the API's threads and
 * every instance); the session itself — user, start, last activity, CSRF secret — is stored under
 * the id's SHA-256 hash. The cookie is HttpOnly, SameSite=Strict, Secure when the request came over
 * TLS (directly or through a trusted proxy, `api.trustProxy`). A session ends on sign-out, after
 * `idle` without a request, `absolute` after sign-in, when its user is disabled or changes password.
 * Changes (anything but GET/HEAD/OPTIONS) made with a session need its CSRF token in `X-CSRF-Token`
 * (`@fastify/csrf`); programs use API keys and need none.
 */

export interface SessionOptions {
  /** A session unused this long ends (ms). */
  idle: number;
  /** A session ends this long after sign-in whatever its use (ms). */
  absolute: number;
}

export const SESSION_COOKIE = 'faultline_session';
/** Activity is written to the store at most this often per session. */
const TOUCH_EVERY_MS = 60_000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What a session carries (besides @fastify/session's cookie). */
interface SessionData {
  userId?: string;
  createdAt?: number;
  lastSeenAt?: number;
  csrf?: string;
}

declare module 'fastify' {
  interface Session extends SessionData {}
}

const hashOf = (id: string) => createHash('sha256').update(id, 'utf8').digest('hex');

export class Sessions {
  private readonly csrf = CSRF();
  private readonly checked = new WeakMap<FastifyRequest, { principal: Principal; user: User }>();

  constructor(
    private readonly store: SessionStore,
    private readonly users: Users,
    readonly options: SessionOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Registers the cookie and session plugins on `app` (at its root). Register before the hooks that
   * read `req.session` (guard.ts).
   */
  install(app: FastifyInstance): void {
    app.register(
      fp(async (root) => {
        const secret = await this.store.secret(randomBytes(32).toString('base64url'));
        await root.register(cookie);
        await root.register(session, {
          secret,
          cookieName: SESSION_COOKIE,
          saveUninitialized: false,
          rolling: false,
          cookie: {
            httpOnly: true,
            sameSite: 'strict',
            path: '/',
            secure: false,
            maxAge: this.options.absolute,
          },
          store: this.adapter(),
        });
      }),
    );
  }

  /**
   * The signed-in user's principal, or undefined without a session cookie. A cookie whose session
   * ended, or whose user was disabled or changed password since, is refused (FL_ERR_AUTH_REQUIRED).
   */
  async principal(req: FastifyRequest): Promise<{ principal: Principal; user: User } | undefined> {
    if (!req.cookies?.[SESSION_COOKIE]) return undefined;
    // Checked once per request: the guard's answer serves the route that asks again.
    const known = this.checked.get(req);
    if (known) return known;
    const s = req.session as SessionData | null;
    const user = s?.userId ? await this.users.get(s.userId) : undefined;
    if (!s || !user || user.disabledAt !== null || user.passwordChangedAt > (s.createdAt ?? 0)) {
      if (s?.userId) await req.session.destroy();
      throw new FaultlineError(
        'FL_ERR_AUTH_REQUIRED',
        'the session ended (signed out, unused too long or too old, or the account changed): sign in again',
      );
    }
    if (!SAFE_METHODS.has(req.method)) this.checkCsrf(req);
    const signedIn = { principal: principalOf(user), user };
    this.checked.set(req, signedIn);
    return signedIn;
  }

  /** Starts a session for `user` (a new id: whatever session the request had ends). */
  async signIn(req: FastifyRequest, user: User): Promise<{ csrfToken: string; expiresAt: number }> {
    this.checked.delete(req);
    await req.session.regenerate();
    const now = this.now();
    req.session.options({ secure: req.protocol === 'https' });
    req.session.set('userId', user.id);
    req.session.set('createdAt', now);
    req.session.set('csrf', await this.csrf.secret());
    await req.session.save();
    return { csrfToken: this.token(req), expiresAt: now + this.options.absolute };
  }

  /** Ends the request's session, if it has one. */
  async signOut(req: FastifyRequest): Promise<void> {
    this.checked.delete(req);
    if ((req.session as SessionData | null)?.userId) await req.session.destroy();
  }

  /** A CSRF token for the request's session (any number may be made; each stays valid with it). */
  token(req: FastifyRequest): string {
    const secret = (req.session as SessionData).csrf;
    if (!secret) throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'not signed in');
    return this.csrf.create(secret);
  }

  /** When the request's session ends if unused, and at the latest. */
  expiry(req: FastifyRequest): { idleExpiresAt: number; expiresAt: number } {
    const s = req.session as SessionData;
    return {
      idleExpiresAt: Math.min(
        (s.lastSeenAt ?? this.now()) + this.options.idle,
        (s.createdAt ?? 0) + this.options.absolute,
      ),
      expiresAt: (s.createdAt ?? 0) + this.options.absolute,
    };
  }

  /** The hash under which the request's session is stored (to keep it while ending the others). */
  idHash(req: FastifyRequest): string | undefined {
    return (req.session as SessionData | null)?.userId ? hashOf(req.session.sessionId) : undefined;
  }

  /** Ends every session of a user (but `keep`); resolves how many ended. */
  endFor(userId: string, keep?: string): Promise<number> {
    return this.store.removeForUser(userId, keep);
  }

  /** Deletes the sessions that ended by time (housekeeping); resolves how many. */
  purge(): Promise<number> {
    const now = this.now();
    return this.store.purge(now - this.options.idle, now - this.options.absolute);
  }

  private checkCsrf(req: FastifyRequest): void {
    const secret = (req.session as SessionData).csrf;
    const token = req.headers['x-csrf-token'];
    if (!secret || typeof token !== 'string' || !this.csrf.verify(secret, token))
      throw new FaultlineError(
        'FL_ERR_AUTH_CSRF',
        'changes made with a session need its X-CSRF-Token header (GET /api/v1/session gives one)',
      );
  }

  /** @fastify/session's store interface over the SessionStore: hashed ids, expiry, activity. */
  private adapter(): FastifySessionStore {
    const store = this.store;
    const { idle, absolute } = this.options;
    const now = this.now;
    const done = (p: Promise<unknown>, cb: (err?: unknown, v?: unknown) => void) =>
      p.then((v) => cb(null, v), cb);
    return {
      set(id: string, s: SessionData, cb: (err?: unknown) => void) {
        if (typeof s.userId !== 'string' || typeof s.createdAt !== 'number') return cb();
        const at = now();
        done(
          store.put(hashOf(id), {
            userId: s.userId,
            createdAt: s.createdAt,
            lastSeenAt: at,
            data: JSON.stringify({ csrf: s.csrf }),
          }),
          cb,
        );
      },
      get(id: string, cb: (err: unknown, s?: Session | null) => void) {
        const key = hashOf(id);
        const load = async (): Promise<SessionData | null> => {
          const r = await store.get(key);
          if (!r) return null;
          const at = now();
          if (at - r.lastSeenAt >= idle || at - r.createdAt >= absolute) {
            await store.remove(key);
            return null;
          }
          if (at - r.lastSeenAt >= TOUCH_EVERY_MS) await store.touch(key, at);
          let data: { csrf?: unknown } = {};
          try {
            data = JSON.parse(r.data) as { csrf?: unknown };
          } catch {
            // A session whose data cannot be read carries no CSRF secret: it may read, not change.
          }
          return {
            userId: r.userId,
            createdAt: r.createdAt,
            lastSeenAt: Math.max(r.lastSeenAt, at),
            ...(typeof data.csrf === 'string' ? { csrf: data.csrf } : {}),
          };
        };
        // @fastify/session makes its Session (and cookie) from the plain object.
        load().then((s) => cb(null, s as Session | null), cb);
      },
      destroy(id: string, cb: (err?: unknown) => void) {
        done(store.remove(hashOf(id)), cb);
      },
    };
  }
}
