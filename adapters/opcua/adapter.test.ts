import { DataType, DataValue, StatusCodes } from 'node-opcua';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadingSink } from '../../ingest/ingest.js';
import type { Point } from '../../ingest/point.js';
import { type OpcuaSimulator, start as startSim } from '../../simulators/opcua/index.js';
import { silentLogger, waitFor } from '../../test/helpers.js';
import { OpcuaAdapter } from './adapter.js';
import { opcuaAdapterSchema } from './config.js';

describe('OPC UA adapter against the simulator (real sockets, security None)', () => {
  let sim: OpcuaSimulator | undefined;
  let adapter: OpcuaAdapter | undefined;
  afterEach(async () => {
    await adapter?.stop();
    await sim?.close();
  });

  async function setup() {
    sim = await startSim({
      intervalMs: 100,
      devices: [
        {
          name: 'Press7',
          variables: [
            { name: 'Temperature' },
            { name: 'Mode', dataType: 'String' },
            { name: 'Running', dataType: 'Boolean' },
          ],
        },
        { name: 'Pump2', variables: [{ name: 'Pressure' }] },
      ],
    });
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    adapter = new OpcuaAdapter(
      opcuaAdapterSchema.parse({
        protocol: 'opcua',
        id: 'plc',
        endpointUrl: sim.endpointUrl,
        publishingInterval: '100ms',
        samplingInterval: '50ms',
        keepAliveTimeout: '2s',
        reconnect: { min: '200ms', max: '1s' },
        items: [
          { nodeId: 'ns=1;s=Press7.Temperature', device: 'press-7', metric: 'temperature' },
          { nodeId: 'ns=1;s=Press7.Mode', device: 'press-7', metric: 'mode' },
          { nodeId: 'ns=1;s=Press7.Running', device: 'press-7', metric: 'running' },
          { nodeId: 'ns=1;s=Pump2.Pressure', device: 'pump-2', metric: 'pressure' },
        ],
      }),
    );
    await adapter.start({ sink, logger: silentLogger, now: Date.now });
    return points;
  }
  const readings = (points: Point[], device: string) =>
    points.filter((p) => p.deviceId === device && !p.connectivity);

  it('data changes arrive with the right device, metric, value and source timestamp', async () => {
    const points = await setup();
    sim?.setValue('Press7', 'Temperature', 71.25);
    sim?.setValue('Press7', 'Mode', 'AUTO');
    const p = await waitFor(
      async () =>
        readings(points, 'press-7').find((x) => x.fields.temperature === 71.25 && x.fields.mode === 'AUTO'),
      10_000,
      'values',
    );
    expect(Math.abs(p.ts - Date.now())).toBeLessThan(5_000);
    expect(p.ts).toBeLessThanOrEqual(p.receivedAt);
    await waitFor(
      async () => readings(points, 'pump-2').find((x) => typeof x.fields.pressure === 'number'),
      5_000,
      'second device',
    );
    expect(readings(points, 'press-7').some((x) => x.fields.running === true)).toBe(true);
  });

  it('each item keeps its own deadband: small changes pass on one, are held back on the other', async () => {
    sim = await startSim({
      intervalMs: 50,
      devices: [{ name: 'Line', variables: [{ name: 'A' }, { name: 'B' }] }],
    });
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    adapter = new OpcuaAdapter(
      opcuaAdapterSchema.parse({
        protocol: 'opcua',
        id: 'db',
        endpointUrl: sim.endpointUrl,
        publishingInterval: '100ms',
        samplingInterval: '50ms',
        items: [
          { nodeId: 'ns=1;s=Line.A', device: 'line', metric: 'a' },
          { nodeId: 'ns=1;s=Line.B', device: 'line', metric: 'b', deadband: { type: 'absolute', value: 5 } },
        ],
      }),
    );
    sim.setValue('Line', 'A', 50);
    sim.setValue('Line', 'B', 50);
    await adapter.start({ sink, logger: silentLogger, now: Date.now });
    const values = (metric: string) =>
      points.flatMap((p) => (typeof p.fields[metric] === 'number' ? [p.fields[metric]] : []));
    await waitFor(
      async () => (values('a').includes(50) && values('b').includes(50) ? true : undefined),
      10_000,
      'first values',
    );
    for (const v of [50.5, 51, 52]) {
      sim.setValue('Line', 'A', v);
      sim.setValue('Line', 'B', v);
      await waitFor(async () => (values('a').includes(v) ? true : undefined), 5_000, `a=${v}`);
    }
    sim.setValue('Line', 'B', 60);
    await waitFor(async () => (values('b').includes(60) ? true : undefined), 5_000, 'b=60');
    expect(values('b')).toEqual([50, 60]);
  });

  it('an item that cannot be monitored is reported; the others flow', async () => {
    sim = await startSim({ intervalMs: 50, devices: [{ name: 'Line', variables: [{ name: 'A' }] }] });
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    adapter = new OpcuaAdapter(
      opcuaAdapterSchema.parse({
        protocol: 'opcua',
        id: 'bad-node',
        endpointUrl: sim.endpointUrl,
        publishingInterval: '100ms',
        items: [
          { nodeId: 'ns=1;s=Line.DoesNotExist', device: 'line', metric: 'ghost' },
          { nodeId: 'ns=1;s=Line.A', device: 'line', metric: 'a' },
        ],
      }),
    );
    sim.setValue('Line', 'A', 7);
    await adapter.start({ sink, logger: silentLogger, now: Date.now });
    await waitFor(async () => points.find((p) => p.fields.a === 7), 10_000, 'the good item');
    const stats = adapter.deviceStats().line as { failedItems: string[] } | undefined;
    expect(stats?.failedItems).toEqual(['ns=1;s=Line.DoesNotExist: BadNodeIdUnknown']);
    expect(points.some((p) => 'ghost' in p.fields)).toBe(false);
  });

  it('items by browse path resolve to their nodes; a path that leads nowhere is reported', async () => {
    sim = await startSim({
      intervalMs: 50,
      devices: [{ name: 'Oven3', variables: [{ name: 'Zone1' }, { name: 'State', dataType: 'String' }] }],
    });
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    adapter = new OpcuaAdapter(
      opcuaAdapterSchema.parse({
        protocol: 'opcua',
        id: 'paths',
        endpointUrl: sim.endpointUrl,
        publishingInterval: '100ms',
        items: [
          { browsePath: '/Objects/1:Oven3/1:Zone1', device: 'oven-3', metric: 'zone1' },
          { browsePath: '/Objects/1:Oven3.1:State', device: 'oven-3', metric: 'state' },
          { browsePath: '/Objects/1:Oven3/1:Zone9', device: 'oven-3', metric: 'zone9' },
        ],
      }),
    );
    sim.setValue('Oven3', 'Zone1', 212.5);
    sim.setValue('Oven3', 'State', 'HEATING');
    await adapter.start({ sink, logger: silentLogger, now: Date.now });
    await waitFor(
      async () => points.find((p) => p.fields.zone1 === 212.5 && p.fields.state === 'HEATING'),
      10_000,
      'values by browse path',
    );
    const stats = adapter.deviceStats()['oven-3'] as { failedItems: string[] } | undefined;
    expect(stats?.failedItems).toEqual(['/Objects/1:Oven3/1:Zone9: BadNoMatch']);
  });

  it('several changes of one item in one turn make one reading of its latest state (never a value beside a bad quality)', async () => {
    const points: Point[] = [];
    const a = new OpcuaAdapter(
      opcuaAdapterSchema.parse({
        protocol: 'opcua',
        id: 'plc',
        endpointUrl: 'opc.tcp://127.0.0.1:4840',
        items: [{ nodeId: 'ns=1;s=Pump2.Pressure', device: 'pump-2', metric: 'pressure' }],
      }),
    );
    // The adapter's data-change path alone, as a publish response with queued changes drives it.
    const inner = a as unknown as {
      ctx: unknown;
      onChange(i: number, dv: DataValue): void;
    };
    inner.ctx = {
      sink: { accept: async (p: Point[]) => void points.push(...p) },
      logger: silentLogger,
      now: Date.now,
    };
    const good = (v: number) =>
      new DataValue({ value: { dataType: DataType.Double, value: v }, statusCode: StatusCodes.Good });
    const bad = new DataValue({ statusCode: StatusCodes.BadSensorFailure });
    inner.onChange(0, good(50.07));
    inner.onChange(0, bad);
    await new Promise((r) => setImmediate(r));
    expect(points.map((p) => p.fields)).toEqual([{ pressure_quality: 'BadSensorFailure' }]);
    inner.onChange(0, bad);
    inner.onChange(0, good(51.5));
    await new Promise((r) => setImmediate(r));
    expect(points.map((p) => p.fields)[1]).toEqual({ pressure: 51.5 });
  });

  it('a bad status is a reading of bad quality, not a value', async () => {
    const points = await setup();
    await waitFor(async () => readings(points, 'pump-2')[0], 10_000, 'first value');
    sim?.setStatus('Pump2', 'Pressure', 'BadSensorFailure');
    const bad = await waitFor(
      async () => readings(points, 'pump-2').find((x) => x.fields.pressure_quality === 'BadSensorFailure'),
      5_000,
      'bad quality',
    );
    expect(bad.fields.pressure).toBeUndefined();
    const stats = adapter?.deviceStats()['pump-2'] as { badQuality: number } | undefined;
    expect(stats?.badQuality).toBeGreaterThan(0);
  });

  it('survives a server restart: values flow again, the gap is recorded, recovery time reported', async () => {
    const points = await setup();
    await waitFor(async () => readings(points, 'press-7')[0], 10_000, 'first value');
    const restartedAt = Date.now();
    await sim?.restart(1_000);
    sim?.setValue('Press7', 'Temperature', 88.5);
    const again = await waitFor(
      async () => readings(points, 'press-7').find((x) => x.fields.temperature === 88.5),
      20_000,
      'values after restart',
    );
    const recoveredMs = again.receivedAt - restartedAt;
    process.stdout.write(
      `OPC UA: values flowing again ${recoveredMs} ms after the server went down (1 s downtime)\n`,
    );
    const stats = adapter?.deviceStats()['press-7'] as { gaps: { from: number; to: number }[] } | undefined;
    expect(stats?.gaps).toHaveLength(1);
    expect(stats?.gaps[0]?.from).toBeGreaterThanOrEqual(restartedAt - 100);
    expect((stats?.gaps[0]?.to ?? 0) - (stats?.gaps[0]?.from ?? 0)).toBeGreaterThanOrEqual(900);
    expect(
      points
        .filter((x) => x.connectivity?.state === 'offline')
        .map((x) => x.deviceId)
        .sort(),
    ).toEqual(['press-7', 'pump-2']);
  });
});
