import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseRuleSource } from './load.js';
import { testFileSchema } from './testing.js';

describe('rules/README.md', () => {
  it('every YAML example is a valid rule file, rule, or rule test file', () => {
    const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
    const examples = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const text of examples) {
      if (text.includes('ruleFiles:')) {
        // The unit-test example: a valid test file.
        expect(testFileSchema.safeParse(parse(text)).error?.issues ?? []).toEqual([]);
        continue;
      }
      const source = text.startsWith('rules:') ? text : `rules:\n${text.replace(/^/gm, '  ')}`;
      const r = parseRuleSource('README.md', source);
      expect(r.issues).toEqual([]);
      expect(r.rules.length).toBeGreaterThan(0);
    }
  });
});
