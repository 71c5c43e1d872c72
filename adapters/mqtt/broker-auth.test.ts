import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { brokerHarness } from '../../test/broker-harness.js';
import { tempDir } from '../../test/helpers.js';

describe('embedded broker: accounts, authorisation, TLS', () => {
  const tmp = tempDir();
  const h = brokerHarness({
    host: '127.0.0.1',
    users: [
      { username: 'press-7', password: 'pw7' },
      { username: 'plc-2', passwordHash: bcrypt.hashSync('plc-secret', 4), devices: ['line2-*'] },
    ],
  });
  afterAll(() => tmp.cleanup());
  const { start, connect, connackCode, accepted } = h;

  it('refuses anonymous clients and wrong secrets once accounts exist', async () => {
    await start({});
    expect(await connackCode({})).toBe(5);
    expect(await connackCode({ username: 'press-7', password: 'nope' })).toBe(4);
    expect(await connackCode({ username: 'plc-2', password: 'wrong' })).toBe(4);
    expect(await connackCode({ username: 'plc-2', password: 'plc-secret' })).toBe(0);
    expect(h.broker?.status().details).toMatchObject({ anonymous: false, authFailures: 3 });
  });

  it('a device publishes for itself; publishing as another device closes its connection', async () => {
    await start({});
    const press = await connect({ username: 'press-7', password: 'pw7' });
    await press.publishAsync('devices/press-7/telemetry', '{"t": 1}', { qos: 1 });
    expect(accepted.map((p) => p.deviceId)).toEqual(['press-7']);
    const closed = new Promise<void>((r) => press.once('close', () => r()));
    void press.publishAsync('devices/press-8/telemetry', '{"t": 666}', { qos: 1 }).catch(() => undefined);
    await closed;
    expect(accepted.map((p) => p.deviceId)).toEqual(['press-7']);
    const plc = await connect({ username: 'plc-2', password: 'plc-secret' });
    await plc.publishAsync('devices/line2-drill/telemetry', '{"t": 2}', { qos: 1 });
    expect(accepted.map((p) => p.deviceId)).toEqual(['press-7', 'line2-drill']);
    expect(h.broker?.status().details).toMatchObject({ unauthorizedPublishes: 1 });
  });

  it('a device subscribes only within its own namespace, and cannot publish outside it', async () => {
    await start({});
    const press = await connect({ username: 'press-7', password: 'pw7' });
    // mqtt.js rejects when any filter is refused; the SUBACK is on the error.
    const suback = await press
      .subscribeAsync({
        'devices/press-7/commands': { qos: 1 },
        'devices/+/telemetry': { qos: 1 },
        '#': { qos: 0 },
      })
      .then(
        () => undefined,
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
      );
    expect(suback).toEqual([1, 128, 128]);
    const closed = new Promise<void>((r) => press.once('close', () => r()));
    void press.publishAsync('$SYS/fake', 'x', { qos: 1 }).catch(() => undefined);
    await closed;
  });

  it('anonymous clients can be allowed explicitly alongside accounts', async () => {
    await start({ allowAnonymous: true });
    const anon = await connect({});
    await anon.publishAsync('devices/anything/telemetry', '{"t": 3}', { qos: 1 });
    expect(accepted.map((p) => p.deviceId)).toEqual(['anything']);
  });

  it('serves MQTT over TLS', async () => {
    const key = join(tmp.dir, 'key.pem');
    const cert = join(tmp.dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    const b = await start({ tls: { port: 0, cert, key } });
    const url = b.tlsUrl();
    expect(url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const c = await connect({ username: 'press-7', password: 'pw7', ca: readFileSync(cert) }, url as string);
    await c.publishAsync('devices/press-7/telemetry', '{"t": 4}', { qos: 1 });
    expect(accepted.map((p) => p.fields)).toEqual([{ t: 4 }]);
    // Without trusting the certificate, the connection is refused.
    await expect(
      mqtt.connectAsync(url as string, { reconnectPeriod: 0, connectTimeout: 3_000 }),
    ).rejects.toThrow();
  });
});
