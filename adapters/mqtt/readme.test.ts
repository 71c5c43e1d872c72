import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../gateway/config/schema.js';
import { decodeTelemetryJson } from '../../ingest/point.js';
import { parseRuleSource } from '../../rules/load.js';

const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
const blocks = (lang: string) =>
  [...readme.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] as string);

describe('adapters/mqtt/README.md', () => {
  it('every configuration sample is valid', () => {
    const samples = blocks('yaml');
    expect(samples.length).toBeGreaterThanOrEqual(5);
    for (const yaml of samples) {
      const doc = parse(yaml) as { rules?: unknown };
      if (Array.isArray(doc.rules)) {
        // A rule file sample.
        expect(parseRuleSource('README.md', yaml).issues).toEqual([]);
        continue;
      }
      const r = configSchema.safeParse(doc);
      expect(r.error?.issues ?? []).toEqual([]);
    }
  });

  it('the first sample states exactly the defaults', () => {
    const [sample] = blocks('yaml');
    expect(configSchema.parse(parse(sample as string)).mqtt.embedded).toEqual(
      configSchema.parse({}).mqtt.embedded,
    );
  });

  it('the sample payload decodes', () => {
    const [payload] = blocks('json');
    const r = decodeTelemetryJson(payload as string, 'press-7', Date.now(), 'readme');
    expect(r.ok && r.rejected).toEqual([]);
  });
});
