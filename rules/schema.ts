import { z } from 'zod';
import { duration } from '../lib/duration.js';

export const RULE_ID = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** Condition keys of the rule format; a rule has exactly one. Kinds not listed in CONDITIONS are planned. */
export const CONDITION_KEYS = [
  'threshold',
  'rate',
  'window',
  'noData',
  'errorCode',
  'outlier',
  'expr',
] as const;
export const IMPLEMENTED_CONDITIONS = ['threshold', 'errorCode'] as const;

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const matchSchema = z
  .object({
    metric: z.string().min(1).optional(),
    /** Device ids or globs (`press-*`). */
    devices: stringOrList.optional(),
    /** Model name or glob (`cnc-*`). */
    model: z.string().min(1).optional(),
    site: stringOrList.optional(),
    tags: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const thresholdSchema = z
  .object({
    above: z.number().optional(),
    below: z.number().optional(),
    /** How long the condition must hold before the alert fires. */
    for: duration.optional(),
    /** Hysteresis: once firing, the alert clears only past this level (default: the threshold). */
    clear: z.number().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.above === undefined) === (t.below === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "above" or "below"' });
      return;
    }
    if (t.clear === undefined) return;
    if (t.above !== undefined && t.clear > t.above) {
      ctx.addIssue({
        code: 'custom',
        path: ['clear'],
        message: `clear (${t.clear}) must not be above the threshold (${t.above})`,
      });
    }
    if (t.below !== undefined && t.clear < t.below) {
      ctx.addIssue({
        code: 'custom',
        path: ['clear'],
        message: `clear (${t.clear}) must not be below the threshold (${t.below})`,
      });
    }
  });

export const errorCodeSchema = z.union([
  z.array(z.string().min(1)).min(1),
  z.object({ codes: z.array(z.string().min(1)).min(1) }).strict(),
]);

export const ticketTemplateSchema = z
  .object({
    priority: z.enum(['emergency', 'general']),
    faultType: z.string().min(1).default('general'),
    title: z.string().min(1).optional(),
    description: z.string().optional(),
    team: z.string().min(1).optional(),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const ruleSchema = z
  .object({
    id: z.string().regex(RULE_ID, 'rule ids are lower-case letters, digits, ".", "_" or "-"'),
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    match: matchSchema.default({}),
    threshold: thresholdSchema.optional(),
    rate: z.unknown().optional(),
    window: z.unknown().optional(),
    noData: z.unknown().optional(),
    errorCode: errorCodeSchema.optional(),
    outlier: z.unknown().optional(),
    expr: z.unknown().optional(),
    ticket: ticketTemplateSchema,
  })
  .strict()
  .superRefine((r, ctx) => {
    const present = CONDITION_KEYS.filter((k) => r[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `a rule has exactly one condition (${CONDITION_KEYS.join(' | ')}), found ${present.length ? present.join(', ') : 'none'}`,
      });
      return;
    }
    const kind = present[0] as (typeof CONDITION_KEYS)[number];
    if (!(IMPLEMENTED_CONDITIONS as readonly string[]).includes(kind)) {
      ctx.addIssue({
        code: 'custom',
        path: [kind],
        message: `condition "${kind}" is not supported by this version (supported: ${IMPLEMENTED_CONDITIONS.join(', ')})`,
      });
    }
    if (kind === 'threshold' && !r.match.metric) {
      ctx.addIssue({
        code: 'custom',
        path: ['match', 'metric'],
        message: 'a threshold rule needs match.metric',
      });
    }
  });

export const ruleFileSchema = z.object({ rules: z.array(z.unknown()) }).strict();

export type RuleInput = z.input<typeof ruleSchema>;
export type ParsedRule = z.output<typeof ruleSchema>;
export type TicketTemplate = z.output<typeof ticketTemplateSchema>;

/** A rule ready for evaluation: exactly one condition, normalised. */
export type Condition =
  | { kind: 'threshold'; metric: string; above?: number; below?: number; forMs: number; clear?: number }
  | { kind: 'errorCode'; codes: string[] };

export interface Rule {
  id: string;
  description: string;
  enabled: boolean;
  match: z.output<typeof matchSchema>;
  condition: Condition;
  ticket: TicketTemplate;
  /** Where it was defined, `file:line:col`. */
  source: string;
}

export function toRule(p: ParsedRule, source: string): Rule {
  let condition: Condition;
  if (p.threshold) {
    const t = p.threshold;
    condition = { kind: 'threshold', metric: p.match.metric as string, forMs: t.for ?? 0 };
    if (t.above !== undefined) condition.above = t.above;
    if (t.below !== undefined) condition.below = t.below;
    if (t.clear !== undefined) condition.clear = t.clear;
  } else {
    const e = p.errorCode as z.output<typeof errorCodeSchema>;
    condition = { kind: 'errorCode', codes: Array.isArray(e) ? e : e.codes };
  }
  return {
    id: p.id,
    description: p.description ?? '',
    enabled: p.enabled,
    match: p.match,
    condition,
    ticket: p.ticket,
    source,
  };
}
