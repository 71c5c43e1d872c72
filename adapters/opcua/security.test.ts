import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ReadingSink } from '../../ingest/ingest.js';
import type { Point } from '../../ingest/point.js';
import { type OpcuaSimulator, start as startSim } from '../../simulators/opcua/index.js';
import { silentLogger, tempDir, waitFor } from '../../test/helpers.js';
import { OpcuaAdapter } from './adapter.js';
import { opcuaAdapterSchema } from './config.js';

describe('OPC UA security (real sockets)', () => {
  const tmp = tempDir();
  let sim: OpcuaSimulator | undefined;
  let adapter: OpcuaAdapter | undefined;
  afterEach(async () => {
    await adapter?.stop();
    await sim?.close();
  });
  afterAll(() => tmp.cleanup());

  it('SignAndEncrypt with Basic256Sha256: an untrusted server certificate is refused until trusted', async () => {
    sim = await startSim({
      secure: true,
      intervalMs: 100,
      devices: [{ name: 'Press7', variables: [{ name: 'Temperature' }] }],
    });
    sim.setValue('Press7', 'Temperature', 42.5);
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    adapter = new OpcuaAdapter(
      opcuaAdapterSchema.parse({
        protocol: 'opcua',
        id: 'secure',
        endpointUrl: sim.endpointUrl,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        publishingInterval: '100ms',
        reconnect: { min: '300ms', max: '600ms' },
        items: [{ nodeId: 'ns=1;s=Press7.Temperature', device: 'press-7', metric: 'temperature' }],
      }),
    );
    await adapter.start({ sink, logger: silentLogger, now: Date.now, dataDir: tmp.dir });
    const pki = adapter.pkiFolder() as string;
    expect(pki).toBe(join(tmp.dir, 'pki', 'opcua'));
    // Refused: the server's certificate is unknown, so it is put in rejected/ and nothing flows.
    await waitFor(
      async () =>
        existsSync(join(pki, 'rejected')) && readdirSync(join(pki, 'rejected')).length > 0 ? true : undefined,
      15_000,
      'rejected certificate',
    );
    expect(points.filter((p) => !p.connectivity)).toEqual([]);
    expect(String(adapter.status().details.lastError ?? '')).not.toBe('');
    // Trusted: the operator moves it to trusted/certs; the next attempt connects.
    expect(adapter.rejectedCertificates()).toHaveLength(1);
    expect(await adapter.trustRejected()).toHaveLength(1);
    const p = await waitFor(
      async () => points.find((x) => x.fields.temperature === 42.5),
      20_000,
      'values over SignAndEncrypt',
    );
    expect(p.deviceId).toBe('press-7');
  });

  it('deprecated policies are refused unless allowed; mode and policy go together', () => {
    const base = {
      protocol: 'opcua',
      id: 'x',
      endpointUrl: 'opc.tcp://h:4840',
      items: [{ nodeId: 'ns=1;i=1', device: 'd', metric: 'm' }],
    };
    const msg = (o: Record<string, unknown>) =>
      opcuaAdapterSchema.safeParse({ ...base, ...o }).error?.issues.map((i) => i.message);
    expect(msg({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic128Rsa15' })).toEqual([
      'Basic128Rsa15 is deprecated (OPC UA 1.04) and refused unless allowDeprecatedPolicies is true',
    ]);
    expect(
      msg({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256', allowDeprecatedPolicies: true }),
    ).toBeUndefined();
    expect(msg({ securityMode: 'None', securityPolicy: 'Basic256Sha256' })).toEqual([
      'securityMode None goes with securityPolicy None, and only with it',
    ]);
  });
});
