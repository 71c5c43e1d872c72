import type { FastifyInstance } from 'fastify';
import { FaultlineError } from '../lib/errors.js';

/** How deep a body is searched; deeper ones are refused by the routes' schemas anyway. */
const MAX_DEPTH = 32;

/** The path of the first string holding U+0000 in `v` (keys included), or null. */
export function nulPath(v: unknown, path: string, depth = 0): string | null {
  if (typeof v === 'string') return v.includes('\u0000') ? path : null;
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH || Buffer.isBuffer(v)) return null;
  for (const [k, x] of Object.entries(v)) {
    const at = k.includes('\u0000') ? `${path}.<key>` : nulPath(x, `${path}.${k}`, depth + 1);
    if (at !== null) return at;
  }
  return null;
}

/**
 * No text the API takes may hold U+0000: PostgreSQL cannot store it in text, and no ticket, comment or
 * filter has a use for it. One check before validation for every route (body, query, path), so that
 * it is a 400 naming the field on SQLite and PostgreSQL alike, never a 500 from the database.
 */
export function refuseNulText(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const at = nulPath(req.params, 'path') ?? nulPath(req.query, 'query') ?? nulPath(req.body, 'body');
    if (at !== null)
      throw new FaultlineError('FL_ERR_API_VALIDATION', `${at}: NUL characters (U+0000) are not accepted`);
  });
}
