import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayFixture, getJson, postJson } from './helpers.js';

const CONFIG = `
customers: [{ id: acme, name: ACME }]
sites: [{ id: north, customer: acme }]
devices: [{ id: press-1, site: north }]
teams:
  - { id: mechanics, skills: [mechanical], technicians: [{ id: ana }, { id: ben }] }
`;

type Problem = { status: number; code: string; detail: string; errors?: { path: string }[] };
type SignedIn = {
  user: { id: string; username: string; role: string };
  csrfToken: string;
  expiresAt: string;
};

/** A browser's side of a session: the cookie it was given, sent back on each request. */
class Browser {
  cookie = '';
  csrf = '';
  constructor(
    private readonly base: () => string,
    readonly address = '127.0.0.1',
  ) {}

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.base()}/api/v1${path}`, {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const set = res.headers.getSetCookie();
    for (const c of set) this.cookie = c.split(';')[0] as string;
    const text = await res.text();
    return {
      status: res.status,
      set,
      body: (text ? JSON.parse(text) : undefined) as T,
      headers: res.headers,
    };
  }

  async signIn(username: string, password: string) {
    const r = await this.request<SignedIn & Problem>('POST', '/session', { username, password });
    if (r.status === 200) this.csrf = r.body.csrfToken;
    return r;
  }

  change<T>(method: string, path: string, body?: unknown) {
    return this.request<T>(method, path, body, { 'x-csrf-token': this.csrf });
  }
}

describe('console sessions (issue 21): sign-in, cookie, CSRF, expiry by account changes, throttling', () => {
  const fx = gatewayFixture(CONFIG);
  const browser = () => new Browser(() => fx.gw.apiUrl);
  const makeUser = async (body: object) => {
    const r = await postJson<{ id: string; password?: string } & Problem>(fx.api('/users'), body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };

  it('signs a user in with an HttpOnly, SameSite=Strict cookie and works the API with the role', async () => {
    const made = await makeUser({
      username: 'ana',
      role: 'technician',
      technician: 'ana',
      displayName: 'Ana',
    });
    expect(made.password).toMatch(/^[\w-]{20}$/);
    const b = browser();
    const r = await b.signIn('ana', made.password as string);
    expect(r.status).toBe(200);
    expect(r.body.user).toMatchObject({ username: 'ana', role: 'technician' });
    expect(r.set).toHaveLength(1);
    expect(r.set[0]).toMatch(/^faultline_session=[^;]+; Path=\/; Expires=.*; HttpOnly; SameSite=Strict$/);
    expect(r.set[0]).not.toMatch(/Secure/); // plain HTTP here; Secure over TLS

    // A worker route (tickets) and a forwarded one (alerts) both know the session.
    expect((await b.request('GET', '/tickets')).status).toBe(200);
    expect((await b.request('GET', '/alerts')).status).toBe(200);
    const me = await b.request<SignedIn>('GET', '/session');
    expect(me.body.user.username).toBe('ana');
    // The role's limits hold: a technician manages no keys or users.
    expect((await b.request<Problem>('GET', '/keys')).body.code).toBe('FL_ERR_AUTH_FORBIDDEN');
    expect((await b.request<Problem>('GET', '/users')).body.code).toBe('FL_ERR_AUTH_FORBIDDEN');

    // The database keeps the id's hash, never the id the cookie carries.
    const id = decodeURIComponent(b.cookie.split('=')[1] as string).split('.')[0] as string;
    const db = new Database(join(fx.dir, 'data', 'state.db'), { readonly: true });
    const rows = db.prepare('SELECT id_hash, data FROM sessions').all() as {
      id_hash: string;
      data: string;
    }[];
    db.close();
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(id);
  });

  it('needs the CSRF token for changes made with the session', async () => {
    const made = await makeUser({ username: 'ben', role: 'dispatcher' });
    const b = browser();
    await b.signIn('ben', made.password as string);
    const ticket = {
      title: 'Guard door sticks',
      priority: 'general',
      source: 'portal',
      reporter: { name: 'Ben' },
      faultType: 'mechanical',
      deviceId: 'press-1',
    };
    const without = await b.request<Problem>('POST', '/tickets', ticket);
    expect(without.status).toBe(403);
    expect(without.body.code).toBe('FL_ERR_AUTH_CSRF');
    const wrong = await b.request<Problem>('POST', '/tickets', ticket, { 'x-csrf-token': 'forged-token' });
    expect(wrong.body.code).toBe('FL_ERR_AUTH_CSRF');
    // Another session's token is not this session's.
    const other = browser();
    await other.signIn('ben', made.password as string);
    const crossed = await b.request<Problem>('POST', '/tickets', ticket, { 'x-csrf-token': other.csrf });
    expect(crossed.body.code).toBe('FL_ERR_AUTH_CSRF');
    const ok = await b.change<{ id: string }>('POST', '/tickets', ticket);
    expect(ok.status).toBe(201);
    // A token from GET /session works as well as the one from sign-in.
    b.csrf = (await b.request<SignedIn>('GET', '/session')).body.csrfToken;
    expect((await b.change('POST', `/tickets/${ok.body.id}/comments`, { note: 'on my way' })).status).toBe(
      201,
    );
  });

  it('signs out: the cookie no longer works', async () => {
    const made = await makeUser({ username: 'viewer.one', role: 'viewer' });
    const b = browser();
    await b.signIn('viewer.one', made.password as string);
    const kept = b.cookie;
    expect((await b.request('DELETE', '/session')).status).toBe(204);
    b.cookie = kept; // a copy of the cookie taken before
    const after = await b.request<Problem>('GET', '/tickets');
    expect(after.status).toBe(401);
    expect(after.body.detail).toMatch(/session ended/);
    expect((await b.request<{ user: null }>('GET', '/session')).body).toEqual({ user: null });
  });

  it('ends the sessions of a user who is disabled or whose password is set, for good', async () => {
    const made = await makeUser({ username: 'carl', role: 'dispatcher' });
    const b = browser();
    await b.signIn('carl', made.password as string);
    const patch = (disabled: boolean) =>
      postJson(fx.api(`/users/${made.id}`), { disabled }, undefined, 'PATCH');
    expect((await patch(true)).status).toBe(200);
    expect((await b.request('GET', '/tickets')).status).toBe(401);
    expect((await b.signIn('carl', made.password as string)).body.code).toBe('FL_ERR_AUTH_SIGN_IN');
    expect((await patch(false)).status).toBe(200);
    expect((await b.request('GET', '/tickets')).status).toBe(401); // re-enabled, still signed out

    await b.signIn('carl', made.password as string);
    const reset = await postJson<{ password: string }>(fx.api(`/users/${made.id}/password`), {});
    expect(reset.body.password).toMatch(/^[\w-]{20}$/);
    expect((await b.request('GET', '/tickets')).status).toBe(401);
    expect((await b.signIn('carl', reset.body.password)).status).toBe(200);
  });

  it('changes its own password with the current one; other sessions end, this one goes on', async () => {
    const made = await makeUser({ username: 'dora', role: 'supervisor' });
    const phone = browser();
    const desk = browser();
    await phone.signIn('dora', made.password as string);
    await desk.signIn('dora', made.password as string);
    const wrong = await desk.change<Problem>('POST', '/session/password', {
      current: 'not-the-password',
      password: 'a-new-long-password',
    });
    expect(wrong.body.code).toBe('FL_ERR_AUTH_SIGN_IN');
    const weak = await desk.change<Problem>('POST', '/session/password', {
      current: made.password,
      password: 'short',
    });
    expect(weak.body.code).toBe('FL_ERR_USER_PASSWORD');
    const ok = await desk.change<SignedIn>('POST', '/session/password', {
      current: made.password,
      password: 'a-new-long-password',
    });
    expect(ok.status).toBe(200);
    desk.csrf = ok.body.csrfToken;
    expect((await desk.request('GET', '/stats/summary')).status).not.toBe(401);
    expect((await phone.request('GET', '/tickets')).status).toBe(401);
  });

  it('serves the console at / with a CSP of its own scripts only, and no upgrade to HTTPS on plain HTTP', async () => {
    const res = await fetch(`${fx.gw.apiUrl}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const html = await res.text();
    const js = /src="(\/assets\/app-[\w-]+\.js)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    expect((await fetch(`${fx.gw.apiUrl}${js}`)).headers.get('content-type')).toMatch(/javascript/);
  });

  it('refuses a tampered cookie and bad bodies with coded errors', async () => {
    const b = browser();
    b.cookie = 'faultline_session=abc.def';
    const r = await b.request<Problem>('GET', '/tickets');
    expect(r.status).toBe(401);
    const bad = await b.request<Problem>('POST', '/session', { username: 'x', password: 'y', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('FL_ERR_API_VALIDATION');
    const huge = await b.request<Problem>('POST', '/session', { username: 'x', password: 'p'.repeat(5000) });
    expect(huge.body.code).toBe('FL_ERR_API_VALIDATION');
    const unknownSite = await postJson<Problem>(fx.api('/users'), {
      username: 'fred',
      role: 'viewer',
      sites: ['atlantis'],
    });
    expect(unknownSite.status).toBe(400);
    expect(unknownSite.body.errors?.[0]?.path).toBe('sites.0');
  });
});

describe('console sign-in throttling (issue 21)', () => {
  const fx = gatewayFixture(`${CONFIG}api:\n  authFailures: { maxFailures: 3, window: 1m, block: 1m }\n`);
  const browser = () => new Browser(() => fx.gw.apiUrl);
  const makeUser = async (body: object) =>
    (await postJson<{ id: string; password?: string }>(fx.api('/users'), body)).body;

  it('refuses unknown names and wrong passwords alike, and throttles an address that keeps guessing', async () => {
    const made = await makeUser({ username: 'erin', role: 'viewer' });
    const b = browser();
    const unknown = await b.signIn('nobody-here', 'whatever-password');
    const wrong = await b.signIn('erin', 'whatever-password');
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({ code: 'FL_ERR_AUTH_SIGN_IN', detail: wrong.body.detail });
    const third = await b.signIn('erin', 'still-guessing');
    expect(third.status).toBe(401);
    const blocked = await b.signIn('erin', 'and-again-guessing');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // While blocked, even the right password waits (no oracle for the guesser).
    expect((await b.signIn('erin', made.password as string)).status).toBe(429);
    // API keys still pass (programs behind the same address are not locked out).
    expect((await getJson(fx.api('/tickets'))).status).toBe(200);
  });
});

describe('console sessions behind a TLS proxy (api.trustProxy)', () => {
  const fx = gatewayFixture(`${CONFIG}api:\n  trustProxy: [127.0.0.1]\n`);

  it('marks the cookie Secure when the trusted proxy says the request came over HTTPS, not otherwise', async () => {
    const made = (
      await postJson<{ password: string }>(fx.api('/users'), { username: 'tls.user', role: 'viewer' })
    ).body;
    const signIn = (headers: Record<string, string>) =>
      fetch(fx.api('/session'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ username: 'tls.user', password: made.password }),
      });
    const overTls = await signIn({ 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' });
    expect(overTls.status).toBe(200);
    expect(overTls.headers.getSetCookie()[0]).toMatch(/; Secure(;|$)/);
    const plain = await signIn({});
    expect(plain.headers.getSetCookie()[0]).not.toMatch(/Secure/);
  });
});

describe('console sessions without a trusted proxy', () => {
  const fx = gatewayFixture(CONFIG);

  it('does not believe X-Forwarded-Proto from anyone', async () => {
    const made = (
      await postJson<{ password: string }>(fx.api('/users'), { username: 'tls.user', role: 'viewer' })
    ).body;
    const r = await fetch(fx.api('/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ username: 'tls.user', password: made.password }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.getSetCookie()[0]).not.toMatch(/Secure/);
  });
});
