import { dirname } from 'node:path';
import { z } from 'zod';
import { type Device, newDevice } from '../ingest/devices.js';
import type { FieldValue, Point } from '../ingest/point.js';
import { duration, formatDuration } from '../lib/duration.js';
import { type PathSegment, readYamlSource, type SourceIssue } from '../lib/source-errors.js';
import '../lib/zod-messages.js';
import { type LoadOptions, loadRuleFiles } from './load.js';
import { replay } from './replay.js';
import type { Rule } from './schema.js';

/**
 * `faultline rules test`: rule unit tests in the manner of `promtool test rules`. A test file names
 * rule files, gives input series (values at time steps) and the alerts expected at given times; the
 * rules run on a manual clock, so an hour of input takes milliseconds.
 */

/** One step's value: a number, a string or boolean (state metrics), or nothing (`_` / null). */
type StepValue = FieldValue | null;

/**
 * Expands the promtool series notation: `1 2 3`, `_` for no sample, `5x3` = 5 5 5 5,
 * `1+2x3` = 1 3 5 7, `10-1x2` = 10 9 8. A YAML list of values is taken as it is.
 */
export function expandValues(v: string | StepValue[]): StepValue[] | { error: string } {
  if (Array.isArray(v)) return v;
  const out: StepValue[] = [];
  for (const token of v.trim().split(/\s+/)) {
    if (token === '') continue;
    if (token === '_') {
      out.push(null);
      continue;
    }
    const m = /^(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?:([+-])(\d+(?:\.\d+)?(?:e[+-]?\d+)?))?(?:x(\d+))?$/i.exec(
      token,
    );
    if (!m) {
      if (token === 'true' || token === 'false') out.push(token === 'true');
      else return { error: `"${token}" is not a value (numbers, a+bxN, axN, _ for none, true/false)` };
      continue;
    }
    const start = Number(m[1]);
    const step = m[2] ? (m[2] === '-' ? -1 : 1) * Number(m[3]) : 0;
    const times = m[4] !== undefined ? Number(m[4]) : 0;
    if (times > 100_000) return { error: `"${token}": at most 100000 repetitions` };
    for (let i = 0; i <= times; i++) out.push(round(start + i * step));
  }
  return out;
}

const round = (n: number) => Math.round(n * 1e9) / 1e9;

const stepValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);

const inputSchema = z
  .object({
    device: z.string().min(1),
    /** With `values`: the metric they belong to. */
    metric: z.string().min(1).optional(),
    values: z.union([z.string(), z.array(stepValue)]).optional(),
    /** Per step: the codes reported ("E1" or "E1,E2"; "" = none active; null = codes not reported). */
    errorCodes: z.array(z.union([z.string(), z.array(z.string()), z.null()])).optional(),
    /** Time between steps (default: the file's `interval`). */
    interval: duration.optional(),
    /** Time of the first step (default 0). */
    start: duration.optional(),
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.values !== undefined && i.metric === undefined)
      ctx.addIssue({ code: 'custom', path: ['metric'], message: 'values need the metric they belong to' });
    if (i.values === undefined && i.errorCodes === undefined)
      ctx.addIssue({ code: 'custom', message: 'give values (with metric) or errorCodes' });
    if (typeof i.values === 'string') {
      const v = expandValues(i.values);
      if ('error' in v) ctx.addIssue({ code: 'custom', path: ['values'], message: v.error });
    }
  });

const alertRef = z.union([
  z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected rule@device'),
  z
    .object({
      alert: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected rule@device'),
      priority: z.enum(['emergency', 'general']).optional(),
      flapping: z.boolean().optional(),
    })
    .strict(),
]);

const expectSchema = z
  .object({
    at: duration,
    /** Exactly these alerts are firing (of every rule in the files). */
    firing: z.array(alertRef).optional(),
    /** Exactly these are pending. */
    pending: z.array(alertRef).optional(),
  })
  .strict()
  .refine((e) => e.firing || e.pending, 'give firing and/or pending');

const testSchema = z
  .object({
    name: z.string().min(1),
    interval: duration.optional(),
    input: z.array(inputSchema).min(1),
    expect: z.array(expectSchema).min(1),
  })
  .strict();

export const testFileSchema = z
  .object({
    /** Rule files (globs), relative to the test file. */
    ruleFiles: z.array(z.string().min(1)).min(1),
    interval: duration.prefault('1m'),
    /** Device attributes that rules match on; devices not listed have only an id. */
    devices: z
      .array(
        z
          .object({
            id: z.string().min(1),
            name: z.string().optional(),
            model: z.string().optional(),
            site: z.string().default('default'),
            tags: z.record(z.string(), z.string()).default({}),
          })
          .strict(),
      )
      .default([]),
    tests: z.array(testSchema).min(1),
  })
  .strict();

export interface TestOutcome {
  name: string;
  /** `file:line:col` of the test. */
  source: string;
  failures: string[];
}

export interface FileOutcome {
  file: string;
  /** Problems with the test file or its rule files: nothing ran. */
  issues: SourceIssue[];
  tests: TestOutcome[];
}

/** Checks a test file without running it: its shape, and that its rule files load. */
export async function checkTestFile(file: string, opts: LoadOptions = {}): Promise<SourceIssue[]> {
  const { src, issues } = await readYamlSource(file);
  if (!src) return issues;
  const parsed = testFileSchema.safeParse(src.toJS());
  if (!parsed.success) return src.zodIssues(parsed.error);
  return (await loadRuleFiles(parsed.data.ruleFiles, dirname(file), opts)).issues;
}

/** Runs every test of one test file. */
export async function runTestFile(file: string, opts: LoadOptions = {}): Promise<FileOutcome> {
  const { src, issues } = await readYamlSource(file);
  if (!src) return { file, issues, tests: [] };
  const parsed = testFileSchema.safeParse(src.toJS());
  if (!parsed.success) return { file, issues: src.zodIssues(parsed.error), tests: [] };
  const spec = parsed.data;
  const loaded = await loadRuleFiles(spec.ruleFiles, dirname(file), opts);
  if (loaded.issues.length) return { file, issues: loaded.issues, tests: [] };
  const devices = new Map(spec.devices.map((d) => [d.id, d]));
  const tests = spec.tests.map((t, i) => {
    const at = src.locate(['tests', i] as PathSegment[]);
    return {
      name: t.name,
      source: `${file}:${at.line}:${at.col}`,
      failures: runOne(loaded.rules, t, spec.interval, (id) => deviceOf(id, devices.get(id))),
    };
  });
  return { file, issues: [], tests };
}

type TestSpec = z.output<typeof testSchema>;

function deviceOf(id: string, d?: z.output<typeof testFileSchema>['devices'][number]): Device {
  const attrs: Parameters<typeof newDevice>[1] = {
    configured: true,
    site: d?.site ?? 'default',
    tags: d?.tags ?? {},
  };
  if (d?.name) attrs.name = d.name;
  if (d?.model) attrs.model = d.model;
  return newDevice(id, attrs);
}

/** The readings of a test, merged per device and time, in time order. */
export function pointsOf(t: TestSpec, defaultInterval: number): Point[] {
  const byKey = new Map<string, Point>();
  for (const input of t.input) {
    const step = input.interval ?? t.interval ?? defaultInterval;
    const start = input.start ?? 0;
    const at = (i: number) => {
      const ts = start + i * step;
      const key = `${input.device}\u0000${ts}`;
      let p = byKey.get(key);
      if (!p) {
        p = { deviceId: input.device, ts, receivedAt: ts, fields: {}, source: 'rules-test' };
        byKey.set(key, p);
      }
      return p;
    };
    if (input.values !== undefined && input.metric) {
      const values = expandValues(input.values) as StepValue[];
      values.forEach((v, i) => {
        if (v !== null) at(i).fields[input.metric as string] = v;
      });
    }
    input.errorCodes?.forEach((c, i) => {
      if (c === null) return;
      const p = at(i);
      const codes = Array.isArray(c) ? c : c.split(',').map((x) => x.trim());
      p.errorCodes = [...(p.errorCodes ?? []), ...codes.filter((x) => x !== '')];
    });
  }
  return [...byKey.values()].sort((a, b) => a.ts - b.ts);
}

function runOne(rules: Rule[], t: TestSpec, interval: number, device: (id: string) => Device): string[] {
  const points = pointsOf(t, interval);
  const ids = [...new Set(points.map((p) => p.deviceId))];
  const failures: string[] = [];
  const byTime = new Map<number, TestSpec['expect']>();
  for (const check of t.expect) byTime.set(check.at, [...(byTime.get(check.at) ?? []), check]);
  replay(rules, points, device, {
    start: 0,
    watch: ids.map(device),
    checkpoints: [...byTime.keys()],
    onCheckpoint: (at, alerts) => {
      for (const check of byTime.get(at) ?? []) {
        for (const kind of ['firing', 'pending'] as const) {
          const want = check[kind];
          if (!want) continue;
          const got = [...alerts]
            .filter(([, a]) => a.state === kind)
            .map(([id]) => id)
            .sort();
          const wantIds = want.map((w) => (typeof w === 'string' ? w : w.alert)).sort();
          const when = `at ${formatDuration(at)}`;
          if (JSON.stringify(got) !== JSON.stringify(wantIds)) {
            failures.push(`${when}: ${kind}: expected [${wantIds.join(', ')}], got [${got.join(', ')}]`);
            continue;
          }
          for (const w of want) {
            if (typeof w === 'string') continue;
            const a = alerts.get(w.alert);
            if (w.priority && a?.priority !== w.priority)
              failures.push(`${when}: ${w.alert}: expected priority ${w.priority}, got ${a?.priority}`);
            if (w.flapping !== undefined && a?.flapping !== w.flapping)
              failures.push(`${when}: ${w.alert}: expected flapping ${w.flapping}, got ${a?.flapping}`);
          }
        }
      }
    },
  });
  return failures;
}
