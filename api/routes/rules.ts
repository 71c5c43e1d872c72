import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso } from '../../lib/time.js';
import type { Rule } from '../../rules/schema.js';
import type { ApiDeps } from '../app.js';
import { parseOrThrow } from '../problem.js';

export function ruleView(r: Rule) {
  const c = r.condition;
  return {
    id: r.id,
    description: r.description,
    kind: c.kind,
    condition: c.kind === 'expr' ? { ...c, cel: c.cel.source, clear: c.clear?.source ?? null } : c,
    match: r.match,
    keepFiringForMs: r.keepFiringForMs,
    cooldownMs: r.cooldownMs,
    flapping: r.flapping,
    ticket: r.ticket,
    source: r.source,
  };
}

export function ruleRoutes(rules: ApiDeps['rules']) {
  return async (app: FastifyInstance) => {
    app.get('/rules', async () => {
      const s = rules.status();
      return {
        items: rules.list().map(ruleView),
        files: s.files,
        loadedAt: toIso(s.loadedAt),
        lastReload: s.lastAttempt ? { ...s.lastAttempt, at: toIso(s.lastAttempt.at) } : null,
      };
    });

    app.get('/rules/:id', async (req) => {
      const { id } = parseOrThrow(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
      const r = rules.list().find((x) => x.id === id);
      if (!r) throw new FaultlineError('FL_ERR_RULE_NOT_FOUND', `no loaded rule has the id "${id}"`);
      return ruleView(r);
    });

    /** Validates every rule file, then swaps the rules; with any error the old rules keep running. */
    app.post('/rules/reload', async () => {
      const r = await rules.reload('api');
      if (!r.ok)
        throw new FaultlineError(
          'FL_ERR_RULES_RELOAD_FAILED',
          `${r.errors.length} error(s) in the rule files; the previous rules keep running`,
          { details: r.errors },
        );
      return r;
    });
  };
}
