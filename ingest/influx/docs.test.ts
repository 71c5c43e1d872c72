import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../gateway/config/schema.js';
import { packageRoot } from '../../lib/package-root.js';

describe('docs/influxdb.md', () => {
  it('every configuration sample is valid', () => {
    const doc = readFileSync(join(packageRoot(), 'docs', 'influxdb.md'), 'utf8');
    const samples = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(samples).toHaveLength(3);
    for (const yaml of samples) {
      const r = configSchema.safeParse(parse(yaml.replace(/\$\{[A-Z_]+\}/g, 'secret')));
      expect(r.error?.issues ?? []).toEqual([]);
    }
  });

  it('the defaults it states are the schema defaults', () => {
    const c = configSchema.parse({ influx: { api: 'v1', url: 'http://x:8086', database: 'd' } });
    expect(c.influx).toMatchObject({
      timeout: 10_000,
      gzip: true,
      batchLines: 5_000,
      flushInterval: 1_000,
      retry: { min: 1_000, max: 60_000 },
    });
    expect(c.storage.spool).toEqual({ maxSize: 1024 ** 3, maxAge: 7 * 86_400_000 });
    expect(c.storage.history.retention).toBe(90 * 86_400_000);
  });
});
