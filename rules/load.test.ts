import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue } from '../lib/source-errors.js';
import { tempDir, writeFiles } from '../test/helpers.js';
import { loadRuleFiles, parseRuleSource } from './load.js';

const testdata = join(import.meta.dirname, 'testdata');
const read = (name: string) => readFileSync(join(testdata, name), 'utf8');

describe('rule files', () => {
  it('loads every kind and key of the format', () => {
    const { rules, issues } = parseRuleSource('all-kinds.good.yaml', read('all-kinds.good.yaml'));
    expect(issues).toEqual([]);
    const byId = Object.fromEntries(rules.map((r) => [r.id, r]));
    expect(rules.map((r) => r.condition.kind)).toEqual([
      'threshold',
      'threshold',
      'errorCode',
      'errorCode',
      'rate',
      'rate',
      'window',
      'noData',
      'outlier',
      'expr',
      'errorCode',
      'threshold',
    ]);
    expect(byId['spindle-overheat']).toMatchObject({
      condition: {
        kind: 'threshold',
        metric: 'temperature',
        cmp: { op: 'above', level: 90 },
        forMs: 30_000,
        clear: 85,
      },
      ticket: { priority: 'emergency', faultType: 'mechanical' },
      source: 'all-kinds.good.yaml:2:5',
    });
    expect(byId['low-pressure']?.ticket).toMatchObject({ faultType: 'general', team: 'hydraulics' });
    expect(byId['drive-faults']?.condition).toEqual({
      kind: 'errorCode',
      codes: ['E-1042', 'E-1043'],
      prefixes: [],
      table: {},
      forMs: 0,
    });
    expect(byId['disabled-rule']?.enabled).toBe(false);
    expect(byId['fast-heating']?.condition).toMatchObject({
      overMs: 300_000,
      perMs: 60_000,
      measure: 'slope',
    });
    expect(byId['vibration-avg']).toMatchObject({
      condition: { fn: 'avg', cmp: { op: 'outside', low: 0.5, high: 7.1 }, clear: [1, 6], minSamples: 5 },
      keepFiringForMs: 300_000,
      cooldownMs: 1_800_000,
      flapping: { count: 3, withinMs: 7_200_000 },
    });
    expect(byId['silent-device']?.condition).toEqual({ kind: 'noData', forMs: 300_000 });
    expect(byId['spindle-stall']?.condition).toMatchObject({ forMs: 10_000 });
    expect(
      (byId['spindle-stall']?.condition as { cel?: { variables: string[] } } | undefined)?.cel?.variables,
    ).toEqual(['current', 'rpm', 'running']);
    expect(byId['overheat-escalating']?.condition).toMatchObject({ emergency: { op: 'above', level: 110 } });
  });

  it('reports every error at once as file:line:col: rule "id": message', () => {
    const { rules, issues } = parseRuleSource('errors.bad.yaml', read('errors.bad.yaml'));
    expect(rules).toEqual([]);
    const lines = issues.map(formatIssue);
    expect(lines).toEqual([
      'errors.bad.yaml:2:5: rule "no-metric": match.metric: a threshold rule needs match.metric',
      'errors.bad.yaml:7:16: rule "both-levels": threshold: give exactly one of "above", "below", "outside" or "inside", found above, below',
      'errors.bad.yaml:11:36: rule "bad-clear": threshold.clear: clear (95) must not be above the threshold (90)',
      'errors.bad.yaml:13:5: rule "two-conditions": a rule has exactly one condition (threshold | rate | window | noData | errorCode | outlier | expr), found threshold, errorCode',
      'errors.bad.yaml:20:11: rule "rate-without-window": rate.over: required (string)',
      'errors.bad.yaml:24:41: rule "bad-template": ticket.title: unknown template variable "{{device.serial}}"',
      'errors.bad.yaml:27:5: rule "unknown-key": severity: unknown key',
      'errors.bad.yaml:29:5: rule "no-ticket": ticket: required (object)',
      'errors.bad.yaml:32:11: rule "bad-cel": expr: CEL: Unexpected token: EOF',
      'errors.bad.yaml:35:18: rule "regex-cel": expr.cel: CEL: matches() is not allowed (regular expressions could stall the gateway); compare strings, or use startsWith/endsWith/contains',
      'errors.bad.yaml:39:43: rule "bad-range": window.outside: a range is [low, high] with low < high',
      'errors.bad.yaml:44:45: rule "typo-fault-type": ticket.faultType: unknown fault type "mechanic" (rules.faultTypes: mechanical, electrical, electronic, hydraulic, pneumatic, thermal, lubrication, safety, communication, software, process, quality, general)',
      'errors.bad.yaml:43:34: rule "typo-fault-type": errorCode.table.E-9.faultType: unknown fault type "electric" (rules.faultTypes: mechanical, electrical, electronic, hydraulic, pneumatic, thermal, lubrication, safety, communication, software, process, quality, general)',
    ]);
  });

  it('fault types come from the configuration when it lists its own', () => {
    const text =
      'rules:\n  - id: a\n    errorCode: [E1]\n    ticket: { priority: general, faultType: conveyor }\n';
    expect(parseRuleSource('x.yaml', text).issues).toHaveLength(1);
    expect(parseRuleSource('x.yaml', text, { faultTypes: ['conveyor', 'general'] }).issues).toEqual([]);
  });

  it('reports YAML syntax errors with their position', () => {
    const { issues } = parseRuleSource('x.yaml', 'rules:\n  - id: a\n    match: {metric: t\n');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it('rejects duplicate ids across files and missing files', async () => {
    const tmp = tempDir();
    try {
      const rule = 'rules:\n  - id: same\n    errorCode: [E1]\n    ticket: { priority: general }\n';
      writeFiles(tmp.dir, { 'a.yaml': rule, 'b.yaml': rule });
      const r = await loadRuleFiles(['*.yaml', 'missing.yaml'], tmp.dir);
      expect(r.rules.map((x) => x.id)).toEqual(['same']);
      const msgs = r.issues.map(formatIssue);
      expect(
        msgs.some((m) =>
          /b\.yaml:2:5: rule "same": id: duplicate rule id, first defined at .*a\.yaml:2:5/.test(m),
        ),
      ).toBe(true);
      expect(msgs.some((m) => m.includes('missing.yaml:1:1: rule file not found'))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('the example rules are valid', async () => {
    const r = await loadRuleFiles(
      [join(import.meta.dirname, '..', 'examples', 'rules', '*.yaml')],
      process.cwd(),
    );
    expect(r.issues).toEqual([]);
    expect(r.rules.length).toBeGreaterThanOrEqual(5);
  });
});
