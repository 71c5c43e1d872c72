import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRANTS, type Permission, ROLES, type Role } from '../api/auth.js';
import type { RouteEntry } from '../api/guard.js';
import type { RunningGateway } from '../gateway/gateway.js';
import { auth, gatewayFixture, getJson, postJson, startFromFile, tempDir, writeFiles } from './helpers.js';

const CONFIG = `
customers:
  - { id: acme, name: ACME, contacts: [{ name: Jane, email: jane@acme.example }] }
  - { id: globex, name: Globex }
sites:
  - { id: north, customer: acme }
  - { id: south, customer: globex }
devices:
  - { id: press-1, site: north }
  - { id: press-9, site: south }
teams:
  - { id: mechanics, skills: [mechanical], technicians: [{ id: ana }, { id: ben }] }
parts:
  locations: [{ id: central }]
  catalogue: [{ number: S-7, name: Interlock switch, category: electrical }]
api:
  rateLimit: { max: 100000 }
  authFailures: { maxFailures: 100000 } # this test sends unknown keys to every route on purpose
`;

type Ticket = { id: string; site: string; customer: string | null; assignees: string[] };
type Problem = { status: number; code: string; detail: string };

describe('API access control (gateway)', () => {
  const tmp = tempDir();
  let gw: RunningGateway;
  const url = (path: string) => `${gw.apiUrl}${path}`;
  const api = (path: string) => url(`/api/v1${path}`);
  const keys = {} as Record<Role | 'north' | 'ben' | 'acme', string>;
  const tickets = {} as Record<'north' | 'south' | 'ana', Ticket>;

  const makeKey = async (body: object) => {
    const r = await postJson<{ key: string; id: string }>(api('/keys'), body);
    expect(r.status).toBe(201);
    return r.body;
  };
  const file = async (body: object, key?: string) =>
    postJson<Ticket & Problem>(
      api('/tickets'),
      {
        title: 'Hydraulic leak',
        priority: 'general',
        source: 'portal',
        reporter: { name: 'Operator' },
        faultType: 'mechanical',
        ...body,
      },
      key,
    );

  beforeAll(async () => {
    writeFiles(tmp.dir, { 'faultline.yaml': CONFIG });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
    for (const role of ROLES)
      keys[role] = (
        await makeKey({
          name: role,
          role,
          ...(role === 'technician' ? { technician: 'ben' } : {}),
          ...(role === 'customer' ? { customer: 'acme' } : {}),
        })
      ).key;
    keys.north = (await makeKey({ name: 'north lead', role: 'dispatcher', sites: ['north'] })).key;
    keys.ben = keys.technician;
    keys.acme = keys.customer;
    tickets.north = (await file({ deviceId: 'press-1' })).body;
    tickets.south = (await file({ deviceId: 'press-9' })).body;
    tickets.ana = (await file({ deviceId: 'press-1' })).body;
    await postJson(api(`/tickets/${tickets.north.id}/assignees`), { add: ['ben'] });
    await postJson(api(`/tickets/${tickets.ana.id}/assignees`), { add: ['ana'] });
  });
  afterAll(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('every registered route: no key → 401, a role without the permission → 403, a role with it passes', async () => {
    const routes: RouteEntry[] = gw.api.faultlineRoutes;
    expect(routes.length).toBeGreaterThan(25);
    const checked: string[] = [];
    for (const r of routes) {
      // The documentation page's assets and the console's bundles: public files.
      if (r.url.startsWith('/docs') || r.url.startsWith('/assets/')) continue;
      const path = r.url.replace(/:(\w+)/g, 'x-$1');
      const call = async (key: string | null) => {
        const res = await fetch(url(path), {
          method: r.method,
          headers: {
            ...(key ? auth(key) : {}),
            ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { 'content-type': 'application/json' }),
          },
          ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { body: '{}' }),
        });
        await res.body?.cancel(); // the event stream would stay open
        return res;
      };
      expect(r.access, `${r.method} ${r.url} declares its access`).not.toBeNull();
      if (r.access === 'public') {
        expect((await call(null)).status, `${r.method} ${r.url} is public`).not.toBe(401);
        continue;
      }
      if (r.access === 'session') {
        // The signed-in user's own account: a console session, never a key (console-sessions.test.ts).
        expect((await call(null)).status, `${r.method} ${r.url} without a session`).toBe(401);
        expect((await call(keys.admin)).status, `${r.method} ${r.url} with a key`).toBe(401);
        continue;
      }
      const access = r.access as Permission;
      expect((await call(null)).status, `${r.method} ${r.url} without a key`).toBe(401);
      expect((await call('flk_not-a-key')).status, `${r.method} ${r.url} with an unknown key`).toBe(401);
      const without = ROLES.find((role) => !GRANTS[role].has(access));
      if (without) expect((await call(keys[without])).status, `${r.method} ${r.url} as ${without}`).toBe(403);
      const withIt = ROLES.find((role) => GRANTS[role].has(access) && role !== 'admin') ?? 'admin';
      expect([401, 403], `${r.method} ${r.url} as ${withIt}`).not.toContain(
        (await call(keys[withIt])).status,
      );
      checked.push(`${r.method} ${r.url}`);
    }
    for (const must of [
      'GET /api/v1/tickets',
      'POST /api/v1/keys',
      'DELETE /api/v1/silences/:id',
      'GET /metrics',
      'POST /api/v1/stock/receipts',
    ])
      expect(checked).toContain(must);
    // Unknown routes under /api/v1 need a key as well: nothing to probe.
    expect((await fetch(api('/nothing-here'))).status).toBe(401);
    expect((await fetch(api('/nothing-here'), { headers: auth(keys.viewer) })).status).toBe(404);
  });

  it('a key limited to a site neither reads nor changes the tickets, devices and alerts of another', async () => {
    const k = keys.north;
    const list = await getJson<{ items: Ticket[] }>(api('/tickets'), k);
    expect(list.body.items.map((t) => t.site)).toEqual(['north', 'north']);
    expect((await getJson(api(`/tickets/${tickets.south.id}`), k)).status).toBe(404);
    expect((await getJson(api(`/tickets/${tickets.north.id}`), k)).status).toBe(200);
    const move = await postJson(api(`/tickets/${tickets.south.id}/transitions`), { to: 'acknowledged' }, k);
    expect(move.status).toBe(404);
    expect((await postJson(api(`/tickets/${tickets.south.id}/comments`), { note: 'x' }, k)).status).toBe(404);
    expect((await file({ deviceId: 'press-9' }, k)).status).toBe(404);
    expect((await file({ site: 'south' }, k)).status).toBe(403);
    expect((await file({ site: 'north' }, k)).status).toBe(201);
    const devices = await getJson<{ items: { id: string }[] }>(api('/devices'), k);
    expect(devices.body.items.map((d) => d.id)).toEqual(['press-1']);
    expect((await getJson(api('/devices/press-9'), k)).status).toBe(404);
    const customers = await getJson<{ items: { id: string }[] }>(api('/customers'), k);
    expect(customers.body.items.map((c) => c.id)).toEqual(['acme']);
    const silence = await postJson(api('/silences'), { sites: ['south'], duration: '1h', reason: 'x' }, k);
    expect(silence.status).toBe(403);
    // The south ticket is unchanged.
    expect((await getJson<{ status: string }>(api(`/tickets/${tickets.south.id}`))).body.status).toBe('open');
  });

  it('a technician works the tickets assigned to them only, as themselves', async () => {
    const k = keys.ben;
    const mine = await postJson<{ status: string }>(
      api(`/tickets/${tickets.north.id}/transitions`),
      { to: 'acknowledged', actor: 'somebody-else' },
      k,
    );
    expect(mine.status).toBe(200);
    const timeline = await getJson<{ timeline: { to: string | null; actor: string }[] }>(
      api(`/tickets/${tickets.north.id}`),
    );
    expect(timeline.body.timeline.find((e) => e.to === 'acknowledged')?.actor).toBe('ben');
    const theirs = await postJson<Problem>(
      api(`/tickets/${tickets.ana.id}/transitions`),
      { to: 'acknowledged' },
      k,
    );
    expect(theirs.status).toBe(403);
    expect(theirs.body.detail).toBe(`ticket ${tickets.ana.id} is not assigned to ben`);
    expect(
      (await postJson(api(`/tickets/${tickets.north.id}/transitions`), { to: 'cancelled' }, k)).status,
    ).toBe(403);
    expect((await postJson(api(`/tickets/${tickets.north.id}/assignees`), { add: ['ben'] }, k)).status).toBe(
      403,
    );
  });

  it('a customer key files and follows its own tickets only', async () => {
    const k = keys.acme;
    const own = await file({ site: 'north' }, k);
    expect(own.status).toBe(201);
    expect(own.body.customer).toBe('acme');
    expect((await file({ site: 'south', customer: 'globex' }, k)).status).toBe(400);
    const list = await getJson<{ items: Ticket[] }>(api('/tickets'), k);
    expect(new Set(list.body.items.map((t) => t.customer))).toEqual(new Set(['acme']));
    expect((await getJson(api(`/tickets/${tickets.south.id}`), k)).status).toBe(404);
    expect((await getJson(api('/alerts'), k)).status).toBe(403);
    expect(
      (await postJson(api(`/tickets/${own.body.id}/transitions`), { to: 'acknowledged' }, k)).status,
    ).toBe(403);
    // The team's internal notes (comments, routing, a status change's note) are not the customer's to read.
    expect(
      (await postJson(api(`/tickets/${own.body.id}/comments`), { note: 'customer is difficult' })).status,
    ).toBe(201);
    expect(
      (
        await postJson(api(`/tickets/${own.body.id}/transitions`), {
          to: 'acknowledged',
          note: 'internal: call later',
        })
      ).status,
    ).toBe(200);
    type Entry = { type: string; note: string | null; to: string | null };
    const seen = await getJson<{ timeline: Entry[] }>(api(`/tickets/${own.body.id}`), k);
    expect(seen.body.timeline.map((e) => e.type)).toEqual(['created', 'status']);
    expect(seen.body.timeline[1]).toMatchObject({ to: 'acknowledged', note: null });
    const team = await getJson<{ timeline: Entry[] }>(api(`/tickets/${own.body.id}`));
    expect(team.body.timeline.map((e) => e.type)).toEqual(
      expect.arrayContaining(['routed', 'comment', 'status']),
    );
  });

  it('revoked and expired keys are refused; the key list never shows a key', async () => {
    const made = await makeKey({ name: 'temp', role: 'viewer' });
    expect((await getJson(api('/tickets'), made.key)).status).toBe(200);
    const revoked = await fetch(api(`/keys/${made.id}`), { method: 'DELETE', headers: auth() });
    expect(revoked.status).toBe(200);
    expect((await getJson(api('/tickets'), made.key)).status).toBe(401);
    const expired = await makeKey({
      name: 'old',
      role: 'viewer',
      expiresAt: new Date(Date.now() + 300).toISOString(),
    });
    await new Promise((r) => setTimeout(r, 400));
    expect((await getJson<Problem>(api('/tickets'), expired.key)).body.detail).toBe(
      'unknown, revoked or expired API key',
    );
    const listed = JSON.stringify((await getJson(api('/keys'))).body);
    expect(listed).not.toContain('flk_');
    expect((await postJson(api('/keys'), { name: 'x', role: 'technician' })).status).toBe(400);
    const unknown = await postJson<Problem>(api('/keys'), {
      name: 'x',
      role: 'technician',
      technician: 'zed',
      sites: ['mars'],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toBe(
      'body technician: unknown technician "zed" (known: ana, ben); body site: unknown site "mars" (known: north, south, default)',
    );
  });

  it('unknown body properties and oversized pages are refused; security headers are set', async () => {
    const extra = await file({ site: 'north', isAdmin: true });
    expect(extra.status).toBe(400);
    expect(extra.body.detail).toBe('body: unknown body parameter(s): isAdmin');
    const big = await getJson<Problem>(api('/tickets?limit=100000'));
    expect(big.status).toBe(400);
    const res = await fetch(api('/tickets'), { headers: auth() });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toContain('max-age=');
    expect(res.headers.get('x-ratelimit-limit')).toBe('100000');
  });

  it('statistics in JSON and CSV, limited to the sites of the key', async () => {
    const all = await getJson<{ groups: { key: string; tickets: number }[]; overall: { tickets: number } }>(
      api('/stats/sla?groupBy=site'),
      keys.supervisor,
    );
    expect(all.status).toBe(200);
    const bySite = Object.fromEntries(all.body.groups.map((g) => [g.key, g.tickets]));
    expect(bySite.south).toBe(1);
    expect(bySite.north).toBeGreaterThanOrEqual(2);
    const north = await makeKey({ name: 'north supervisor', role: 'supervisor', sites: ['north'] });
    const limited = await getJson<{ groups: { key: string }[] }>(api('/stats/sla?groupBy=site'), north.key);
    expect(limited.body.groups.map((g) => g.key)).toEqual(['north']);
    const csv = await fetch(api('/stats/sla?groupBy=site&format=csv'), { headers: auth(keys.supervisor) });
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]?.startsWith('site,tickets,open,resolved,respond_count,')).toBe(true);
    expect(lines.map((l) => l.split(',')[0])).toEqual(['site', '(all)', 'north', 'south']);
    expect((await getJson(api('/stats/sla?from=2026-01-02&to=2026-01-01'), keys.supervisor)).status).toBe(
      400,
    );
  });

  it('the OpenAPI document validates and lists every route; /docs renders', async () => {
    const doc = await getJson<{ paths: Record<string, Record<string, unknown>> }>(api('/openapi.json'), null);
    expect(doc.status).toBe(200);
    const v = new Validator();
    const res = await v.validate(doc.body as unknown as Parameters<Validator['validate']>[0]);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    const documented = Object.entries(doc.body.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const registered = gw.api.faultlineRoutes
      .filter((r) => r.url.startsWith('/api/v1/') && r.url !== '/api/v1/openapi.json')
      .map((r) => `${r.method} ${r.url}`);
    expect(documented.sort()).toEqual(registered.sort());
    const page = await fetch(url('/docs'), { redirect: 'follow' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
  });
});

describe('API rate limit (gateway)', () => {
  const g = gatewayFixture('api:\n  rateLimit: { max: 3, window: 1m }\n');

  it('answers 429 problem+json with retry-after once a key used up its window', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await fetch(g.api('/tickets'), { headers: auth() });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last?.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await last?.json()).toMatchObject({
      code: 'FL_ERR_API_RATE_LIMITED',
      status: 429,
      detail: expect.stringMatching(/^at most 3 requests per 1 minute; retry later$/),
    });
  });
});
