import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuthThrottle } from '../../lib/auth-throttle.js';
import { FaultlineError } from '../../lib/errors.js';
import { toIso } from '../../lib/time.js';
import type { Sessions } from '../sessions.js';
import type { User, Users } from '../users.js';
import { userView } from './users.js';

const signInBody = z
  .object({
    username: z.string().min(1).max(64),
    // Longer than any password the policy accepts, so that the refusal is the same as a wrong one.
    password: z.string().min(1).max(1024),
  })
  .strict();

const passwordBody = z
  .object({ current: z.string().min(1).max(1024), password: z.string().min(1).max(1024) })
  .strict();

const tags = ['session'];

/**
 * What the console needs to know of the configuration: the SLA warning shares (percent), and the
 * sites and teams its filters offer (a user limited to sites is offered those).
 */
export interface ConsoleSettings {
  slaWarnAt: readonly number[];
  sites: readonly { id: string; name: string }[];
  teams: readonly { id: string; name: string }[];
}

/**
 * Console sign-in (issue 21): `POST /session` signs in with a user name and password (throttled per
 * client address like API keys: `api.authFailures`), `GET /session` says who is signed in and gives
 * the CSRF token for changes, `DELETE /session` signs out, `POST /session/password` changes the
 * signed-in user's own password (every other session of theirs ends).
 */
export function sessionRoutes(
  users: Users,
  sessions: Sessions,
  throttle: AuthThrottle,
  settings: ConsoleSettings,
) {
  async function refuse(req: FastifyRequest, reply: FastifyReply): Promise<never> {
    const blockedMs = await throttle.failed(req.ip);
    if (blockedMs > 0) tooMany(reply, blockedMs);
    throw new FaultlineError('FL_ERR_AUTH_SIGN_IN', 'unknown user name or wrong password');
  }

  async function answer(req: FastifyRequest, user: User, csrfToken: string) {
    const sites = user.sites ? settings.sites.filter((s) => user.sites?.includes(s.id)) : settings.sites;
    return {
      user: userView(user),
      csrfToken,
      ...times(sessions.expiry(req)),
      settings: { ...settings, sites },
    };
  }

  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/session',
      { config: { access: 'public', worker: true }, schema: { tags, body: signInBody } },
      async (req, reply) => {
        const blockedMs = await throttle.blockedFor(req.ip);
        if (blockedMs > 0) tooMany(reply, blockedMs);
        const user = await users.check(req.body.username, req.body.password);
        if (!user) return refuse(req, reply);
        const { csrfToken } = await sessions.signIn(req, user);
        req.log.info({ user: user.username, ip: req.ip }, 'console sign-in');
        return answer(req, user, csrfToken);
      },
    );
    // Whether a console user is signed in (`user: null` if not), with a CSRF token for changes.
    app.get('/session', { config: { access: 'public', worker: true }, schema: { tags } }, async (req) => {
      const signedIn = await sessions.principal(req).catch(() => undefined);
      if (!signedIn) return { user: null };
      return answer(req, signedIn.user, sessions.token(req));
    });
    app.delete(
      '/session',
      { config: { access: 'public', worker: true }, schema: { tags } },
      async (req, reply) => {
        await sessions.signOut(req);
        return reply.code(204).send();
      },
    );
    app.post(
      '/session/password',
      { config: { access: 'session', worker: true }, schema: { tags, body: passwordBody } },
      async (req, reply) => {
        const signedIn = await sessions.principal(req);
        if (!signedIn) throw new FaultlineError('FL_ERR_AUTH_REQUIRED', 'sign in to the console first');
        const blockedMs = await throttle.blockedFor(req.ip);
        if (blockedMs > 0) tooMany(reply, blockedMs);
        if (!(await users.check(signedIn.user.username, req.body.current))) return refuse(req, reply);
        const user = await users.setPassword(signedIn.user.id, req.body.password);
        const { csrfToken } = await sessions.signIn(req, user);
        return answer(req, user, csrfToken);
      },
    );
  };
}

function tooMany(reply: FastifyReply, blockedMs: number): never {
  const s = Math.ceil(blockedMs / 1000);
  reply.header('retry-after', String(s));
  throw new FaultlineError(
    'FL_ERR_API_RATE_LIMITED',
    `too many failed sign-ins from this address; retry in ${s} s`,
  );
}

const times = (t: { idleExpiresAt: number; expiresAt: number }) => ({
  idleExpiresAt: toIso(t.idleExpiresAt),
  expiresAt: toIso(t.expiresAt),
});
