import { z } from 'zod';
import { duration } from '../lib/duration.js';
import { type CompiledExpr, compileExpr } from './expr.js';

export const RULE_ID = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** Fault types a ticket may have unless the configuration lists its own (`rules.faultTypes`). */
export const DEFAULT_FAULT_TYPES = [
  'mechanical',
  'electrical',
  'electronic',
  'hydraulic',
  'pneumatic',
  'thermal',
  'lubrication',
  'safety',
  'communication',
  'software',
  'process',
  'quality',
  'general',
] as const;

/** Condition keys of the rule format; a rule has exactly one. */
export const CONDITION_KEYS = [
  'threshold',
  'rate',
  'window',
  'noData',
  'errorCode',
  'outlier',
  'expr',
] as const;
export type ConditionKind = (typeof CONDITION_KEYS)[number];

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const range = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo < hi, 'a range is [low, high] with low < high');
const priority = z.enum(['emergency', 'general']);

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

/** A comparison against a level: exactly one of above, below, outside or inside. */
const comparisonShape = {
  above: z.number().optional(),
  below: z.number().optional(),
  /** Holds when the value is outside [low, high]. */
  outside: range.optional(),
  /** Holds when the value is inside [low, high]. */
  inside: range.optional(),
};

/** What `above | below | outside | inside` compile to. */
export type Comparison =
  | { op: 'above' | 'below'; level: number }
  | { op: 'outside' | 'inside'; low: number; high: number };

type ComparisonInput = {
  above?: number | undefined;
  below?: number | undefined;
  outside?: [number, number] | undefined;
  inside?: [number, number] | undefined;
};

function comparisonOf(c: ComparisonInput): Comparison | undefined {
  if (c.above !== undefined) return { op: 'above', level: c.above };
  if (c.below !== undefined) return { op: 'below', level: c.below };
  if (c.outside) return { op: 'outside', low: c.outside[0], high: c.outside[1] };
  if (c.inside) return { op: 'inside', low: c.inside[0], high: c.inside[1] };
  return undefined;
}

/** Exactly one comparison; `clear` (hysteresis) on the safe side of it. */
function checkComparison(
  c: ComparisonInput & { clear?: number | [number, number] | undefined },
  ctx: z.RefinementCtx,
) {
  const given = (['above', 'below', 'outside', 'inside'] as const).filter((k) => c[k] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: `give exactly one of "above", "below", "outside" or "inside"${given.length ? `, found ${given.join(', ')}` : ''}`,
    });
    return;
  }
  const cmp = comparisonOf(c) as Comparison;
  const clear = c.clear;
  if (clear === undefined) return;
  const bad = (message: string) => ctx.addIssue({ code: 'custom', path: ['clear'], message });
  if (cmp.op === 'above' || cmp.op === 'below') {
    if (typeof clear !== 'number') return bad(`with "${cmp.op}", clear is a number`);
    if (cmp.op === 'above' && clear > cmp.level)
      bad(`clear (${clear}) must not be above the threshold (${cmp.level})`);
    if (cmp.op === 'below' && clear < cmp.level)
      bad(`clear (${clear}) must not be below the threshold (${cmp.level})`);
    return;
  }
  if (!Array.isArray(clear)) return bad(`with "${cmp.op}", clear is a range [low, high]`);
  const [lo, hi] = clear;
  if (cmp.op === 'outside' && (lo < cmp.low || hi > cmp.high))
    bad(`clear [${lo}, ${hi}] must lie inside the range [${cmp.low}, ${cmp.high}]`);
  if (cmp.op === 'inside' && (lo > cmp.low || hi < cmp.high))
    bad(`clear [${lo}, ${hi}] must contain the range [${cmp.low}, ${cmp.high}]`);
}

/** Raises the alert (and its ticket) to emergency while the value meets this comparison. */
const emergencySchema = z
  .object(comparisonShape)
  .strict()
  .superRefine((c, ctx) => checkComparison(c, ctx));

/** Keys every comparing condition has. */
const comparingShape = {
  ...comparisonShape,
  /** How long the condition must hold before the alert fires. */
  for: duration.optional(),
  /** Hysteresis: a firing alert clears only past this level ([low, high] for ranges). */
  clear: z.union([z.number(), range]).optional(),
  emergency: emergencySchema.optional(),
};

export const thresholdSchema = z
  .object(comparingShape)
  .strict()
  .superRefine((c, ctx) => checkComparison(c, ctx));

export const rateSchema = z
  .object({
    ...comparingShape,
    /** The window the change is measured over (first and last sample in it). */
    over: duration,
    /** `slope`: change per `per` (default 1m); `delta`: the total change over the window. */
    measure: z.enum(['slope', 'delta']).default('slope'),
    per: duration.prefault('1m'),
    /** Samples needed in the window before it is judged. */
    minSamples: z.number().int().min(2).default(2),
  })
  .strict()
  .superRefine((c, ctx) => checkComparison(c, ctx));

export const windowSchema = z
  .object({
    ...comparingShape,
    fn: z.enum(['avg', 'min', 'max', 'sum', 'count']),
    over: duration,
    minSamples: z.number().int().min(1).default(1),
  })
  .strict()
  .superRefine((c, ctx) => checkComparison(c, ctx));

export const noDataSchema = z
  .object({
    /** Silence this long fires the alert (the metric's, or the whole device's without match.metric). */
    for: duration,
  })
  .strict();

const codeEntrySchema = z
  .object({
    severity: priority.optional(),
    faultType: z.string().min(1).optional(),
    title: z.string().min(1).optional(),
  })
  .strict();

export const errorCodeSchema = z.union([
  z.array(z.string().min(1)).min(1),
  z
    .object({
      codes: z.array(z.string().min(1)).min(1).optional(),
      /** Codes starting with one of these (`E-HYD-`). */
      prefixes: z.array(z.string().min(1)).min(1).optional(),
      /** Code → what it means: severity, fault type and title override the rule's ticket. */
      table: z.record(z.string().min(1), codeEntrySchema).optional(),
      for: duration.optional(),
    })
    .strict()
    .refine((e) => e.codes || e.prefixes || e.table, 'give codes, prefixes or a table'),
]);

export const outlierSchema = z
  .object({
    /** `zscore`: against the mean and deviation of the samples in `over`; `ewma`: an exponentially weighted band. */
    method: z.enum(['zscore', 'ewma']).default('zscore'),
    /** zscore: the rolling window. */
    over: duration.prefault('1h'),
    /** ewma: weight of the newest sample, 0 < alpha ≤ 1. */
    alpha: z.number().gt(0).max(1).default(0.1),
    /** How many standard deviations away counts as an outlier. */
    sigmas: z.number().positive().default(3),
    /** No judgement before this many samples. */
    minSamples: z.number().int().min(3).default(30),
    /** Only outliers above or below the band (default both). */
    direction: z.enum(['both', 'above', 'below']).default('both'),
    for: duration.optional(),
  })
  .strict();

export const exprSchema = z.union([
  z.string().min(1),
  z
    .object({
      /** A CEL expression over the device's latest metric values, true = the condition holds. */
      cel: z.string().min(1),
      for: duration.optional(),
      /** Optional clear expression (hysteresis); default: the condition no longer holds. */
      clear: z.string().min(1).optional(),
      /** Values older than this (relative to the reading) are not used (default 5m). */
      maxAge: duration.prefault('5m'),
    })
    .strict(),
]);

export const ticketTemplateSchema = z
  .object({
    priority,
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
    rate: rateSchema.optional(),
    window: windowSchema.optional(),
    noData: noDataSchema.optional(),
    errorCode: errorCodeSchema.optional(),
    outlier: outlierSchema.optional(),
    expr: exprSchema.optional(),
    /** Once firing, keep firing until the condition has not held for this long (Prometheus keep_firing_for). */
    keepFiringFor: duration.optional(),
    /** After it resolves, the alert cannot fire again for this long. */
    cooldown: duration.optional(),
    /** Flapping: fired at least `count` times within `within` (shown on the alert). */
    flapping: z
      .object({ count: z.number().int().min(2).default(4), within: duration.prefault('1h') })
      .strict()
      .prefault({}),
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
    const kind = present[0] as ConditionKind;
    if (['threshold', 'rate', 'window', 'outlier'].includes(kind) && !r.match.metric) {
      ctx.addIssue({
        code: 'custom',
        path: ['match', 'metric'],
        message: `a ${kind} rule needs match.metric`,
      });
    }
    if (kind === 'expr') {
      const e = r.expr as z.output<typeof exprSchema>;
      const sources = typeof e === 'string' ? { cel: e } : { cel: e.cel, clear: e.clear };
      for (const [key, text] of Object.entries(sources)) {
        if (text === undefined) continue;
        const c = compileExpr(text);
        if ('error' in c)
          ctx.addIssue({
            code: 'custom',
            path: typeof e === 'string' ? ['expr'] : ['expr', key],
            message: c.error,
          });
      }
    }
  });

export const ruleFileSchema = z.object({ rules: z.array(z.unknown()) }).strict();

export type RuleInput = z.input<typeof ruleSchema>;
export type ParsedRule = z.output<typeof ruleSchema>;
export type TicketTemplate = z.output<typeof ticketTemplateSchema>;
export type CodeEntry = z.output<typeof codeEntrySchema>;

/** A comparing condition's common part. */
interface Comparing {
  cmp: Comparison;
  clear?: number | [number, number];
  forMs: number;
  emergency?: Comparison;
}

/** A rule ready for evaluation: exactly one condition, normalised. */
export type Condition =
  | ({ kind: 'threshold'; metric: string } & Comparing)
  | ({
      kind: 'rate';
      metric: string;
      overMs: number;
      measure: 'slope' | 'delta';
      perMs: number;
      minSamples: number;
    } & Comparing)
  | ({
      kind: 'window';
      metric: string;
      fn: 'avg' | 'min' | 'max' | 'sum' | 'count';
      overMs: number;
      minSamples: number;
    } & Comparing)
  | { kind: 'noData'; metric?: string; forMs: number }
  | {
      kind: 'errorCode';
      codes: string[];
      prefixes: string[];
      table: Record<string, CodeEntry>;
      forMs: number;
    }
  | {
      kind: 'outlier';
      metric: string;
      method: 'zscore' | 'ewma';
      overMs: number;
      alpha: number;
      sigmas: number;
      minSamples: number;
      direction: 'both' | 'above' | 'below';
      forMs: number;
    }
  | { kind: 'expr'; cel: CompiledExpr; clear?: CompiledExpr; forMs: number; maxAgeMs: number };

export interface Rule {
  id: string;
  description: string;
  enabled: boolean;
  match: z.output<typeof matchSchema>;
  condition: Condition;
  keepFiringForMs: number;
  cooldownMs: number;
  flapping: { count: number; withinMs: number };
  ticket: TicketTemplate;
  /** Where it was defined, `file:line:col`. */
  source: string;
}

function comparing(
  c: ComparisonInput & {
    for?: number | undefined;
    clear?: number | [number, number] | undefined;
    emergency?: ComparisonInput | undefined;
  },
): Comparing {
  const out: Comparing = { cmp: comparisonOf(c) as Comparison, forMs: c.for ?? 0 };
  if (c.clear !== undefined) out.clear = c.clear;
  if (c.emergency) out.emergency = comparisonOf(c.emergency) as Comparison;
  return out;
}

function conditionOf(p: ParsedRule): Condition {
  const metric = p.match.metric as string;
  if (p.threshold) return { kind: 'threshold', metric, ...comparing(p.threshold) };
  if (p.rate) {
    const r = p.rate;
    return {
      kind: 'rate',
      metric,
      overMs: r.over,
      measure: r.measure,
      perMs: r.per,
      minSamples: r.minSamples,
      ...comparing(r),
    };
  }
  if (p.window) {
    const w = p.window;
    return { kind: 'window', metric, fn: w.fn, overMs: w.over, minSamples: w.minSamples, ...comparing(w) };
  }
  if (p.noData) {
    const c: Condition = { kind: 'noData', forMs: p.noData.for };
    if (p.match.metric) c.metric = p.match.metric;
    return c;
  }
  if (p.outlier) {
    const o = p.outlier;
    return {
      kind: 'outlier',
      metric,
      method: o.method,
      overMs: o.over,
      alpha: o.alpha,
      sigmas: o.sigmas,
      minSamples: o.minSamples,
      direction: o.direction,
      forMs: o.for ?? 0,
    };
  }
  if (p.expr) {
    const e = typeof p.expr === 'string' ? { cel: p.expr, maxAge: 300_000 } : p.expr;
    const c: Condition = {
      kind: 'expr',
      cel: compileExpr(e.cel) as CompiledExpr,
      forMs: ('for' in e ? e.for : undefined) ?? 0,
      maxAgeMs: e.maxAge,
    };
    if ('clear' in e && e.clear) c.clear = compileExpr(e.clear) as CompiledExpr;
    return c;
  }
  const e = p.errorCode as z.output<typeof errorCodeSchema>;
  if (Array.isArray(e)) return { kind: 'errorCode', codes: e, prefixes: [], table: {}, forMs: 0 };
  return {
    kind: 'errorCode',
    codes: e.codes ?? [],
    prefixes: e.prefixes ?? [],
    table: e.table ?? {},
    forMs: e.for ?? 0,
  };
}

export function toRule(p: ParsedRule, source: string): Rule {
  return {
    id: p.id,
    description: p.description ?? '',
    enabled: p.enabled,
    match: p.match,
    condition: conditionOf(p),
    keepFiringForMs: p.keepFiringFor ?? 0,
    cooldownMs: p.cooldown ?? 0,
    flapping: { count: p.flapping.count, withinMs: p.flapping.within },
    ticket: p.ticket,
    source,
  };
}

/** The metrics a rule reads (for the engine's index); empty = any reading of the device. */
export function metricsOf(c: Condition): string[] {
  switch (c.kind) {
    case 'threshold':
    case 'rate':
    case 'window':
    case 'outlier':
      return [c.metric];
    case 'noData':
      return c.metric ? [c.metric] : [];
    case 'expr':
      return [...new Set([...c.cel.variables, ...(c.clear?.variables ?? [])])];
    case 'errorCode':
      return [];
  }
}

/** A rule from its YAML shape (already parsed): for code and tests. Throws on an invalid rule. */
export function ruleFrom(input: RuleInput, source = 'code:1:1'): Rule {
  return toRule(ruleSchema.parse(input), source);
}
