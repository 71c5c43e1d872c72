import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadingSink } from '../../ingest/ingest.js';
import type { Point } from '../../ingest/point.js';
import type { DeadLetterInput } from '../../ingest/store.js';
import { silentLogger } from '../../test/helpers.js';
import { EmbeddedBroker } from './broker.js';
import { embeddedBrokerSchema } from './config.js';

/** A sink we control: the seam between the adapter and ingest. */
class ControlledSink implements ReadingSink {
  accepted: Point[] = [];
  rejected: { entry: DeadLetterInput; partial: boolean }[] = [];
  gate: Promise<void> = Promise.resolve();
  fail = false;
  async accept(points: readonly Point[]): Promise<void> {
    await this.gate;
    if (this.fail) throw new Error('disk full');
    this.accepted.push(...points);
  }
  reject(entry: DeadLetterInput, partial = false): void {
    this.rejected.push({ entry, partial });
  }
}

describe('embedded MQTT broker', () => {
  let broker: EmbeddedBroker | undefined;
  let client: mqtt.MqttClient | undefined;
  afterEach(async () => {
    await client?.endAsync(true);
    await broker?.stop();
  });

  async function setup(sink: ControlledSink, extra: Record<string, unknown> = {}) {
    broker = new EmbeddedBroker(embeddedBrokerSchema.parse({ host: '127.0.0.1', port: 0, ...extra }));
    await broker.start({ sink, logger: silentLogger, now: () => 1_790_000_000_000 });
    client = await mqtt.connectAsync(broker.url(), { clientId: 'dev', reconnectPeriod: 0 });
    return client;
  }

  it('sends the QoS 1 PUBACK only after the reading is durable', async () => {
    const sink = new ControlledSink();
    let release!: () => void;
    sink.gate = new Promise((r) => {
      release = r;
    });
    const c = await setup(sink);
    let acked = false;
    const pub = c.publishAsync('devices/m1/telemetry', '{"t": 1}', { qos: 1 }).then(() => {
      acked = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(acked).toBe(false);
    release();
    await pub;
    expect(acked).toBe(true);
    expect(sink.accepted.map((p) => [p.deviceId, p.fields])).toEqual([['m1', { t: 1 }]]);
  });

  it('does not acknowledge a reading that could not be made durable', async () => {
    const sink = new ControlledSink();
    sink.fail = true;
    const c = await setup(sink);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    let acked = false;
    void c.publishAsync('devices/m1/telemetry', '{"t": 1}', { qos: 1 }).then(
      () => {
        acked = true;
      },
      () => undefined,
    );
    await closed; // aedes drops the connection instead of acknowledging
    expect(acked).toBe(false);
  });

  it('acknowledges and dead-letters a poison message; the device goes on', async () => {
    const sink = new ControlledSink();
    const c = await setup(sink);
    await c.publishAsync('devices/m1/telemetry', '{not json', { qos: 1 });
    await c.publishAsync('devices/m1/telemetry', '{"t": 2, "bad": {"x": 1}}', { qos: 1 });
    await c.publishAsync('devices/m1/telemetry', '{"t": 3}', { qos: 0 });
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.rejected.map((r) => [r.partial, r.entry.origin, r.entry.reason.split(':')[0]])).toEqual([
      [false, 'devices/m1/telemetry', 'payload is not JSON'],
      [true, 'devices/m1/telemetry', 'bad'],
    ]);
    expect(sink.accepted.map((p) => p.fields)).toEqual([{ t: 2 }, { t: 3 }]);
    expect(broker?.status().details).toMatchObject({ publishes: 3, readings: 2, rejected: 1 });
  });

  it('passes other topics through as a plain broker', async () => {
    const sink = new ControlledSink();
    const c = await setup(sink);
    const got = new Promise<string>((r) => c.once('message', (_t, payload) => r(payload.toString())));
    await c.subscribeAsync('plant/#');
    await c.publishAsync('plant/line1/status', 'running', { qos: 1 });
    expect(await got).toBe('running');
    expect(sink.accepted).toEqual([]);
    expect(sink.rejected).toEqual([]);
  });

  it('reads configured topic templates and payload formats; tags come from the topic', async () => {
    const sink = new ControlledSink();
    const c = await setup(sink, {
      topics: [
        { topic: 'plant/{site}/{line}/{device}/data' },
        { topic: 'sensors/{device}/{metric}', payload: 'value' },
        { topic: 'lp/{gw}', payload: 'line', line: { precision: 'ms' } },
      ],
    });
    await c.publishAsync('plant/north/l2/press-7/data', '{"pressure": 6.1}', { qos: 1 });
    await c.publishAsync('sensors/tank-3/level', '2.41', { qos: 1 });
    await c.publishAsync('lp/g1', 'm,device=m1 temp=20 1790000000000\nm,device=m2 temp=oops', { qos: 1 });
    expect(sink.accepted.map((p) => [p.deviceId, p.fields, p.tags])).toEqual([
      ['press-7', { pressure: 6.1 }, { site: 'north', line: 'l2' }],
      ['tank-3', { level: 2.41 }, undefined],
      ['m1', { temp: 20 }, { gw: 'g1' }],
    ]);
    expect(sink.rejected.map((r) => [r.partial, r.entry.reason])).toEqual([
      [true, 'line 2: invalid field value "oops" at column 18'],
    ]);
  });

  it('stop() can be called twice', async () => {
    const sink = new ControlledSink();
    await setup(sink);
    await client?.endAsync(true);
    client = undefined;
    await broker?.stop();
    await broker?.stop();
    expect(broker?.status().state).toBe('stopped');
  });
});
