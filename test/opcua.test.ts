import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import { runScenario, type SimulationHandle } from '../simulators/mqtt/index.js';
import { scenarioSchema } from '../simulators/mqtt/scenario.js';
import { auth, getJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';

type Source = { adapter: string; stats: { readings: number; gaps: { from: number; to: number }[] } };
type Device = {
  lastValues: Record<string, { value: unknown }>;
  connectivity: { state: string; reason: string };
  sources: Source[];
};

describe('OPC UA through the gateway: simulated ovens, state variables, error codes, restart', () => {
  const tmp = tempDir();
  let sim: SimulationHandle;
  let gw: RunningGateway;
  const api = (path: string) => `${gw.apiUrl}/api/v1${path}`;

  beforeAll(async () => {
    // The same scenario format as `faultline sim`: OPC UA devices on one simulated server.
    sim = await runScenario(
      scenarioSchema.parse({
        interval: '100ms',
        devices: [
          {
            id: 'oven-{n}',
            count: 2,
            format: 'opcua',
            opcua: { errorCode: 'ErrorCode' },
            metrics: {
              temperature: { base: 180, noise: 0.5 },
              state: { states: ['HEATING', 'HOLDING'], every: '1s' },
            },
          },
        ],
      }),
    );
    const endpoint = sim.endpoints.find((e) => e.id === 'oven-1')?.url as string;
    const items = ['oven-1', 'oven-2'].flatMap((d) => [
      { nodeId: `ns=1;s=${d}.temperature`, device: d, metric: 'temperature' },
      { browsePath: `/Objects/1:${d}/1:state`, device: d, metric: 'state' },
      { nodeId: `ns=1;s=${d}.ErrorCode`, device: d, metric: 'errorCode', errorCodes: true },
    ]);
    writeFiles(tmp.dir, {
      'faultline.yaml': `
devices:
  - { id: oven-1, name: Oven 1 }
  - { id: oven-2, name: Oven 2 }
adapters:
  - protocol: opcua
    id: scada
    endpointUrl: ${endpoint}
    publishingInterval: 100ms
    samplingInterval: 100ms
    keepAliveTimeout: 2s
    reconnect: { min: 200ms, max: 1s }
    items: ${JSON.stringify(items)}
rules:
  files: [rules.yaml]
`,
      'rules.yaml': `
rules:
  - id: burner
    errorCode: [E-BURNER-FLAME]
    ticket: { priority: emergency, faultType: mechanical }
`,
    });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
  });
  afterAll(async () => {
    await gw?.stop();
    await sim?.close();
    tmp.cleanup();
  });

  it('values and state variables arrive per device; connectivity, sources and metrics show the adapter', async () => {
    const d = await waitFor(
      async () => {
        const r = await getJson<Device>(api('/devices/oven-2'));
        // Online once the connectivity point behind the first reading is durable too.
        return typeof r.body.lastValues?.temperature?.value === 'number' &&
          r.body.lastValues.state &&
          r.body.connectivity.state === 'online'
          ? r.body
          : undefined;
      },
      10_000,
      'oven-2 values and the device online',
    );
    expect(['HEATING', 'HOLDING']).toContain(d.lastValues.state?.value);
    expect(d.connectivity.state).toBe('online');
    expect(d.sources[0]?.adapter).toBe('scada');
    expect(d.sources[0]?.stats.readings).toBeGreaterThan(0);
    const metrics = await (await fetch(`${gw.apiUrl}/metrics`, { headers: auth() })).text();
    expect(metrics).toMatch(/^faultline_adapter_up\{adapter="scada",protocol="opcua"\} 1$/m);
    expect(metrics).toMatch(/^faultline_opcua_readings\{adapter="scada",device="oven-2"\} [1-9]/m);
    expect(metrics).toMatch(/^faultline_opcua_failed_items\{adapter="scada",device="oven-1"\} 0$/m);
  });

  it('an error code on a state variable opens a ticket through an errorCode rule', async () => {
    sim.inject('oven-2', { kind: 'errorBurst', codes: ['E-BURNER-FLAME'] }, 3_000);
    const t = await waitFor(
      async () => {
        const r = await getJson<{ items: { deviceId: string; priority: string }[] }>(
          api('/tickets?ruleId=burner'),
        );
        return r.body.items[0];
      },
      10_000,
      'burner ticket',
    );
    expect(t).toMatchObject({ deviceId: 'oven-2', priority: 'emergency' });
  });

  it('a server restart: the devices come back online by themselves and the gap is on the device', async () => {
    const before = Date.now();
    await sim.fire({ device: 'oven-1', fault: 'serverRestart', for: 1_000, disconnect: false });
    const d = await waitFor(
      async () => {
        const r = await getJson<Device>(api('/devices/oven-1'));
        const gaps = r.body.sources[0]?.stats.gaps ?? [];
        return gaps.length > 0 && r.body.connectivity.state === 'online' ? r.body : undefined;
      },
      20_000,
      'gap recorded and back online',
    );
    const gap = d.sources[0]?.stats.gaps[0] as { from: number; to: number };
    expect(gap.from).toBeGreaterThanOrEqual(before - 100);
    expect(gap.to - gap.from).toBeGreaterThanOrEqual(900);
    const metrics = await (await fetch(`${gw.apiUrl}/metrics`, { headers: auth() })).text();
    expect(metrics).toMatch(/^faultline_opcua_gap_seconds\{adapter="scada",device="oven-1"\} [1-9]/m);
  });
});
