import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config/load.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import {
  auth,
  getJson,
  postJson,
  stream,
  TEST_API_KEY,
  TWO_TEAMS,
  tempDir,
  waitFor,
  writeFiles,
} from './helpers.js';

/**
 * Issue 18, findings 3–6 through the API of a running gateway: keys cannot widen their own scope, a
 * customer files only for itself, site-limited keys see only their sites in every list and count,
 * credentials in URLs never leave the gateway, failed authentication is throttled per address,
 * webhooks cannot reach internal addresses, and a posted rule file is bounded.
 */
const CONFIG = `
customers:
  - { id: acme, name: ACME }
  - { id: globex, name: Globex }
sites:
  - { id: north, customer: acme, area: local }
  - { id: south, customer: globex, area: local }
devices:
  - { id: press-1, site: north, model: press-x }
  - { id: press-9, site: south, model: press-x }
${TWO_TEAMS}
parts:
  locations:
    - { id: central, kind: store }
    - { id: south-store, kind: store, sites: [south] }
  catalogue: [{ number: S-7, name: Interlock switch, category: electrical }]
  stock:
    - { part: S-7, location: central, quantity: 10 }
    - { part: S-7, location: south-store, quantity: 3 }
influx:
  api: v1
  url: http://telegraf:s3cr3t-influx@127.0.0.1:9
  database: plant
api:
  authFailures: { maxFailures: 5, window: 1m, block: 1m }
  streams: { perKey: 2, total: 3 }
`;

type Problem = { status: number; code: string; detail: string };

describe('API scope, secrets and throttling (issue 18)', () => {
  const tmp = tempDir();
  let gw: RunningGateway;
  const logged: string[] = [];
  const api = (p: string) => `${gw.apiUrl}/api/v1${p}`;
  const key = async (body: object, by = TEST_API_KEY) =>
    postJson<{ key: string; id: string } & Problem>(api('/keys'), body, by);
  const file = (body: object, by?: string) =>
    postJson<{ id: string; customer: string } & Problem>(
      api('/tickets'),
      {
        title: 'Leak',
        priority: 'general',
        source: 'portal',
        reporter: { name: 'Op' },
        faultType: 'mechanical',
        ...body,
      },
      by,
    );

  beforeAll(async () => {
    writeFiles(tmp.dir, { 'faultline.yaml': CONFIG });
    const loaded = await loadConfig(join(tmp.dir, 'faultline.yaml'), {
      apiPort: 0,
      mqttPort: 0,
      mqttHost: '127.0.0.1',
      dataDir: join(tmp.dir, 'data'),
    });
    loaded.config.api.adminKey = TEST_API_KEY;
    // Every log line the gateway writes, to look for secrets in.
    const logger = pino({ level: 'debug' }, { write: (line: string) => logged.push(line) });
    gw = await startGateway(loaded.config, logger);
  });
  afterAll(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('a key cannot make, list or revoke a key with more rights or wider sites than its own', async () => {
    const northAdmin = (await key({ name: 'north admin', role: 'admin', sites: ['north'] })).body.key;
    const wide = await key({ name: 'everywhere', role: 'admin' }, northAdmin);
    expect(wide.status).toBe(403);
    expect(wide.body.detail).toMatch(/only make keys with its own rights or fewer, at its own sites/);
    expect((await key({ name: 'south', role: 'viewer', sites: ['south'] }, northAdmin)).status).toBe(403);
    expect((await key({ name: 'both', role: 'viewer', sites: ['north', 'south'] }, northAdmin)).status).toBe(
      403,
    );
    const own = await key({ name: 'north viewer', role: 'viewer', sites: ['north'] }, northAdmin);
    expect(own.status).toBe(201);
    // A dispatcher has no keys:admin at all; a viewer made by the north admin cannot make keys.
    const listed = await getJson<{ items: { id: string; sites: string[] | null }[] }>(
      api('/keys'),
      northAdmin,
    );
    expect(listed.body.items.every((k) => (k.sites ?? ['*']).every((s) => s === 'north'))).toBe(true);
    const envKey = 'K-env';
    const revoke = await fetch(api(`/keys/${envKey}`), { method: 'DELETE', headers: auth(northAdmin) });
    expect(revoke.status).toBe(404);
    expect((await getJson(api('/tickets'))).status).toBe(200); // the unrestricted key still works
  });

  it("a customer files only for its own devices and sites; another's device answers as an unknown one", async () => {
    const acme = (await key({ name: 'acme portal', role: 'customer', customer: 'acme' })).body.key;
    const own = await file({ deviceId: 'press-1' }, acme);
    expect(own.status).toBe(201);
    expect(own.body.customer).toBe('acme');
    const foreign = await file({ deviceId: 'press-9' }, acme);
    const unknown = await file({ deviceId: 'press-404' }, acme);
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(foreign.body.detail.replace('press-9', 'X')).toBe(unknown.body.detail.replace('press-404', 'X'));
    const foreignSite = await file({ site: 'south' }, acme);
    const unknownSite = await file({ site: 'mars' }, acme);
    expect(foreignSite.status).toBe(403);
    expect(unknownSite.status).toBe(403);
    expect((await file({ site: 'north' }, acme)).status).toBe(201);
    expect((await file({}, acme)).status).toBe(201); // its own request, no place named
  });

  it('site-limited keys see only their sites in reservations, movements, technician loads and dead letters', async () => {
    // A ticket at each site, each dispatched with a part reserved.
    const appointmentAt = new Date(Date.now() + 3_600_000).toISOString();
    // Parts are taken near the ticket: the south store serves the south site.
    for (const deviceId of ['press-1', 'press-9']) {
      const t = await file({ deviceId });
      await postJson(
        api(`/tickets/${t.body.id}/assignees`),
        { add: [deviceId === 'press-1' ? 'ana' : 'ben'] },
        TEST_API_KEY,
        'PUT',
      );
      const d = await postJson(api(`/tickets/${t.body.id}/transitions`), {
        to: 'dispatched',
        dispatch: { appointmentAt, technicians: ['ana'], parts: [{ part: 'S-7', quantity: 1 }] },
      });
      expect(d.status).toBe(200);
    }
    const north = (await key({ name: 'north supervisor', role: 'supervisor', sites: ['north'] })).body.key;
    const all = await getJson<{ items: { ticketId: string }[] }>(api('/reservations'));
    const mine = await getJson<{ items: { ticketId: string; location: string }[] }>(
      api('/reservations'),
      north,
    );
    expect(all.body.items).toHaveLength(2);
    expect(mine.body.items.map((r) => r.location)).toEqual(['central']);
    const moves = await getJson<{ items: { location: string }[] }>(api('/stock/movements'), north);
    expect(moves.body.items.length).toBeGreaterThan(0);
    expect(moves.body.items.every((m) => m.location === 'central')).toBe(true);
    const techs = await getJson<{ items: { id: string; openTickets: number }[] }>(api('/technicians'), north);
    const open = 'status=open,acknowledged,diagnosing,dispatched,on_site,waiting&limit=500';
    const atNorth = await getJson<{ items: { assignees: string[] }[] }>(api(`/tickets?site=north&${open}`));
    for (const t of techs.body.items)
      expect(t.openTickets, t.id).toBe(atNorth.body.items.filter((x) => x.assignees.includes(t.id)).length);
    const everyone = await getJson<{ items: { id: string; openTickets: number }[] }>(api('/technicians'));
    const sum = (r: typeof techs) => r.body.items.reduce((n, t) => n + t.openTickets, 0);
    expect(sum(everyone)).toBeGreaterThan(sum(techs)); // the south ticket's assignee counts there only
    // Dead letters: the south device's rejects are not counted for the north key.
    gw.ingest.reject({
      at: Date.now(),
      source: 'test',
      deviceId: 'press-9',
      origin: 'x',
      reason: 'bad',
      payload: Buffer.from('x'),
    });
    await new Promise((r) => setTimeout(r, 50));
    const dlAll = await getJson<{ total: number }>(api('/ingest/dead-letters'));
    const dlNorth = await getJson<{ total: number; items: unknown[] }>(api('/ingest/dead-letters'), north);
    expect(dlAll.body.total).toBeGreaterThan(0);
    expect(dlNorth.body).toMatchObject({ total: 0, items: [] });
    expect((await getJson<{ deadLetters: number }>(api('/ingest'), north)).body.deadLetters).toBe(0);
    // Webhooks carry every site's events: not for a key limited to sites.
    const northAdmin = (await key({ name: 'north admin 2', role: 'admin', sites: ['north'] })).body.key;
    expect((await getJson(api('/webhooks'), northAdmin)).status).toBe(403);
  });

  it('credentials inside URLs are redacted in answers and logs', async () => {
    const viewer = (await key({ name: 'viewer', role: 'viewer' })).body.key;
    const ingest = JSON.stringify((await getJson(api('/ingest'), viewer)).body);
    expect(ingest).toContain('http://telegraf:***@127.0.0.1:9');
    const hook = await postJson(api('/webhooks'), {
      url: 'https://svc:hook-pass@hooks.example.com/in?token=abc123&team=ops',
      types: ['ticket.*'],
    });
    expect(hook.status).toBe(201);
    const listed = JSON.stringify((await getJson(api('/webhooks'))).body);
    expect(listed).toContain('https://svc:***@hooks.example.com/in?token=***&team=ops');
    for (const secret of ['s3cr3t-influx', 'hook-pass', 'abc123', 'whsec_'.concat('x')]) {
      expect(ingest).not.toContain(secret);
      expect(listed).not.toContain(secret);
    }
    expect(logged.join('\n')).not.toContain('s3cr3t-influx');
    expect(logged.some((l) => l.includes('telegraf:***@'))).toBe(true);
  });

  it('webhooks to internal addresses are refused in every spelling', async () => {
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://localhost:8080/x',
      'http://[::1]/x',
      'http://0x7f000001/x',
      'http://2130706433/x',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      const r = await postJson<Problem>(api('/webhooks'), { url, types: ['ticket.*'] });
      expect(r.status, url).toBe(400);
      expect(r.body.detail, url).toMatch(/^body url: .*(internal address|this machine)/);
    }
  });

  it('failed authentication is throttled per address, whatever token is sent; valid keys still pass', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await fetch(api('/tickets'), { headers: auth(`flk_made-up-${i}-${Math.random()}`) });
      statuses.push(r.status);
      if (r.status === 429) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expect((await getJson(api('/tickets'))).status).toBe(200);
  });

  it('times and durations a view could not show again are refused, not stored', async () => {
    for (const body of [
      { devices: ['press-1'], to: '99999999999999999999', reason: 'x' },
      { devices: ['press-1'], duration: '1000000000000d', reason: 'x' },
      { devices: ['press-1'], from: '+275760-09-14T00:00:00Z', duration: '1h', reason: 'x' },
      { devices: ['press-1'], from: '+275760-09-13T00:00:00Z', duration: '1h', reason: 'x' },
    ]) {
      const r = await postJson<Problem>(api('/silences'), body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await getJson(api('/silences?all=true'))).status).toBe(200);
  });

  it('event streams are capped per key and in all; a closed one frees its place', async () => {
    const viewer = (await key({ name: 'stream viewer', role: 'viewer' })).body.key;
    const other = (await key({ name: 'stream viewer 2', role: 'viewer' })).body.key;
    const a1 = await stream(api('/events'), auth(viewer));
    const a2 = await stream(api('/events'), auth(viewer));
    const a3 = await stream(api('/events'), auth(viewer));
    expect([a1.status, a2.status, a3.status]).toEqual([200, 200, 429]);
    const b1 = await stream(api('/events'), auth(other));
    const c1 = await stream(api('/events'), auth());
    expect([b1.status, c1.status]).toEqual([200, 429]); // three open in all
    a1.close();
    await waitFor(async () => {
      const again = await stream(api('/events'), auth());
      again.close();
      return again.status === 200 ? true : undefined;
    });
    for (const s of [a2, a3, b1, c1]) s.close();
  });

  it('a posted rule file is bounded', async () => {
    const big = `rules:\n${'  # padding\n'.repeat(30_000)}`;
    const r = await postJson<Problem>(api('/rules/check'), { source: big });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/at most 256 KB/);
    const ok = await postJson<{ ok: boolean }>(api('/rules/check'), {
      source:
        'rules:\n  - id: hot\n    match: { metric: t }\n    threshold: { above: 1 }\n    ticket: { priority: general, faultType: mechanical }\n',
    });
    expect(ok.body.ok).toBe(true);
  });
});
