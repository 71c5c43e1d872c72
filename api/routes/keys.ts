import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import { type ApiKey, type ApiKeys, ROLES, withinScope } from '../auth.js';
import { principalOf } from '../guard.js';
import { timeParam } from '../problem.js';
import { refineBinding } from '../schemas.js';

const createBody = z
  .object({
    name: z.string().min(1).max(200),
    role: z.enum(ROLES),
    /** Limit the key to these sites (default: every site). */
    sites: z.array(z.string().min(1).max(128)).min(1).max(100).optional(),
    /** A technician key acts as this technician (required for the technician role). */
    technician: z.string().min(1).max(200).optional(),
    /** A customer key sees this customer's tickets (required for the customer role). */
    customer: z.string().min(1).max(128).optional(),
    expiresAt: timeParam.optional(),
  })
  .strict()
  .superRefine(refineBinding('key'));

function keyView(k: ApiKey) {
  return {
    id: k.keyId,
    name: k.name,
    role: k.role,
    sites: k.sites,
    technician: k.technician,
    customer: k.customer,
    createdAt: toIso(k.createdAt),
    createdBy: k.createdBy,
    expiresAt: toIsoOrNull(k.expiresAt),
    lastUsedAt: toIsoOrNull(k.lastUsedAt),
    revokedAt: toIsoOrNull(k.revokedAt),
  };
}

const tags = ['api keys'];

/** API keys, managed by admins: made (the key is shown once), listed (never the key), revoked. */
export function keyRoutes(
  keys: ApiKeys,
  directory?: { technicians: () => string[]; customers: () => string[]; sites: () => string[] },
) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/keys',
      { config: { access: 'keys:admin' }, schema: { tags, summary: 'API keys (never the keys themselves)' } },
      async (req) => {
        const p = principalOf(req);
        return {
          items: (await keys.list()).filter((k) => withinScope(p, k)).map(keyView),
        };
      },
    );

    app.post(
      '/keys',
      {
        config: { access: 'keys:admin' },
        schema: { tags, summary: 'Make an API key (shown once)', body: createBody },
      },
      async (req, reply) => {
        const b = req.body;
        // A key is bound to people and places that exist (when the configuration names any).
        const problems: string[] = [];
        const check = (what: string, value: string | undefined, known: string[] | undefined) => {
          if (value !== undefined && known && known.length > 0 && !known.includes(value))
            problems.push(`body ${what}: unknown ${what} "${value}" (known: ${known.join(', ')})`);
        };
        check('technician', b.technician, directory?.technicians());
        check('customer', b.customer, directory?.customers());
        for (const s of b.sites ?? []) check('site', s, directory?.sites());
        if (problems.length) throw new FaultlineError('FL_ERR_API_VALIDATION', problems.join('; '));
        const p = principalOf(req);
        const wanted = { role: b.role, sites: b.sites ?? null };
        if (!withinScope(p, wanted))
          throw new FaultlineError(
            'FL_ERR_AUTH_FORBIDDEN',
            `a key may only make keys with its own rights or fewer, at its own sites or fewer (this key: ${p.role} at ${p.sites?.join(', ') ?? 'every site'}; asked: ${b.role} at ${wanted.sites?.join(', ') ?? 'every site'})`,
          );
        const { key, record } = await keys.create({
          name: b.name,
          role: b.role,
          sites: b.sites ?? null,
          technician: b.technician ?? null,
          customer: b.customer ?? null,
          expiresAt: b.expiresAt ?? null,
          createdBy: principalOf(req).name,
        });
        reply.code(201).header('location', `/api/v1/keys/${record.keyId}`);
        return { ...keyView(record), key };
      },
    );

    app.delete(
      '/keys/:id',
      {
        config: { access: 'keys:admin' },
        schema: { tags, summary: 'Revoke an API key', params: z.object({ id: z.string().min(1).max(64) }) },
      },
      async (req) => {
        // A key outside the caller's scope is "not found", as if it did not exist.
        const existing = await keys.get(req.params.id);
        if (!existing || !withinScope(principalOf(req), existing))
          throw new FaultlineError('FL_ERR_API_KEY_NOT_FOUND', `API key "${req.params.id}" does not exist`);
        const k = await keys.revoke(req.params.id);
        if (!k)
          throw new FaultlineError('FL_ERR_API_KEY_NOT_FOUND', `API key "${req.params.id}" does not exist`);
        return keyView(k);
      },
    );
  };
}
