import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import { type Principal, ROLES, withinScope } from '../auth.js';
import { principalOf } from '../guard.js';
import { refineBinding } from '../schemas.js';
import { generatedPassword, type User, type Users } from '../users.js';

export function userView(u: User) {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    role: u.role,
    sites: u.sites,
    technician: u.technician,
    customer: u.customer,
    createdAt: toIso(u.createdAt),
    createdBy: u.createdBy,
    passwordChangedAt: toIso(u.passwordChangedAt),
    lastSignInAt: toIsoOrNull(u.lastSignInAt),
    disabledAt: toIsoOrNull(u.disabledAt),
  };
}

const createBody = z
  .object({
    username: z.string().min(1).max(64),
    displayName: z.string().max(128).optional(),
    role: z.enum(ROLES),
    sites: z.array(z.string().min(1).max(128)).min(1).max(100).optional(),
    technician: z.string().min(1).max(200).optional(),
    customer: z.string().min(1).max(128).optional(),
    /** Without one, a password is made and answered once. */
    password: z.string().min(1).max(1024).optional(),
  })
  .strict()
  .superRefine(refineBinding('user'));

const idParams = z.object({ id: z.string().min(1).max(64) }).strict();
const patchBody = z.object({ disabled: z.boolean() }).strict();
const passwordBody = z.object({ password: z.string().min(1).max(1024).optional() }).strict();

const tags = ['users'];

/**
 * Console users, managed by admins (issue 21), as `faultline users` does: made (with a password
 * given or made and shown once), listed, disabled or enabled, given a new password. An admin limited
 * to sites makes and manages users within its own scope only.
 */
export function userRoutes(
  users: Users,
  directory?: { technicians: () => string[]; customers: () => string[]; sites: () => string[] },
) {
  async function inScope(p: Principal, id: string): Promise<User> {
    const u = await users.get(id);
    if (!u || !withinScope(p, u)) throw new FaultlineError('FL_ERR_USER_NOT_FOUND', `no user ${id}`);
    return u;
  }

  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get('/users', { config: { access: 'users:admin', worker: true }, schema: { tags } }, async (req) => {
      const p = principalOf(req);
      return { items: (await users.list()).filter((u) => withinScope(p, u)).map(userView) };
    });
    app.post(
      '/users',
      // On the main thread: it knows the configured sites, technicians and customers.
      { config: { access: 'users:admin' }, schema: { tags, body: createBody } },
      async (req, reply) => {
        const p = principalOf(req);
        const b = req.body;
        if (!withinScope(p, { role: b.role, sites: b.sites ?? null }))
          throw new FaultlineError('FL_ERR_AUTH_FORBIDDEN', 'a user may not get more than its maker has');
        checkDirectory(b, directory);
        const password = b.password ?? generatedPassword();
        const user = await users.create({ ...b, createdBy: p.name }, password);
        reply.code(201);
        return { ...userView(user), ...(b.password ? {} : { password }) };
      },
    );
    app.patch(
      '/users/:id',
      {
        config: { access: 'users:admin', worker: true },
        schema: { tags, params: idParams, body: patchBody },
      },
      async (req) => {
        const u = await inScope(principalOf(req), req.params.id);
        return userView(await users.setDisabled(u.id, req.body.disabled));
      },
    );
    app.post(
      '/users/:id/password',
      {
        config: { access: 'users:admin', worker: true },
        schema: { tags, params: idParams, body: passwordBody },
      },
      async (req) => {
        const u = await inScope(principalOf(req), req.params.id);
        const password = req.body.password ?? generatedPassword();
        const changed = await users.setPassword(u.id, password);
        return { ...userView(changed), ...(req.body.password ? {} : { password }) };
      },
    );
  };
}

/** Bindings must name what exists: sites, technicians and customers of the configuration (when it names any). */
function checkDirectory(
  b: { sites?: string[] | undefined; technician?: string | undefined; customer?: string | undefined },
  directory?: { technicians: () => string[]; customers: () => string[]; sites: () => string[] },
): void {
  const problems: { path: string; message: string }[] = [];
  const check = (path: string, what: string, value: string | undefined, known: string[] | undefined) => {
    if (value !== undefined && known && known.length > 0 && !known.includes(value))
      problems.push({ path, message: `unknown ${what} "${value}" (known: ${known.join(', ')})` });
  };
  check('technician', 'technician', b.technician, directory?.technicians());
  check('customer', 'customer', b.customer, directory?.customers());
  for (const [i, s] of (b.sites ?? []).entries()) check(`sites.${i}`, 'site', s, directory?.sites());
  if (problems.length)
    throw new FaultlineError(
      'FL_ERR_API_VALIDATION',
      problems.map((p) => `body ${p.path}: ${p.message}`).join('; '),
      { details: problems },
    );
}
