import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config/load.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import { FaultlineError } from '../lib/errors.js';
import type { TicketView } from '../tickets/service.js';
import {
  auth,
  getJson,
  postJson,
  silentLogger,
  stream,
  TEST_API_KEY,
  tempDir,
  waitFor,
  writeFiles,
} from './helpers.js';
import { describeIf } from './servers/common.js';
import { type PostgresServer, postgresBin, startPostgres } from './servers/postgres.js';

const { describe, label } = describeIf(
  postgresBin() !== undefined,
  'PostgreSQL',
  'apt-get install postgresql',
);

const RULES = `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90 }
    ticket: { priority: general, faultType: thermal }
`;

/** A usage-counted service: counted by the instance that evaluates the device, leader or not. */
const PREVENTIVE = `preventive:
  - id: bearing-hours
    title: Bearing service
    devices: [mill-*]
    usage: { metric: running_hours, every: 100 }
    notice: 2d
`;

/**
 * One gateway with its shared state in PostgreSQL (issue 20): a reading over MQTT opens a ticket that
 * the API (served by its worker thread from a pool of its own) lists; nothing goes to state.db; the
 * tickets are there after a restart; a database that does not answer stops the start with a coded error.
 */
describe(`a gateway on PostgreSQL${label}`, () => {
  let server: PostgresServer;
  let url: string;
  const tmp = tempDir();
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('gateway');
    writeFiles(tmp.dir, { 'rules.yaml': RULES });
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
    tmp.cleanup();
  });

  async function start(databaseUrl: string, dataDir = 'data'): Promise<RunningGateway> {
    writeFiles(tmp.dir, {
      'faultline.yaml': `rules:\n  files: [rules.yaml]\nstorage:\n  postgres: { url: "\${DB_URL}", poolSize: 4 }\n${PREVENTIVE}`,
    });
    process.env.DB_URL = databaseUrl;
    const loaded = await loadConfig(join(tmp.dir, 'faultline.yaml'), {
      apiPort: 0,
      mqttPort: 0,
      mqttHost: '127.0.0.1',
      dataDir: join(tmp.dir, dataDir),
    });
    if (loaded.issues.length) throw new Error(JSON.stringify(loaded.issues));
    loaded.config.api.adminKey = TEST_API_KEY;
    return startGateway(loaded.config, silentLogger);
  }

  /** Two gateways, `gw-a` (started first) and `gw-b`, on a new database of their own. */
  async function twoInstances(database: string): Promise<{ a: RunningGateway; b: RunningGateway }> {
    const shared = await server.createDatabase(database);
    try {
      process.env.FAULTLINE_INSTANCE_ID = 'gw-a';
      const a = await start(shared, 'a');
      process.env.FAULTLINE_INSTANCE_ID = 'gw-b';
      return { a, b: await start(shared, 'b') };
    } finally {
      delete process.env.FAULTLINE_INSTANCE_ID;
    }
  }

  it('opens tickets from readings, serves them from the worker, keeps them across a restart', async () => {
    let gw = await start(url);
    try {
      const client = await mqtt.connectAsync(gw.mqttUrl as string, { reconnectPeriod: 0 });
      await client.publishAsync('devices/press-1/telemetry', JSON.stringify({ temperature: 95 }), { qos: 1 });
      await client.endAsync();
      const ticket = await waitFor(
        async () => {
          const r = await getJson<{ items: TicketView[] }>(`${gw.apiUrl}/api/v1/tickets?deviceId=press-1`);
          return r.body.items?.[0];
        },
        10_000,
        'the ticket',
      );
      expect(ticket).toMatchObject({
        ruleId: 'hot',
        deviceId: 'press-1',
        status: 'open',
        priority: 'general',
      });
      const alert = await getJson<{ state: string; ticketId: string }>(
        `${gw.apiUrl}/api/v1/alerts/hot@press-1`,
      );
      expect(alert.body).toMatchObject({ state: 'firing', ticketId: ticket.id });
      expect(existsSync(join(tmp.dir, 'data', 'state.db'))).toBe(false);
      expect(existsSync(join(tmp.dir, 'data', 'spool.db'))).toBe(true);
      await gw.stop();
      gw = await start(url);
      const again = await getJson<TicketView>(`${gw.apiUrl}/api/v1/tickets/${ticket.id}`);
      expect(again.body).toMatchObject({ id: ticket.id, status: 'open' });
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('two instances: one leads, the other stands by and takes over when the leader stops; one ticket per fault', async () => {
    const { a, b } = await twoInstances('two_instances');
    const health = async (gw: RunningGateway) =>
      (
        await getJson<{
          instance: { id: string; role: string; storage: string; events?: { notified: boolean } };
        }>(`${gw.apiUrl}/health`, null)
      ).body.instance;
    try {
      await waitFor(async () => ((await health(a)).role === 'leader' ? true : undefined), 5_000, 'a leads');
      expect(await health(a)).toMatchObject({ id: 'gw-a', role: 'leader', storage: 'postgres' });
      expect(await health(b)).toMatchObject({ id: 'gw-b', role: 'standby', storage: 'postgres' });
      expect((await health(b)).events).toMatchObject({ notified: true });
      const metrics = await fetch(`${b.apiUrl}/metrics`, { headers: auth() }).then((r) => r.text());
      expect(metrics).toContain(
        'faultline_instance_info{instance="gw-b",storage="postgres",role="standby"} 1',
      );
      expect(metrics).toContain('faultline_devices_evaluated{instance="gw-b"} 0');
      // The same fault seen by both: one ticket.
      for (const gw of [a, b]) {
        const client = await mqtt.connectAsync(gw.mqttUrl as string, { reconnectPeriod: 0 });
        await client.publishAsync('devices/press-7/telemetry', JSON.stringify({ temperature: 97 }), {
          qos: 1,
        });
        await client.endAsync();
      }
      const list = await waitFor(
        async () => {
          const r = await getJson<{ items: TicketView[] }>(`${b.apiUrl}/api/v1/tickets?deviceId=press-7`);
          return r.body.items.length ? r : undefined;
        },
        10_000,
        'the ticket',
      );
      await a.alerts.idle();
      await b.alerts.idle();
      // Evaluated by one of them only (the device's owner): no second occurrence.
      expect(list.body.items).toHaveLength(1);
      expect(list.body.items[0]?.occurrences).toBe(0);
      expect((a.ownership?.count ?? 0) + (b.ownership?.count ?? 0)).toBe(1);
      // The leader stops: b takes over (a clean stop releases the lease at once).
      const stoppedAt = Date.now();
      await a.stop();
      await waitFor(async () => ((await health(b)).role === 'leader' ? true : undefined), 15_000, 'b leads');
      console.log(`takeover after a clean stop: ${Date.now() - stoppedAt} ms`);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('two instances stay in step: events of either on both streams, the leader clocks tickets the other opened, windows set on one hold on the other', async () => {
    const { a, b } = await twoInstances('in_step');
    const streamA = await stream(`${a.apiUrl}/api/v1/events`, auth());
    const streamB = await stream(`${b.apiUrl}/api/v1/events`, auth());
    try {
      expect(streamB.status).toBe(200);
      // An emergency ticket filed on b (standby): a, the leader, hears of it and announces it to the
      // lead (ticket.escalated, stored by a); both streams see both events, in the same order.
      const filed = await postJson<{ id: string }>(`${b.apiUrl}/api/v1/tickets`, {
        title: 'Conveyor stopped',
        priority: 'emergency',
        source: 'phone',
        reporter: { name: 'Shift lead' },
        faultType: 'mechanical',
      });
      expect(filed.status).toBe(201);
      const seen = (s: typeof streamA) =>
        s.events.filter((e) => e.data.subject === filed.body.id).map((e) => `${e.id} ${e.event}`);
      await waitFor(
        async () => (seen(streamB).length >= 2 && seen(streamA).length >= 2 ? true : undefined),
        10_000,
        'ticket.created and ticket.escalated on both streams',
      );
      await new Promise((r) => setTimeout(r, 300)); // anything more would have arrived by now
      expect(seen(streamA)).toEqual(seen(streamB));
      expect(seen(streamA).map((x) => x.split(' ')[1])).toEqual(['ticket.created', 'ticket.escalated']);
      // A maintenance window set through a: a fault on b during it opens no ticket.
      const window = await postJson<{ id: string }>(`${a.apiUrl}/api/v1/silences`, {
        devices: ['mill-3'],
        duration: '1h',
        reason: 'spindle swap',
        createdBy: 'planner',
      });
      expect(window.status).toBe(201);
      await waitFor(
        async () => b.silences.covering({ id: 'mill-3', site: 'default' } as never, Date.now()),
        5_000,
        'the window on b',
      );
      const client = await mqtt.connectAsync(b.mqttUrl as string, { reconnectPeriod: 0 });
      await client.publishAsync('devices/mill-3/telemetry', JSON.stringify({ temperature: 99 }), { qos: 1 });
      await client.endAsync();
      const alert = await waitFor(
        async () =>
          (
            await getJson<{ items: { deviceId: string; silencedBy: string | null }[] }>(
              `${a.apiUrl}/api/v1/alerts?deviceId=mill-3`,
            )
          ).body.items[0],
        10_000,
        'the alert',
      );
      await b.alerts.idle();
      expect(alert.silencedBy).toBe(window.body.id);
      const tickets = await getJson<{ items: TicketView[] }>(`${a.apiUrl}/api/v1/tickets?deviceId=mill-3`);
      expect(tickets.body.items).toHaveLength(0);
      // mill-5's running hours reach b only (the standby, which evaluates mill-5): its service is due.
      const hours = await mqtt.connectAsync(b.mqttUrl as string, { reconnectPeriod: 0 });
      for (const running_hours of [10, 150])
        await hours.publishAsync('devices/mill-5/telemetry', JSON.stringify({ running_hours }), { qos: 1 });
      await hours.endAsync();
      const service = await waitFor(
        async () =>
          (await getJson<{ items: TicketView[] }>(`${a.apiUrl}/api/v1/tickets?deviceId=mill-5`)).body
            .items[0],
        10_000,
        'the usage ticket',
      );
      expect(service).toMatchObject({
        priority: 'preventive',
        title: expect.stringContaining('Bearing service'),
      });
      expect(b.ownership?.owns('mill-5')).toBe(true);
      // a never received mill-5, yet answers for it (what b saved, merged in).
      const device = await waitFor(
        async () => {
          const r = await getJson<{ lastValues?: Record<string, { value: number }> }>(
            `${a.apiUrl}/api/v1/devices/mill-5`,
          );
          return r.body.lastValues?.running_hours?.value === 150 ? r.body : undefined;
        },
        25_000,
        'mill-5 on a',
      );
      expect(device).toBeDefined();
    } finally {
      streamA.close();
      streamB.close();
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('a device handed over at a clean stop: the other instance goes on from its state (resolves, fires again on the same ticket)', async () => {
    const { a, b } = await twoInstances('hand_over');
    const send = async (gw: RunningGateway, temperature: number) => {
      const client = await mqtt.connectAsync(gw.mqttUrl as string, { reconnectPeriod: 0 });
      await client.publishAsync('devices/kiln-2/telemetry', JSON.stringify({ temperature }), { qos: 1 });
      await client.endAsync();
    };
    type AlertView = { state: string; fireCount: number };
    const alert = async (state: string) =>
      waitFor(
        async () => {
          const r = await getJson<AlertView>(`${b.apiUrl}/api/v1/alerts/hot@kiln-2`);
          return r.status === 200 && r.body.state === state ? r.body : undefined;
        },
        10_000,
        `the alert ${state}`,
      );
    try {
      await send(a, 96);
      expect(await alert('firing')).toMatchObject({ fireCount: 1 });
      expect(a.ownership?.owns('kiln-2')).toBe(true);
      await a.stop(); // hands kiln-2 over, its series saved
      await send(b, 60);
      expect(await alert('resolved')).toMatchObject({ fireCount: 1 });
      expect(b.ownership?.owns('kiln-2')).toBe(true);
      await send(b, 97);
      expect(await alert('firing')).toMatchObject({ fireCount: 2 });
      await b.alerts.idle();
      const tickets = await getJson<{ items: TicketView[] }>(`${b.apiUrl}/api/v1/tickets?deviceId=kiln-2`);
      expect(tickets.body.items).toHaveLength(1);
      expect(tickets.body.items[0]?.occurrences).toBe(1);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('a console session made on one instance works on the other; signing out there ends it on both', async () => {
    const { a, b } = await twoInstances('sessions');
    try {
      const made = await postJson<{ password: string }>(`${a.apiUrl}/api/v1/users`, {
        username: 'lea',
        role: 'dispatcher',
      });
      const signIn = await fetch(`${a.apiUrl}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'lea', password: made.body.password }),
      });
      const cookie = (signIn.headers.getSetCookie()[0] as string).split(';')[0] as string;
      const { csrfToken } = (await signIn.json()) as { csrfToken: string };
      // The other instance (another process behind the same load balancer) knows the session and its token.
      const onB = await fetch(`${b.apiUrl}/api/v1/session`, { headers: { cookie } });
      expect(((await onB.json()) as { user: { username: string } }).user.username).toBe('lea');
      const change = await fetch(`${b.apiUrl}/api/v1/silences`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ devices: ['press-1'], duration: '1h', reason: 'from the other instance' }),
      });
      expect(change.status).toBe(201);
      expect(
        (await fetch(`${b.apiUrl}/api/v1/session`, { method: 'DELETE', headers: { cookie } })).status,
      ).toBe(204);
      expect((await fetch(`${a.apiUrl}/api/v1/tickets`, { headers: { cookie } })).status).toBe(401);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('NUL characters (which PostgreSQL text cannot hold) in bodies and queries: a 400, the gateway goes on', async () => {
    const gw = await start(url);
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${gw.apiUrl}/api/v1${path}`, {
          method: 'POST',
          headers: { ...auth(), 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const filed = await post('/tickets', {
        title: 'pump\u0000leak',
        priority: 'general',
        source: 'phone',
        reporter: { name: 'Ada' },
        faultType: 'mechanical',
      });
      expect(filed.status).toBe(400);
      expect(((await filed.json()) as { code: string }).code).toBe('FL_ERR_API_VALIDATION');
      const listed = await getJson<{ code: string }>(`${gw.apiUrl}/api/v1/tickets?q=a%00b`);
      expect(listed.status).toBe(400);
      expect(listed.body.code).toBe('FL_ERR_API_VALIDATION');
      const good = await post('/tickets', {
        title: 'pump leak',
        priority: 'general',
        source: 'phone',
        reporter: { name: 'Ada' },
        faultType: 'mechanical',
      });
      expect(good.status).toBe(201);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('a database that does not answer stops the start with FL_ERR_DB_UNAVAILABLE, password not shown', async () => {
    const wrong = `postgres://faultline:s3cret@127.0.0.1:${server.port}/no_such_database`;
    const err = await start(wrong).then(
      (gw) => gw.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FaultlineError);
    expect((err as FaultlineError).code).toBe('FL_ERR_DB_UNAVAILABLE');
    expect((err as Error).message).toContain('no_such_database');
    expect((err as Error).message).not.toContain('s3cret');
  }, 30_000);
});
