import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDevice } from '../ingest/devices.js';
import { SqliteDeviceStore } from '../ingest/sqlite-device-store.js';
import { openDatabase } from '../lib/sqlite.js';
import { Outbox } from '../notify/outbox.js';
import { SqliteOutboxStore } from '../notify/sqlite-outbox-store.js';
import { type CliGateway, getJson, postJson, startCli, tempDir, waitFor, writeFiles } from './helpers.js';

/**
 * Issue 18, finding 1: a reading with an impossible timestamp was acknowledged, then killed the
 * gateway at every start (webhook sender) or made /devices and /alerts answer 500. Each poison
 * input here is published, acknowledged, dead-lettered; the gateway is stopped and started again
 * (the built CLI, as users run it) and must start and serve every list. Stored values written before
 * the edge checked times, and an event that cannot be serialised, must not stop it either.
 */
const CONFIG = `
sites: [{ id: north }]
devices: [{ id: press-1, site: north }]
rules: { files: [rules.yaml], watch: false }
notifications:
  webhooks:
    retry: { min: 50ms, max: 100ms, attempts: 2 }
    egress: { allow: [127.0.0.1] } # the test's receiver
`;
const RULES = `rules:
  - id: safety-stop
    errorCode: [E-STOP]
    ticket: { priority: emergency, faultType: safety }
`;

describe('poison inputs: impossible timestamps and stored values (issue 18)', () => {
  const tmp = tempDir();
  let receiver: Server;
  const received: { type: string; timestamp: string }[] = [];
  let hookUrl = '';

  beforeAll(async () => {
    writeFiles(tmp.dir, { 'faultline.yaml': CONFIG, 'rules.yaml': RULES });
    receiver = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push(JSON.parse(body) as { type: string; timestamp: string });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => {
    receiver.close();
    tmp.cleanup();
  });

  const start = () =>
    startCli(['--config', join(tmp.dir, 'faultline.yaml'), '--data-dir', join(tmp.dir, 'data')]);

  /** Every list a user opens answers 200. */
  const serves = async (gw: CliGateway) => {
    for (const p of ['/devices', '/alerts', '/tickets', '/ingest', '/ingest/dead-letters', '/webhooks'])
      expect((await getJson(gw.api(p))).status, p).toBe(200);
  };

  it('each impossible timestamp is dead-lettered; the gateway restarts and serves after each', async () => {
    let gw = await start();
    const hook = await postJson(gw.api('/webhooks'), { url: hookUrl, types: ['device.*', 'ticket.*'] });
    expect(hook.status).toBe(201);
    const now = Date.now();
    const poison: unknown[] = [
      now * 1e6, // date +%s%N
      1e20,
      Date.UTC(2200, 0, 1),
      '2200-01-01T00:00:00Z',
      Date.UTC(1980, 0, 1),
      now + 3_600_000, // an hour ahead: a wrong clock
    ];
    for (const [i, ts] of poison.entries()) {
      const client = await mqtt.connectAsync(gw.mqttUrl, { clientId: `poison-${i}`, reconnectPeriod: 0 });
      // Acknowledged (a poison message must not block its device), then dead-lettered.
      await client.publishAsync(
        'devices/press-1/telemetry',
        JSON.stringify({ ts, temperature: 20, errorCode: 'E-STOP' }),
        { qos: 1 },
      );
      await client.endAsync();
      await waitFor(async () => {
        const dl = await getJson<{ total: number }>(gw.api('/ingest/dead-letters'));
        return dl.body.total === i + 1 ? true : undefined;
      });
      expect(await gw.stop()).toBe(0);
      gw = await start();
      await serves(gw);
    }
    const dead = await getJson<{ items: { reason: string }[] }>(gw.api('/ingest/dead-letters'));
    expect(dead.body.items.map((d) => d.reason).reverse()).toEqual([
      expect.stringMatching(/nanoseconds/),
      expect.stringMatching(/nanoseconds/), // 1e20 is no time in any unit
      expect.stringMatching(/^ts 2200-01-01T00:00:00.000Z is \d+d ahead of its receipt/),
      expect.stringMatching(/^ts 2200-01-01T00:00:00.000Z is \d+d ahead/),
      expect.stringMatching(/^ts 1980-01-01T00:00:00.000Z is \d+d before its receipt/),
      expect.stringMatching(/is 1h ahead of its receipt \(ingest\.timestamps\.maxFuture: 5m\)/),
    ]);
    // None of them opened a ticket, and none moved the device's values.
    expect((await getJson<{ items: unknown[] }>(gw.api('/tickets'))).body.items).toEqual([]);
    // A reading with a good time still works as before: the emergency opens a ticket whose clocks
    // run from now (not breached at birth), and the webhook hears of it.
    const client = await mqtt.connectAsync(gw.mqttUrl, { clientId: 'good', reconnectPeriod: 0 });
    await client.publishAsync(
      'devices/press-1/telemetry',
      JSON.stringify({ temperature: 21, errorCode: 'E-STOP' }),
      {
        qos: 1,
      },
    );
    await client.endAsync();
    const ticket = await waitFor(async () => {
      const r = await getJson<{ items: { id: string; sla: { response: { state: string } } }[] }>(
        gw.api('/tickets'),
      );
      return r.body.items[0];
    });
    expect(ticket.sla.response.state).toBe('running');
    await waitFor(async () => (received.some((e) => e.type === 'ticket.created') ? true : undefined));
    const device = await getJson<{ lastValues: { temperature: { value: number } } }>(
      gw.api('/devices/press-1'),
    );
    expect(device.body.lastValues.temperature.value).toBe(21);
    expect(await gw.stop()).toBe(0);
  }, 120_000);

  it('stored values from before the check and an event that cannot be sent stop nothing', async () => {
    // Written as an older version would have: a device frozen in 2200 and beyond a Date's range,
    // and an event whose time is not a time, with a delivery pending for the webhook.
    const db = openDatabase(join(tmp.dir, 'data', 'state.db'));
    const store = new SqliteDeviceStore(db);
    const frozen = newDevice('press-1', { site: 'north', configured: true });
    frozen.lastValues = {
      temperature: { value: 99, ts: Date.UTC(2200, 0, 1) },
      pressure: { value: 5, ts: 1e20 },
    };
    frozen.lastSeenAt = 1e20;
    frozen.connectivity = { state: 'online', since: 1e20, reason: 'first reading' };
    await store.saveMany([frozen]);
    const outbox = new Outbox(new SqliteOutboxStore(db));
    await outbox.publish({
      type: 'device.online',
      at: 1e20,
      subject: 'press-1',
      site: 'north',
      customer: null,
      data: {},
    });
    db.close();

    const gw = await start();
    try {
      await serves(gw);
      const dev = await getJson<{ lastValues: Record<string, unknown>; lastSeenAt: unknown }>(
        gw.api('/devices/press-1'),
      );
      expect(dev.body.lastValues).toEqual({});
      expect(dev.body.lastSeenAt).toBeNull();
      // The event that cannot be serialised is on the dead list with the reason; later ones go out.
      const dead = await waitFor(async () => {
        const hooks = await getJson<{ items: { id: string }[] }>(gw.api('/webhooks'));
        const id = hooks.body.items[0]?.id;
        const r = await getJson<{ items: { lastError: string }[] }>(
          gw.api(`/webhooks/${id}/deliveries?state=dead`),
        );
        return r.body.items[0];
      });
      expect(dead.lastError).toMatch(/^could not be prepared: Invalid time value/);
      const client = await mqtt.connectAsync(gw.mqttUrl, { clientId: 'after', reconnectPeriod: 0 });
      await client.publishAsync('devices/press-1/telemetry', JSON.stringify({ temperature: 30 }), { qos: 1 });
      await client.endAsync();
      // The device's values move again (a value from 2200 would have held them forever).
      await waitFor(async () => {
        const d = await getJson<{ lastValues: { temperature?: { value: number } } }>(
          gw.api('/devices/press-1'),
        );
        return d.body.lastValues.temperature?.value === 30 ? true : undefined;
      });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  }, 60_000);
});
