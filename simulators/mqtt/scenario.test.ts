import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../adapters/mqtt/broker.js';
import { embeddedBrokerSchema } from '../../adapters/mqtt/config.js';
import type { ReadingSink } from '../../ingest/ingest.js';
import type { Point } from '../../ingest/point.js';
import { packageRoot } from '../../lib/package-root.js';
import { formatIssue } from '../../lib/source-errors.js';
import { silentLogger, tempDir, waitFor, writeFiles } from '../../test/helpers.js';
import { runScenario, type SimulationHandle } from './runner.js';
import { expandIds, loadScenario, scenarioSchema } from './scenario.js';

describe('simulator scenarios', () => {
  const tmp = tempDir();
  let broker: EmbeddedBroker | undefined;
  let sim: SimulationHandle | undefined;
  afterEach(async () => {
    await sim?.close();
    await broker?.stop();
  });
  afterAll(() => tmp.cleanup());

  it('reports every problem of a scenario file as file:line:col', async () => {
    writeFiles(tmp.dir, {
      'bad.yaml': [
        'devices:',
        '  - id: a',
        '    format: profinet',
        'events:',
        '  - { at: 10s, device: a, fault: ramp, metric: t }',
        '  - { at: soon, device: a, fault: melt }',
        '',
      ].join('\n'),
    });
    const { issues } = await loadScenario(join(tmp.dir, 'bad.yaml'));
    expect(issues.map((i) => formatIssue(i).replace(`${tmp.dir}/`, ''))).toEqual([
      'bad.yaml:3:13: devices[0].format: expected one of "json", "sparkplug", "modbus", "opcua", got "profinet"',
      'bad.yaml:5:5: events[0].to: required for fault ramp',
      'bad.yaml:5:5: events[0].rate: required for fault ramp',
      'bad.yaml:6:11: events[1].at: expected a duration such as 500ms, 30s, 4h or 3d, got "soon"',
      'bad.yaml:6:35: events[1].fault: expected one of "ramp", "spike", "stuck", "drift", "errorBurst", "dropout", "clear", "exception", "noAnswer", "slowAnswer", "truncated", "garbage", "serverRestart", "badStatus", got "melt"',
    ]);
  });

  it('the shipped scenarios are valid', async () => {
    const { scenario, issues } = await loadScenario(
      join(packageRoot(), 'simulators', 'scenarios', 'plant.yaml'),
    );
    expect(issues).toEqual([]);
    expect(scenario?.events.length).toBeGreaterThan(3);
  });

  it('expands device counts into ids', () => {
    const d = (id: string, count: number) => scenarioSchema.parse({ devices: [{ id, count }] }).devices[0]!;
    expect(expandIds(d('cnc-{n}', 3))).toEqual(['cnc-1', 'cnc-2', 'cnc-3']);
    expect(expandIds(d('pump-{nnn}', 2))).toEqual(['pump-001', 'pump-002']);
    expect(expandIds(d('press', 2))).toEqual(['press-1', 'press-2']);
  });

  it('runs JSON and Sparkplug devices with spikes, stuck values and a drop-out that fires the last will', async () => {
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    broker = new EmbeddedBroker(
      embeddedBrokerSchema.parse({
        host: '127.0.0.1',
        port: 0,
        topics: [
          { topic: 'devices/{device}/telemetry' },
          { topic: 'devices/{device}/status', payload: 'status' },
          { topic: 'spBv1.0/#', payload: 'sparkplug' },
        ],
      }),
    );
    await broker.start({ sink, logger: silentLogger, now: Date.now });
    const scenario = scenarioSchema.parse({
      interval: '20ms',
      devices: [
        { id: 'j-{n}', count: 2 },
        {
          id: 'sp1',
          format: 'sparkplug',
          sparkplug: { group: 'g', node: 'n1' },
          metrics: { level: { base: 5, noise: 0.1 }, mode: { value: 'AUTO' } },
        },
      ],
      events: [
        { at: '100ms', device: 'j-1', fault: 'spike', metric: 'vibration', magnitude: 50 },
        { at: '100ms', device: 'j-2', fault: 'stuck', metric: 'temperature', for: '400ms' },
        { at: '300ms', device: 'j-1', fault: 'dropout', disconnect: true, for: '300ms' },
      ],
    });
    const seen: string[] = [];
    sim = await runScenario(scenario, {
      url: broker.url(),
      onEvent: (e) => seen.push(`${e.fault}@${e.device}`),
    });
    expect(sim.devices).toEqual(['j-1', 'j-2', 'sp1']);
    const of = (id: string) => points.filter((p) => p.deviceId === id);
    await waitFor(
      async () => (of('j-1').some((p) => p.connectivity?.state === 'offline') ? true : undefined),
      5_000,
      'last will',
    );
    await waitFor(
      async () =>
        of('j-1').filter((p) => p.connectivity?.state === 'online').length >= 2 ? true : undefined,
      5_000,
      'back online',
    );
    expect(seen).toEqual(['spike@j-1', 'stuck@j-2', 'dropout@j-1']);
    expect(of('j-1').some((p) => (p.fields.vibration as number) > 40)).toBe(true);
    const temps = of('j-2')
      .filter((p) => !p.connectivity)
      .map((p) => p.fields.temperature);
    let longestRun = 1;
    let run = 1;
    for (let i = 1; i < temps.length; i++) {
      run = temps[i] === temps[i - 1] ? run + 1 : 1;
      longestRun = Math.max(longestRun, run);
    }
    expect(longestRun).toBeGreaterThanOrEqual(5);
    // Sparkplug: node and device born online; data decoded by alias.
    expect(of('n1').some((p) => p.connectivity?.state === 'online')).toBe(true);
    await waitFor(
      async () => (of('n1.sp1').filter((p) => !p.connectivity).length >= 3 ? true : undefined),
      5_000,
      'sparkplug data',
    );
    expect(
      of('n1.sp1')
        .filter((p) => !p.connectivity)
        .at(-1)?.fields,
    ).toMatchObject({ mode: 'AUTO' });
    expect(broker.status().details).toMatchObject({ decoderWarnings: 0, rejected: 0 });
  });
});

describe('Modbus devices in scenarios', () => {
  it('serves a register map over Modbus TCP, with value and protocol faults on schedule', async () => {
    const { ModbusConnection } = await import('../../adapters/modbus/connection.js');
    const { modbusAdapterSchema } = await import('../../adapters/modbus/config.js');
    const { planReads } = await import('../../adapters/modbus/plan.js');
    const scenario = scenarioSchema.parse({
      devices: [
        {
          id: 'm-{n}',
          count: 2,
          format: 'modbus',
          modbus: { unit: 1, registers: [{ name: 'v', table: 'input', address: 0, type: 'float32' }] },
          metrics: { v: { base: 230, noise: 0.5 } },
        },
      ],
      events: [
        { at: '150ms', device: 'm-1', fault: 'spike', metric: 'v', magnitude: 100, for: '300ms' },
        { at: '150ms', device: 'm-2', fault: 'exception', code: 6, for: '300ms' },
      ],
    });
    const sim = await runScenario(scenario);
    try {
      expect(sim.devices).toEqual(['m-1', 'm-2']);
      expect(sim.endpoints.map((e) => e.id)).toEqual(['m-1', 'm-2']);
      const read = async (url: string) => {
        const port = Number(new URL(url).port);
        const cfg = modbusAdapterSchema.parse({
          protocol: 'modbus',
          id: 'x',
          host: '127.0.0.1',
          port,
          devices: [{ id: 'd', registers: [{ name: 'v', address: 0 }] }],
        });
        const conn = new ModbusConnection(cfg);
        const [req] = planReads(scenario.devices[0]?.modbus?.registers ?? [], {
          maxRegisters: 125,
          maxBits: 2000,
          maxGap: 0,
        });
        try {
          const r = await conn.read(1, req as never, 500);
          return Buffer.from((r.words ?? []).flatMap((w) => [w >> 8, w & 0xff])).readFloatBE(0);
        } catch (err) {
          return (err as Error).message;
        } finally {
          await conn.close();
        }
      };
      const [e1, e2] = sim.endpoints;
      expect(Math.abs(((await read(e1?.url as string)) as number) - 230)).toBeLessThan(2);
      await new Promise((r) => setTimeout(r, 250));
      expect((await read(e1?.url as string)) as number).toBeGreaterThan(320);
      expect(await read(e2?.url as string)).toMatch(/Slave device busy|exception 6/i);
      await new Promise((r) => setTimeout(r, 400));
      expect(Math.abs(((await read(e2?.url as string)) as number) - 230)).toBeLessThan(2);
    } finally {
      await sim.close();
    }
  });
});
