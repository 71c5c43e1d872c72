import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSchema } from '../adapters/modbus/registers.js';
import type { RunningGateway } from '../gateway/gateway.js';
import { type ModbusSimulator, start as startSim } from '../simulators/modbus/index.js';
import { auth, getJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';

const MAP = [
  { name: 'voltage', table: 'input', address: 0, type: 'float32', unit: 'V' },
  { name: 'current', table: 'input', address: 2, type: 'float32', unit: 'A' },
  {
    name: 'status',
    table: 'holding',
    address: 10,
    type: 'uint16',
    errorCodes: { '0x0001': 'E-OVERVOLTAGE', '0x0002': 'E-PHASE-LOSS' },
  },
  { name: 'breaker', table: 'coil', address: 0, type: 'bool' },
];

describe('Modbus through the gateway: config, readings, statistics, connectivity, rules', () => {
  const tmp = tempDir();
  let sim: ModbusSimulator;
  let gw: RunningGateway;
  const api = (path: string) => `${gw.apiUrl}/api/v1${path}`;

  beforeAll(async () => {
    sim = await startSim({ registers: MAP.map((r) => registerSchema.parse(r)) });
    sim.setValue('voltage', 230.5);
    sim.setValue('current', 12.25);
    sim.setValue('status', 0);
    sim.setValue('breaker', true);
    writeFiles(tmp.dir, {
      'faultline.yaml': `
models:
  pm-3000:
    modbus:
      registers:
${MAP.map((r) => `        - ${JSON.stringify(r)}`).join('\n')}
devices:
  - { id: meter-1, name: Main meter, model: pm-3000 }
adapters:
  - protocol: modbus
    id: switchboard
    host: 127.0.0.1
    port: ${sim.port}
    interval: 100ms
    timeout: 200ms
    offlineAfterFailures: 2
    backoff: { min: 300ms, max: 1s }
    devices:
      - { id: meter-1, unit: 1, model: pm-3000 }
rules:
  files: [rules.yaml]
`,
      'rules.yaml': `
rules:
  - id: phase-loss
    errorCode: [E-PHASE-LOSS]
    ticket: { priority: emergency, faultType: electrical }
  - id: meter-offline
    match: { metric: online, devices: [meter-*] }
    threshold: { below: 1 }
    ticket: { priority: general, faultType: communication }
`,
    });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
  });
  afterAll(async () => {
    await gw?.stop();
    await sim?.close();
    tmp.cleanup();
  });

  it('polls the device with its model map: values, units, poll statistics', async () => {
    type Dev = {
      lastValues: Record<string, { value: unknown }>;
      units: Record<string, string>;
      connectivity: { state: string };
      sources: { adapter: string; stats: { ok: number; requestsPerPoll: number; meanLatencyMs: number } }[];
    };
    const d = await waitFor(
      async () => {
        const r = await getJson<Dev>(api('/devices/meter-1'));
        // Online once the connectivity point behind the first reading is durable too.
        return r.body.lastValues?.voltage && r.body.connectivity.state === 'online' ? r.body : undefined;
      },
      5_000,
      'readings and the device online',
    );
    expect(d.lastValues).toMatchObject({
      voltage: { value: 230.5 },
      current: { value: 12.25 },
      status: { value: 0 },
      breaker: { value: true },
    });
    expect(d.units).toEqual({ voltage: 'V', current: 'A' });
    expect(d.connectivity.state).toBe('online');
    expect(d.sources).toHaveLength(1);
    expect(d.sources[0]).toMatchObject({ adapter: 'switchboard', stats: { requestsPerPoll: 3 } });
    expect(d.sources[0]?.stats.ok).toBeGreaterThan(0);
    const metrics = await (await fetch(`${gw.apiUrl}/metrics`, { headers: auth() })).text();
    expect(metrics).toMatch(/^faultline_polls\{adapter="switchboard",device="meter-1"\} [1-9]/m);
  });

  it('a status bit becomes an error code that opens a ticket', async () => {
    sim.setValue('status', 0b10);
    const t = await waitFor(
      async () => {
        const r = await getJson<{ items: { ruleId: string; priority: string }[] }>(
          api('/tickets?ruleId=phase-loss'),
        );
        return r.body.items[0];
      },
      5_000,
      'phase-loss ticket',
    );
    expect(t.priority).toBe('emergency');
    sim.setValue('status', 0);
  });

  it('a unit that stops answering goes offline, which a rule turns into a ticket', async () => {
    sim.setFault({ kind: 'noAnswer' });
    const t = await waitFor(
      async () => {
        const r = await getJson<{ items: { ruleId: string }[] }>(api('/tickets?ruleId=meter-offline'));
        return r.body.items[0];
      },
      10_000,
      'offline ticket',
    );
    expect(t.ruleId).toBe('meter-offline');
    const d = await getJson<{ connectivity: { state: string; reason: string } }>(api('/devices/meter-1'));
    expect(d.body.connectivity.state).toBe('offline');
    expect(d.body.connectivity.reason).toContain('Modbus: no answer');
    sim.setFault({ kind: 'none' });
    await waitFor(
      async () => {
        const r = await getJson<{ connectivity: { state: string } }>(api('/devices/meter-1'));
        return r.body.connectivity.state === 'online' ? true : undefined;
      },
      10_000,
      'back online',
    );
  });
});
