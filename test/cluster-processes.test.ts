import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TicketView } from '../tickets/service.js';
import {
  auth,
  type CliGateway,
  getJson,
  postJson,
  startCli,
  stream,
  tempDir,
  waitFor,
  writeFiles,
} from './helpers.js';
import { describeIf, findBinary } from './servers/common.js';
import { type MosquittoServer, startMosquitto } from './servers/mosquitto.js';
import { type PostgresServer, postgresBin, startPostgres } from './servers/postgres.js';

const { describe, label } = describeIf(
  postgresBin() !== undefined && findBinary('mosquitto') !== undefined,
  'PostgreSQL and Mosquitto',
  'apt-get install postgresql mosquitto',
);

/** The response clock of an emergency: warned at half of it, breached at its end. */
const RESPONSE_S = 36;

const RULES = `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90 }
    ticket: { priority: emergency, faultType: thermal }
`;

// No clientId: each instance's default includes its id (two alike would take each other's session).
const config = (broker: string) => `
sites: [{ id: north }]
mqtt: { embedded: { enabled: false } }
adapters:
  - protocol: mqtt
    id: plant
    url: ${broker}
    reconnect: { min: 100ms, max: 500ms }
    subscriptions:
      - topic: plant/{site}/{device}/telemetry
rules: { files: [rules.yaml] }
sla:
  warnAt: [50]
  emergency: { response: ${RESPONSE_S}s }
`;

type Health = { instance: { id: string; role: string; devices?: number } };

/**
 * Three gateway processes on one PostgreSQL and one Mosquitto, each subscribed to every device
 * (issue 20): a fault seen by all three opens one ticket; the leader — also the owner of a device
 * with a firing alert — is SIGKILLed: another instance takes the lead (the time is printed) and
 * announces the ticket's SLA warning and breach once each, on time; the device is taken over with
 * its state, so a reading sent while nobody evaluated it clears the alert, and the next fault fires
 * it again on the same ticket; the stream of a standby sees all of it.
 */
describe(`several gateway processes on one PostgreSQL${label}`, () => {
  let pg: PostgresServer;
  let broker: MosquittoServer;
  let dbUrl: string;
  const tmp = tempDir();
  const gateways: CliGateway[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
    broker = await startMosquitto();
    dbUrl = await pg.createDatabase('cluster');
    writeFiles(tmp.dir, { 'rules.yaml': RULES });
  }, 60_000);
  afterAll(async () => {
    for (const g of gateways) if (g.child.exitCode === null) g.child.kill('SIGKILL');
    await broker?.cleanup();
    await pg?.cleanup();
    tmp.cleanup();
  });

  async function start(id: string): Promise<CliGateway> {
    writeFiles(tmp.dir, { [`${id}.yaml`]: config(broker.url) });
    const gw = await startCli(
      ['--config', join(tmp.dir, `${id}.yaml`), '--data-dir', join(tmp.dir, id), '--log-level', 'info'],
      { FAULTLINE_DATABASE_URL: dbUrl, FAULTLINE_INSTANCE_ID: id },
    );
    gateways.push(gw);
    return gw;
  }
  const health = async (gw: CliGateway) => (await getJson<Health>(`${gw.apiUrl}/health`, null)).body.instance;
  async function publish(device: string, temperature: number): Promise<void> {
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await client.publishAsync(`plant/north/${device}/telemetry`, JSON.stringify({ temperature }), { qos: 1 });
    await client.endAsync();
  }
  const alert = (gw: CliGateway, id: string, state: string) =>
    waitFor(
      async () => {
        const r = await getJson<{ state: string; fireCount: number }>(gw.api(`/alerts/${id}`));
        return r.status === 200 && r.body.state === state ? r.body : undefined;
      },
      30_000,
      `${id} ${state}`,
    );
  const ticketsOf = async (gw: CliGateway, device: string) =>
    (await getJson<{ items: TicketView[] }>(gw.api(`/tickets?deviceId=${device}`))).body.items;

  it('one ticket per fault; the leader and owner killed: clocks, the device and the streams go on elsewhere', async () => {
    // gw-1 first: it leads, and owns kiln-1, whose alert fires.
    const gw1 = await start('gw-1');
    await waitFor(
      async () => ((await health(gw1)).role === 'leader' ? true : undefined),
      10_000,
      'gw-1 leads',
    );
    await publish('kiln-1', 96);
    await alert(gw1, 'hot@kiln-1', 'firing');
    const [ticket] = await waitFor(async () => {
      const t = await ticketsOf(gw1, 'kiln-1');
      return t.length ? t : undefined;
    }, 10_000);
    const created = Date.parse((ticket as TicketView).createdAt as unknown as string);
    const [gw2, gw3] = await Promise.all([start('gw-2'), start('gw-3')]);
    const standby = gw2 as CliGateway;
    const events = await stream(standby.api('/events'), auth());
    expect(events.status).toBe(200);
    // A fault all three receive: one ticket, evaluated by one owner.
    await publish('kiln-2', 95);
    await alert(gw1, 'hot@kiln-2', 'firing');
    await new Promise((r) => setTimeout(r, 1_000));
    for (const gw of [gw1, standby, gw3 as CliGateway]) expect(await ticketsOf(gw, 'kiln-2')).toHaveLength(1);
    const owned = await Promise.all(
      [gw1, standby, gw3 as CliGateway].map(async (g) => (await health(g)).devices),
    );
    expect(owned.reduce((s: number, n) => s + (n ?? 0), 0)).toBe(2);
    expect((await health(gw1)).devices).toBeGreaterThanOrEqual(1); // kiln-1 at least

    // The leader and owner of kiln-1 dies; kiln-1 cools down while nobody evaluates it.
    const killedAt = Date.now();
    gw1.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000));
    await publish('kiln-1', 60);
    const leader = await waitFor(
      async () => {
        for (const g of [standby, gw3 as CliGateway]) if ((await health(g)).role === 'leader') return g;
        return undefined;
      },
      20_000,
      'a new leader',
    );
    console.log(`leader SIGKILLed: ${(await health(leader)).id} took over after ${Date.now() - killedAt} ms`);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    expect(await alert(standby, 'hot@kiln-1', 'resolved')).toMatchObject({ fireCount: 1 });
    console.log(
      `kiln-1 evaluated again after ${Date.now() - killedAt} ms; the reading sent meanwhile cleared it`,
    );

    // The response clock: warned at half, breached at the end, once each, from the new leader.
    const sla = (type: string) =>
      events.events.filter((e) => e.event === type && e.data.subject === (ticket as TicketView).id);
    await waitFor(
      async () => (sla('sla.breach').length ? true : undefined),
      (RESPONSE_S + 10) * 1000 - (Date.now() - created),
      'the breach',
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sla('sla.warning')).toHaveLength(1);
    expect(sla('sla.breach')).toHaveLength(1);
    const at = (type: string) =>
      ((sla(type)[0]?.data.data ?? { at: Number.NaN }) as { at: number }).at - created;
    console.log(
      `warning ${at('sla.warning')} ms and breach ${at('sla.breach')} ms after the ticket was made`,
    );
    expect(Math.abs(at('sla.warning') - (RESPONSE_S * 1000) / 2)).toBeLessThan(2_000);
    expect(Math.abs(at('sla.breach') - RESPONSE_S * 1000)).toBeLessThan(2_000);

    // Acknowledged through gw-3's API: the standby's stream hears of it.
    const id = (ticket as TicketView).id;
    const ack = await postJson((gw3 as CliGateway).api(`/tickets/${id}/transitions`), { to: 'acknowledged' });
    expect(ack.status).toBe(200);
    await waitFor(
      async () =>
        events.events.some(
          (e) =>
            e.event === 'ticket.updated' &&
            e.data.subject === id &&
            (e.data.data as TicketView).status === 'acknowledged',
        )
          ? true
          : undefined,
      10_000,
      'the acknowledgement on the standby stream',
    );

    // kiln-1 overheats again: the same ticket, another occurrence.
    await publish('kiln-1', 97);
    expect(await alert(gw3 as CliGateway, 'hot@kiln-1', 'firing')).toMatchObject({ fireCount: 2 });
    await waitFor(
      async () => ((await ticketsOf(standby, 'kiln-1'))[0]?.occurrences === 1 ? true : undefined),
      10_000,
    );
    expect(await ticketsOf(standby, 'kiln-1')).toHaveLength(1);
    events.close();
    for (const g of [standby, gw3 as CliGateway]) expect(await g.stop()).toBe(0);
  }, 120_000);
});
