import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../adapters/mqtt/broker.js';
import { embeddedBrokerSchema } from '../../adapters/mqtt/config.js';
import type { ReadingSink } from '../../ingest/ingest.js';
import type { Point } from '../../ingest/point.js';
import { silentLogger, waitFor } from '../../test/helpers.js';
import { type MqttSimulator, start } from './index.js';

describe('MQTT equipment simulator', () => {
  let broker: EmbeddedBroker | undefined;
  let sim: MqttSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    await broker?.stop();
  });

  it('publishes realistic telemetry and develops the faults it is told to', async () => {
    const points: Point[] = [];
    const rejected: unknown[] = [];
    const sink: ReadingSink = {
      accept: async (p) => {
        points.push(...p);
      },
      reject: (e) => rejected.push(e),
    };
    broker = new EmbeddedBroker(embeddedBrokerSchema.parse({ host: '127.0.0.1', port: 0 }));
    await broker.start({ sink, logger: silentLogger, now: Date.now });
    sim = await start({ url: broker.url(), devices: 3, intervalMs: 20, seed: 7 });
    expect(sim.devices).toEqual(['sim-001', 'sim-002', 'sim-003']);

    await waitFor(async () => (points.length >= 30 ? true : undefined), 10_000, '30 readings');
    expect(rejected).toEqual([]);
    // Each device says it is online (status topic) and then publishes telemetry.
    expect(
      points
        .filter((p) => p.connectivity?.state === 'online')
        .map((p) => p.deviceId)
        .sort(),
    ).toEqual(['sim-001', 'sim-002', 'sim-003']);
    const telemetry = points.filter((p) => !p.connectivity);
    const normal = telemetry
      .filter((p) => p.deviceId === 'sim-001')
      .map((p) => p.fields.temperature as number);
    expect(Math.max(...normal)).toBeLessThan(80);
    expect(telemetry[0]?.fields).toMatchObject({ running: true });
    expect(telemetry[0]?.errorCodes).toEqual([]);

    // overheat() climbs 2 °C/s like a real spindle; a faster ramp keeps the test short.
    sim.handle.inject('sim-002', { kind: 'ramp', metric: 'temperature', to: 97, perSecond: 200 });
    sim.errorBurst('sim-003', ['E-1042']);
    await waitFor(
      async () =>
        points.some((p) => p.deviceId === 'sim-002' && (p.fields.temperature as number) >= 96)
          ? true
          : undefined,
      10_000,
      'overheat',
    );
    await waitFor(
      async () => (points.some((p) => p.errorCodes?.includes('E-1042')) ? true : undefined),
      10_000,
      'error code',
    );
    sim.clearFaults();
    const mark = points.length;
    await waitFor(async () => (points.length > mark + 6 ? true : undefined), 10_000, 'more readings');
    expect(points.slice(mark + 3).some((p) => p.errorCodes?.includes('E-1042'))).toBe(false);
    expect(() => sim?.overheat('nope')).toThrow('no simulated device "nope"');
  });
});
