import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, writeFiles } from '../test/helpers.js';
import { expandValues, runTestFile } from './testing.js';

describe('rule unit tests (faultline rules test)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('expands the promtool series notation', () => {
    expect(expandValues('1 2 _ 3')).toEqual([1, 2, null, 3]);
    expect(expandValues('5x3')).toEqual([5, 5, 5, 5]);
    expect(expandValues('1+2x3 10-0.5x2')).toEqual([1, 3, 5, 7, 10, 9.5, 9]);
    expect(expandValues('true false')).toEqual([true, false]);
    expect(expandValues(['RUN', null, 3])).toEqual(['RUN', null, 3]);
    expect(expandValues('1 hot')).toEqual({
      error: '"hot" is not a value (numbers, a+bxN, axN, _ for none, true/false)',
    });
  });

  it('passes, fails with the time and the difference, and reports a broken test file as file:line:col', async () => {
    writeFiles(tmp.dir, {
      'r.yaml': `rules:
  - id: hot
    match: { metric: t }
    threshold: { above: 90, for: 20s }
    ticket: { priority: general }
`,
      'ok.test.yaml': `ruleFiles: [r.yaml]
interval: 10s
tests:
  - name: fires after 20 s
    input: [{ device: m1, metric: t, values: "95x3" }]
    expect:
      - { at: 10s, pending: [hot@m1] }
      - { at: 20s, firing: [hot@m1] }
`,
      'wrong.test.yaml': `ruleFiles: [r.yaml]
interval: 10s
tests:
  - name: expects it too early
    input: [{ device: m1, metric: t, values: "95x3" }]
    expect:
      - { at: 10s, firing: [hot@m1] }
`,
      'broken.test.yaml': `ruleFiles: [r.yaml]
tests:
  - name: bad values
    input: [{ device: m1, metric: t, values: "1 2 hot" }]
    expect: [{ at: 1m, firing: [] }]
`,
    });
    const ok = await runTestFile(join(tmp.dir, 'ok.test.yaml'));
    expect(ok.issues).toEqual([]);
    expect(ok.tests).toEqual([
      { name: 'fires after 20 s', source: expect.stringMatching(/ok\.test\.yaml:4:5$/), failures: [] },
    ]);
    const wrong = await runTestFile(join(tmp.dir, 'wrong.test.yaml'));
    expect(wrong.tests[0]?.failures).toEqual(['at 10s: firing: expected [hot@m1], got []']);
    const broken = await runTestFile(join(tmp.dir, 'broken.test.yaml'));
    expect(broken.issues.map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`)).toEqual([
      '4:46: tests[0].input[0].values: "hot" is not a value (numbers, a+bxN, axN, _ for none, true/false)',
    ]);
  });
});
