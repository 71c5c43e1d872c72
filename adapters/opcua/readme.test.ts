import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../gateway/config/schema.js';
import { opcuaAdapterSchema } from './config.js';

describe('adapters/opcua/README.md', () => {
  const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
  const [sample] = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it('the sample configuration is valid', () => {
    const r = configSchema.safeParse(parse((sample as string).replace('${PLC_OPCUA_PASSWORD}', 'secret')));
    expect(r.error?.issues ?? []).toEqual([]);
    expect(r.data?.adapters[0]).toMatchObject({
      protocol: 'opcua',
      securityMode: 'SignAndEncrypt',
      items: [
        { nodeId: 'ns=2;s=Press7.Temperature' },
        { browsePath: '/Objects/2:Press7/2:Mode' },
        { errorCodes: { '3': 'E-DIE-JAM' } },
        { deadband: { type: 'absolute' } },
      ],
    });
  });

  it('the defaults in the options table are the schema defaults', () => {
    const c = opcuaAdapterSchema.parse({
      protocol: 'opcua',
      id: 'x',
      endpointUrl: 'opc.tcp://h:4840',
      items: [{ nodeId: 'ns=1;i=1', device: 'd', metric: 'm' }],
    });
    expect(c).toMatchObject({
      securityMode: 'None',
      securityPolicy: 'None',
      allowDeprecatedPolicies: false,
      publishingInterval: 1_000,
      samplingInterval: 500,
      queueSize: 10,
      timestamps: 'source',
      reconnect: { min: 1_000, max: 60_000 },
      keepAliveTimeout: 10_000,
    });
    expect(c.user).toBeUndefined();
  });
});
