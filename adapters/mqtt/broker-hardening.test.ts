import { Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { FaultlineError } from '../../lib/errors.js';
import { brokerHarness } from '../../test/broker-harness.js';
import { silentLogger } from '../../test/helpers.js';
import { EmbeddedBroker } from './broker.js';
import { brokerExposure, embeddedBrokerSchema } from './config.js';

/** Issue 18, finding 2: the embedded broker's defaults and limits, as Mosquitto 2 has them. */
describe('embedded broker: safe defaults and limits', () => {
  const h = brokerHarness();
  const { start, connect, accepted, sink } = h;

  it('without credentials it listens on loopback only, and says so in its URL', async () => {
    expect(brokerExposure({ users: [] })).toEqual({ host: '127.0.0.1', anonymous: true, problem: null });
    const b = await start({});
    expect(b.url()).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(b.status().details).toMatchObject({ anonymous: true });
  });

  it('serves the network with accounts, or with an explicit anonymous switch; never by default', async () => {
    const users = [{ username: 'press-7', password: 'pw7' }];
    expect(brokerExposure({ users: embeddedBrokerSchema.parse({ users }).users })).toMatchObject({
      host: '0.0.0.0',
      anonymous: false,
      problem: null,
    });
    expect(brokerExposure({ host: '0.0.0.0', users: [] }).problem).toMatch(
      /would accept anyone on 0\.0\.0\.0/,
    );
    expect(brokerExposure({ host: '0.0.0.0', users: [], allowAnonymous: true }).problem).toBeNull();
    // Refused at start too, for a caller that bypassed the configuration check.
    const open = new EmbeddedBroker(embeddedBrokerSchema.parse({ host: '0.0.0.0', port: 0 }));
    await expect(open.start({ sink, logger: silentLogger, now: Date.now })).rejects.toBeInstanceOf(
      FaultlineError,
    );
    // Bound to every interface: the URL names the real bind address, not 127.0.0.1.
    const b = await start({ host: '0.0.0.0', allowAnonymous: true });
    expect(b.url()).toMatch(/^mqtt:\/\/0\.0\.0\.0:\d+$/);
  });

  it('a packet over maxPacketSize closes its connection before the payload is buffered', async () => {
    const b = await start({ maxPacketSize: '64KB' });
    const c = await connect({ clientId: 'big' });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('devices/press-1/telemetry', JSON.stringify({ blob: 'x'.repeat(100_000) }), { qos: 1 });
    await closed;
    expect(b.status().details).toMatchObject({ oversizedPackets: 1 });
    // A raw PUBLISH that announces 250 MB: refused on its header, the rest never read.
    const port = Number(new URL(b.url()).port);
    const sock = new Socket();
    await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
    sock.write(
      mqttPacket.generate({
        cmd: 'connect',
        clientId: 'raw',
        protocolVersion: 4,
        keepalive: 30,
        clean: true,
        protocolId: 'MQTT',
      } as mqttPacket.IConnectPacket),
    );
    // Fixed header: PUBLISH QoS 0, Remaining Length 250,000,000 (varint), then only a little data.
    sock.write(Buffer.from([0x30, 0x80, 0xe5, 0x9a, 0x77, 0x00, 0x01, 0x74]));
    await new Promise<void>((r) => sock.once('close', () => r()));
    expect(b.status().details).toMatchObject({ oversizedPackets: 2 });
    // Others go on.
    const small = await connect({ clientId: 'small' });
    await small.publishAsync('devices/press-1/telemetry', JSON.stringify({ t: 1 }), { qos: 1 });
    expect(accepted).toHaveLength(1);
  });

  it('a retained telemetry reading is delivered but not kept for later subscribers', async () => {
    await start({});
    const pub = await connect({ clientId: 'pub' });
    await pub.publishAsync('devices/press-1/telemetry', JSON.stringify({ t: 1 }), { qos: 1, retain: true });
    await pub.publishAsync('plant/notice', 'kept', { qos: 1, retain: true }); // other topics: plain broker
    const sub = await connect({ clientId: 'late' });
    const got: string[] = [];
    sub.on('message', (topic) => got.push(topic));
    await sub.subscribeAsync(['devices/+/telemetry', 'plant/notice'], { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(['plant/notice']);
    expect(h.broker?.status().details).toMatchObject({ retainCleared: 1 });
  });

  it('repeated wrong passwords from one address block its logins for a while, the right one too', async () => {
    const b = await start({
      users: [{ username: 'press-7', password: 'pw7' }],
      host: '127.0.0.1',
      authFailures: { maxFailures: 3, window: '1m', block: '1m' },
    });
    const code = (password: string) => h.connackCode({ username: 'press-7', password });
    expect(await code('pw7')).toBe(0);
    for (let i = 0; i < 4; i++) expect(await code(`guess-${i}`)).toBe(4);
    expect(await code('pw7')).toBe(4); // blocked: not even checked
    expect(b.status().details).toMatchObject({ authFailures: 4, authBlocked: 1 });
  });
});
