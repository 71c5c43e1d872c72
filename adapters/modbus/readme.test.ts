import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema, crossCheck } from '../../gateway/config/schema.js';
import { modbusAdapterSchema } from './config.js';

describe('adapters/modbus/README.md', () => {
  const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
  const [sample] = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it('the sample configuration is valid and its references resolve', () => {
    const raw = parse(sample as string);
    const r = configSchema.safeParse(raw);
    expect(r.error?.issues ?? []).toEqual([]);
    expect(crossCheck(raw)).toEqual([]);
    expect(r.data?.adapters).toHaveLength(2);
  });

  it('the defaults in the options table are the schema defaults', () => {
    const c = modbusAdapterSchema.parse({
      protocol: 'modbus',
      id: 'x',
      host: 'h',
      devices: [{ id: 'd', registers: [{ name: 'a', address: 0 }] }],
    });
    expect(c).toMatchObject({
      transport: 'tcp',
      port: 502,
      interval: 5_000,
      timeout: 1_000,
      retries: 1,
      reconnectAfterTimeouts: 2,
      offlineAfterFailures: 3,
      backoff: { min: 10_000, max: 300_000 },
      maxRegisters: 125,
      maxBits: 2_000,
      maxGap: 10,
    });
    expect(c.devices[0]).toMatchObject({ unit: 1 });
    expect(c.devices[0]?.registers[0]).toMatchObject({
      table: 'holding',
      type: 'uint16',
      order: 'ABCD',
      scale: 1,
      offset: 0,
    });
  });

  it('a device naming an unknown model is a configuration error', () => {
    const raw = parse((sample as string).replace('model: pm-3000, interval', 'model: pm-9999, interval'));
    expect(crossCheck(raw)).toEqual([
      { path: ['adapters', 0, 'devices', 1, 'model'], message: 'unknown model "pm-9999" (models: pm-3000)' },
    ]);
  });
});
