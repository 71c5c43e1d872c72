import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import type { TicketView } from '../tickets/service.js';
import { getJson, postJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';

const HOUR = 3_600_000;

const CONFIG = `
sites:
  - { id: north, area: local, customer: Nordwerk }
  - { id: south, area: remote }
devices:
  - { id: cnc-1, name: Mill 1, model: cnc-5x, site: north }
  - { id: cnc-9, name: Mill 9, model: cnc-5x, site: south }
rules:
  files: [rules.yaml]
sla:
  emergency: { response: 1h, onsite: { local: 4h, remote: 24h } }
  general: { response: 4h, remoteFix: 8h, onsite: 48h }
`;

const RULES = `
rules:
  - id: overheat
    description: Spindle too hot
    match: { metric: temperature, model: "cnc-*" }
    threshold: { above: 90, clear: 85 }
    ticket:
      priority: emergency
      faultType: mechanical
      title: "{{device.name}}: spindle at {{value}} °C"
  - id: slow-overheat
    match: { metric: oilTemp }
    threshold: { above: 70, for: 300ms }
    ticket: { priority: general, faultType: hydraulic }
  - id: drive-fault
    errorCode: [E-1042]
    ticket: { priority: general, faultType: electrical }
  - id: device-offline
    match: { metric: online, devices: [cnc-*] }
    threshold: { below: 1 }
    ticket: { priority: general, faultType: communication, title: "{{device.name}} is offline" }
`;

type List<T> = { items: T[]; nextCursor: string | null };

describe('equipment to ticket, end to end', () => {
  const tmp = tempDir();
  const configFile = join(tmp.dir, 'faultline.yaml');
  const dataDir = join(tmp.dir, 'data');
  let gw: RunningGateway;
  let client: MqttClient;

  const api = (path: string) => `${gw.apiUrl}/api/v1${path}`;
  const publish = (device: string, body: unknown) =>
    client.publishAsync(
      `devices/${device}/telemetry`,
      typeof body === 'string' ? body : JSON.stringify(body),
      { qos: 1 },
    );
  const tickets = async (query = '') => (await getJson<List<TicketView>>(api(`/tickets${query}`))).body.items;
  const ticketsFor = (ruleId: string, deviceId: string) =>
    tickets(`?ruleId=${ruleId}&deviceId=${deviceId}&sort=-createdAt`);

  beforeAll(async () => {
    writeFiles(tmp.dir, { 'faultline.yaml': CONFIG, 'rules.yaml': RULES });
    gw = await startFromFile(configFile, dataDir);
    client = await mqtt.connectAsync(gw.mqttUrl as string, { clientId: 'e2e-device', reconnectPeriod: 0 });
  });

  afterAll(async () => {
    await client?.endAsync();
    await gw?.stop();
    tmp.cleanup();
  });

  it('logs a listening line and serves /health', async () => {
    const h = await getJson<{ status: string }>(`${gw.apiUrl}/health`);
    expect(h.status).toBe(200);
    expect(h.body.status).toBe('ok');
    expect(gw.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
  });

  it('opens one emergency ticket with SLA deadlines from the reading time', async () => {
    const ts = Date.now() - 5_000;
    await publish('cnc-1', { ts, temperature: 96.5, rpm: 1500 });
    const [t] = await waitFor(
      async () => {
        const list = await ticketsFor('overheat', 'cnc-1');
        return list.length ? list : undefined;
      },
      10_000,
      'the overheat ticket',
    );
    expect(t).toBeDefined();
    const ticket = t as TicketView;
    expect(ticket).toMatchObject({
      title: 'Mill 1: spindle at 96.5 °C',
      priority: 'emergency',
      status: 'open',
      source: 'monitoring',
      deviceId: 'cnc-1',
      site: 'north',
      customer: 'Nordwerk',
      equipmentModel: 'cnc-5x',
      faultType: 'mechanical',
      ruleId: 'overheat',
      alertId: 'overheat@cnc-1',
      occurrences: 0,
      reportedAt: new Date(ts).toISOString(),
    });
    expect(ticket.sla.response).toEqual({
      dueAt: new Date(ts + HOUR).toISOString(),
      state: 'running',
      metAt: null,
      pausedAt: null,
      targetMs: HOUR,
      // Working time used since the reading (the clock runs from the reading's time).
      elapsedMs: expect.any(Number),
    });
    expect(ticket.sla.response?.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(ticket.sla.response?.elapsedMs).toBeLessThan(60_000);
    expect(ticket.sla.onsite?.dueAt).toBe(new Date(ts + 4 * HOUR).toISOString());
    expect(ticket.sla.remoteFix).toBeUndefined();
  });

  it('counts a re-firing as an occurrence on the open ticket instead of a second ticket', async () => {
    const t0 = Date.now();
    await publish('cnc-1', { ts: t0, temperature: 80 }); // clears (below 85)
    await publish('cnc-1', { ts: t0 + 1, temperature: 97 }); // fires again
    const list = await waitFor(
      async () => {
        const l = await ticketsFor('overheat', 'cnc-1');
        return l[0]?.occurrences === 1 ? l : undefined;
      },
      10_000,
      'occurrence 1',
    );
    expect(list).toHaveLength(1);
    const alert = await getJson<{
      state: string;
      fireCount: number;
      history: { event: string; value: number }[];
    }>(api('/alerts/overheat@cnc-1'));
    // The alert names its ticket (issue 18), in the list too.
    expect(alert.body).toMatchObject({ state: 'firing', fireCount: 2, ticketId: list[0]?.id });
    const firing = await getJson<{ items: { id: string; ticketId: string | null }[] }>(
      api('/alerts?state=firing'),
    );
    expect(firing.body.items.find((a) => a.id === 'overheat@cnc-1')?.ticketId).toBe(list[0]?.id);
    // Its history, newest first: fired at 97, cleared at 80, fired before that.
    expect(alert.body.history.slice(0, 3).map((h) => `${h.event}@${h.value}`)).toEqual([
      'firing@97',
      'resolved@80',
      expect.stringMatching(/^firing@/),
    ]);
  });

  it('uses the partner-team on-site target for a remote site', async () => {
    const ts = Date.now();
    await publish('cnc-9', { ts, temperature: 99 });
    const [t] = await waitFor(
      async () => {
        const l = await ticketsFor('overheat', 'cnc-9');
        return l.length ? l : undefined;
      },
      10_000,
      'remote ticket',
    );
    expect(t?.area).toBe('remote');
    expect(t?.sla.onsite?.dueAt).toBe(new Date(ts + 24 * HOUR).toISOString());
  });

  it('fires a `for` rule on its timer and an errorCode rule at once (general: remote fix clock)', async () => {
    const ts = Date.now();
    await publish('pump-7', { ts, oilTemp: 75, errorCode: 'E-1042' });
    const errorTicket = await waitFor(
      async () => (await ticketsFor('drive-fault', 'pump-7'))[0],
      10_000,
      'error-code ticket',
    );
    expect(errorTicket.priority).toBe('general');
    expect(errorTicket.sla.remoteFix?.dueAt).toBe(new Date(ts + 8 * HOUR).toISOString());
    expect(errorTicket.sla.onsite?.dueAt).toBe(new Date(ts + 48 * HOUR).toISOString());
    // No further reading arrives: the pending alert must fire from its own timer after 300 ms.
    const forTicket = await waitFor(
      async () => (await ticketsFor('slow-overheat', 'pump-7'))[0],
      10_000,
      'timer ticket',
    );
    expect(forTicket.reportedAt).toBe(new Date(ts + 300).toISOString());
    // An unknown device is registered on first sight with the default site.
    const dev = await getJson<{
      site: string;
      configured: boolean;
      lastValues: Record<string, { value: unknown }>;
    }>(api('/devices/pump-7'));
    expect(dev.body).toMatchObject({
      site: 'default',
      configured: false,
      lastValues: { oilTemp: { value: 75 } },
    });
  });

  it('acknowledges and dead-letters a malformed payload without stopping the device', async () => {
    const rejectedBefore = gw.ingest.counters.rejected;
    await publish('cnc-1', 'this is not json');
    await publish('cnc-1', { temperature: { nested: true } });
    await publish('cnc-1', { ts: Date.now(), rpm: 1234, bad: [1, 2] });
    expect(gw.ingest.counters.rejected).toBe(rejectedBefore + 2);
    const dev = await waitFor(
      async () => {
        const d = await getJson<{ lastValues: Record<string, { value: unknown }> }>(api('/devices/cnc-1'));
        return d.body.lastValues.rpm?.value === 1234 ? d.body : undefined;
      },
      5_000,
      'last value',
    );
    expect(dev.lastValues.bad).toBeUndefined();
    // The rejects (and the dropped field) are in the dead letters, newest first, with the reason
    // and the payload as sent.
    const dl = await getJson<{
      items: { deviceId: string; reason: string; payload: string; origin: string }[];
    }>(api('/ingest/dead-letters?limit=3'));
    expect(dl.body.items.map((d) => d.payload)).toEqual([
      expect.stringContaining('"bad":[1,2]'),
      '{"temperature":{"nested":true}}',
      'this is not json',
    ]);
    expect(dl.body.items[2]).toMatchObject({ deviceId: 'cnc-1', origin: 'devices/cnc-1/telemetry' });
    expect(dl.body.items[2]?.reason).toMatch(/JSON/i);
  });

  it('serves telemetry history from the per-minute rollups (no InfluxDB configured)', async () => {
    // Buckets align to the epoch (like InfluxDB GROUP BY time): start on an even minute.
    const t0 = Math.floor(Date.now() / 120_000) * 120_000 - 240_000;
    for (const [dt, v] of [
      [0, 10],
      [20_000, 30],
      [60_000, 50],
    ] as const) {
      await publish('hist-1', { ts: t0 + dt, level: v });
    }
    type History = {
      metric: string;
      stepMs: number;
      source: string;
      points: { t: string; min: number; max: number; mean: number; last: number; count: number }[];
    };
    const from = new Date(t0).toISOString();
    const to = new Date(t0 + 120_000).toISOString();
    const h = await waitFor(
      async () => {
        const r = await getJson<History>(api(`/devices/hist-1/telemetry?metric=level&from=${from}&to=${to}`));
        return r.body.points?.length === 2 ? r.body : undefined;
      },
      5_000,
      'history',
    );
    expect(h).toMatchObject({ metric: 'level', stepMs: 60_000, source: 'rollups' });
    expect(h.points).toEqual([
      { t: from, min: 10, max: 30, mean: 20, last: 30, count: 2 },
      { t: new Date(t0 + 60_000).toISOString(), min: 50, max: 50, mean: 50, last: 50, count: 1 },
    ]);
    const wide = await getJson<History>(
      api(`/devices/hist-1/telemetry?metric=level&from=${from}&to=${to}&step=2m`),
    );
    expect(wide.body.points).toEqual([{ t: from, min: 10, max: 50, mean: 30, last: 50, count: 3 }]);
    const badStep = await getJson<{ detail: string }>(api('/devices/hist-1/telemetry?metric=level&step=30s'));
    expect(badStep.status).toBe(400);
    const unknown = await getJson<{ detail: string }>(api('/devices/hist-1/telemetry?metric=nope'));
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toContain('(it has: level, online)');
    const status = await getJson<{ influx: unknown; spool: { points: number } }>(api('/ingest'));
    expect(status.body.influx).toBeNull();
    expect(status.body.spool.points).toBeGreaterThan(0); // kept locally, shipped if InfluxDB is added later
  });

  it("a device's last will takes it offline, and a rule on `online` opens a ticket", async () => {
    const dev = await mqtt.connectAsync(gw.mqttUrl as string, {
      clientId: 'cnc-1-itself',
      reconnectPeriod: 0,
      will: { topic: 'devices/cnc-1/status', payload: Buffer.from('offline'), qos: 1, retain: false },
    });
    await dev.publishAsync('devices/cnc-1/status', 'online', { qos: 1 });
    // The connection dies without a DISCONNECT: the broker publishes the will.
    (dev as unknown as { stream: { destroy(): void } }).stream.destroy();
    const t = await waitFor(
      async () => (await ticketsFor('device-offline', 'cnc-1'))[0],
      10_000,
      'offline ticket',
    );
    expect(t).toMatchObject({ title: 'Mill 1 is offline', priority: 'general', faultType: 'communication' });
    const d = await getJson<{ connectivity: { state: string; reason: string } }>(api('/devices/cnc-1'));
    expect(d.body.connectivity).toMatchObject({ state: 'offline', reason: 'status message "offline"' });
    dev.end(true);
  });

  it('lists tickets by urgency with filters and cursor pagination', async () => {
    const all = await tickets();
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all[0]?.priority).toBe('emergency');
    const ranks = all.map((t) => (t.priority === 'emergency' ? 0 : 1));
    expect([...ranks].sort()).toEqual(ranks);
    const page1 = await getJson<List<TicketView>>(api('/tickets?limit=2'));
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.nextCursor).toBeTypeOf('string');
    const page2 = await getJson<List<TicketView>>(api(`/tickets?limit=2&cursor=${page1.body.nextCursor}`));
    const ids = [...page1.body.items, ...page2.body.items].map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(all.slice(0, ids.length).map((t) => t.id));
    const general = await tickets('?priority=general');
    expect(general.every((t) => t.priority === 'general')).toBe(true);
  });

  it('answers bad requests and unknown ids with problem+json', async () => {
    const bad = await getJson<{ status: number; code: string; detail: string }>(
      api('/tickets?priority=urgent'),
    );
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');
    expect(bad.body.detail).toContain('"urgent"');
    const missing = await getJson<{ code: string }>(api('/tickets/T-999999'));
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('FL_ERR_TICKET_NOT_FOUND');
    const noRoute = await getJson<{ status: number }>(`${gw.apiUrl}/nope`);
    expect(noRoute.status).toBe(404);
    const badCursor = await getJson(api('/tickets?cursor=xyz'));
    expect(badCursor.status).toBe(400);
  });

  it('opens a new ticket for the pair once the previous one is resolved', async () => {
    const [open] = await ticketsFor('overheat', 'cnc-1');
    const ack = await postJson<TicketView>(api(`/tickets/${open?.id}/transitions`), {
      to: 'acknowledged',
      note: 'called back',
    });
    expect(ack.status).toBe(200);
    expect(ack.body.sla.response?.state).toBe('met');
    const refused = await postJson<{ code: string }>(api(`/tickets/${open?.id}/transitions`), {
      to: 'closed',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('FL_ERR_TICKET_TRANSITION');
    const noReport = await postJson<{ code: string; detail: string }>(
      api(`/tickets/${open?.id}/transitions`),
      {
        to: 'resolved',
      },
    );
    expect(noReport.status).toBe(409);
    expect(noReport.body.detail).toContain('cannot be resolved without a repair report');
    const report = {
      cause: 'coolant filter clogged',
      actions: 'filter replaced',
      partsUsed: [{ part: 'filter F-22', quantity: 1 }],
    };
    expect((await postJson(api(`/tickets/${open?.id}/transitions`), { to: 'resolved', report })).status).toBe(
      200,
    );
    const t0 = Date.now();
    await publish('cnc-1', { ts: t0, temperature: 70 });
    await publish('cnc-1', { ts: t0 + 1, temperature: 95 });
    const list = await waitFor(
      async () => {
        const l = await ticketsFor('overheat', 'cnc-1');
        return l.length === 2 ? l : undefined;
      },
      10_000,
      'a second ticket',
    );
    expect(list.map((t) => t.status).sort()).toEqual(['open', 'resolved']);
    const detail = await getJson<{ timeline: { type: string; to: string | null }[] }>(
      api(`/tickets/${open?.id}`),
    );
    expect(detail.body.timeline.map((e) => e.type)).toEqual(
      expect.arrayContaining(['created', 'occurrence', 'alert_resolved', 'status']),
    );
  });

  it('keeps tickets, alerts and devices across a restart', async () => {
    const before = await tickets('?sort=-createdAt&limit=500');
    await client.endAsync();
    await gw.stop();
    gw = await startFromFile(configFile, dataDir);
    client = await mqtt.connectAsync(gw.mqttUrl as string, { clientId: 'e2e-device', reconnectPeriod: 0 });
    const after = await tickets('?sort=-createdAt&limit=500');
    // Running clocks used more working time meanwhile; everything else is as it was.
    const stored = (list: TicketView[]) =>
      list.map((t) => ({
        ...t,
        sla: Object.fromEntries(Object.entries(t.sla).map(([k, c]) => [k, { ...c, elapsedMs: 0 }])),
      }));
    expect(stored(after)).toEqual(stored(before));
    for (const [i, t] of after.entries())
      for (const [k, c] of Object.entries(t.sla))
        expect(c.elapsedMs).toBeGreaterThanOrEqual(
          (before[i]?.sla as Record<string, { elapsedMs: number }> | undefined)?.[k]?.elapsedMs ?? 0,
        );
    const dev = await getJson<{ lastValues: Record<string, unknown> }>(api('/devices/cnc-1'));
    expect(dev.status).toBe(200);
    expect(dev.body.lastValues.temperature).toBeDefined();
    const alerts = await getJson<List<{ id: string }>>(api('/alerts?state=firing'));
    expect(alerts.body.items.map((a) => a.id)).toContain('overheat@cnc-9');
    expect((await getJson(`${gw.apiUrl}/ready`)).status).toBe(200);
  });

  it('continues a firing alert after a restart instead of firing it again', async () => {
    const [before] = await ticketsFor('overheat', 'cnc-9');
    await publish('cnc-9', { ts: Date.now(), temperature: 99.5 });
    await publish('cnc-9', { ts: Date.now() + 1, rpm: 1 }); // a later reading, processed after the first
    await waitFor(
      async () => {
        const d = await getJson<{ lastValues: Record<string, { value: unknown }> }>(api('/devices/cnc-9'));
        return d.body.lastValues.rpm ? true : undefined;
      },
      5_000,
      'readings processed',
    );
    await gw.alerts.idle();
    const [after] = await ticketsFor('overheat', 'cnc-9');
    expect(after?.occurrences).toBe(before?.occurrences);
    const alert = await getJson<{ fireCount: number; state: string }>(api('/alerts/overheat@cnc-9'));
    expect(alert.body).toMatchObject({ state: 'firing', fireCount: 1 });
  });
});
