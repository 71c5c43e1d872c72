import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { formatIssue } from '../../lib/source-errors.js';
import { toIso } from '../../lib/time.js';
import { parseRuleSource } from '../../rules/load.js';
import type { Rule } from '../../rules/schema.js';
import type { ApiDeps } from '../app.js';

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

const tags = ['rules'];

/**
 * A posted rule file is parsed on the API worker thread, never on the ingest thread, and is capped
 * well below the 1 MB of a rule file on disk: 1 MB of YAML took 3 s of CPU (issue 18).
 */
const MAX_POSTED_RULE_CHARS = 256 * 1024;

const checkBody = z
  .object({
    /** The rule file's YAML text. */
    source: z
      .string()
      .max(
        MAX_POSTED_RULE_CHARS,
        `at most ${MAX_POSTED_RULE_CHARS / 1024} KB (check larger files with faultline rules check)`,
      ),
    /** The name errors are reported against (default `posted.yaml`). */
    file: z.string().min(1).max(200).optional(),
  })
  .strict();

export function ruleRoutes(rules: ApiDeps['rules'], faultTypes: readonly string[] = []) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/rules',
      { config: { access: 'rules:read' }, schema: { tags, summary: 'The loaded rules and the last reload' } },
      async () => {
        const s = rules.status();
        return {
          items: rules.list().map(ruleView),
          files: s.files,
          loadedAt: toIso(s.loadedAt),
          lastReload: s.lastAttempt ? { ...s.lastAttempt, at: toIso(s.lastAttempt.at) } : null,
        };
      },
    );

    app.get(
      '/rules/:id',
      {
        config: { access: 'rules:read' },
        schema: { tags, summary: 'A loaded rule', params: z.object({ id: z.string().min(1).max(128) }) },
      },
      async (req) => {
        const { id } = req.params;
        const r = rules.list().find((x) => x.id === id);
        if (!r) throw new FaultlineError('FL_ERR_RULE_NOT_FOUND', `no loaded rule has the id "${id}"`);
        return ruleView(r);
      },
    );

    /** Checks a rule file without loading it: every problem as file:line:col (like `faultline rules check`). */
    app.post(
      '/rules/check',
      {
        config: { access: 'rules:read', worker: true },
        schema: { tags, summary: 'Check a posted rule file (nothing is loaded)', body: checkBody },
      },
      async (req) => {
        const file = req.body.file ?? 'posted.yaml';
        const r = parseRuleSource(file, req.body.source, faultTypes.length ? { faultTypes } : {});
        return {
          ok: r.issues.length === 0,
          rules: r.rules.map((x) => x.id),
          errors: r.issues.map(formatIssue),
        };
      },
    );

    /** Validates every rule file, then swaps the rules; with any error the old rules keep running. */
    app.post(
      '/rules/reload',
      {
        config: { access: 'rules:admin' },
        schema: { tags, summary: 'Reload the rule files (the old rules stay on any error)' },
      },
      async () => {
        const r = await rules.reload('api');
        if (!r.ok)
          throw new FaultlineError(
            'FL_ERR_RULES_RELOAD_FAILED',
            `${r.errors.length} error(s) in the rule files; the previous rules keep running`,
            { details: r.errors },
          );
        return r;
      },
    );
  };
}
