import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { isFaultlineError } from '../lib/errors.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { Sessions } from './sessions.js';
import { SqliteSessionStore } from './sqlite-session-store.js';
import { SqliteUserStore } from './sqlite-user-store.js';
import { Users } from './users.js';

const MIN = 60_000;

describe('Sessions: idle and absolute expiry on the clock', () => {
  let db: SqliteDatabase;
  let app: FastifyInstance;
  afterEach(async () => {
    await app.close();
    db.close();
  });

  async function setup() {
    let now = Date.UTC(2026, 11, 7, 8);
    const clock = () => now;
    db = openDatabase(':memory:');
    const store = new SqliteSessionStore(db);
    const users = new Users(new SqliteUserStore(db), clock, store);
    const sessions = new Sessions(store, users, { idle: 30 * MIN, absolute: 8 * 60 * MIN }, clock);
    await users.create({ username: 'anna', role: 'viewer', createdBy: 'test' }, 'correct-horse-battery');
    app = Fastify();
    sessions.install(app);
    app.setErrorHandler((err, _req, reply) => {
      reply.code(isFaultlineError(err) ? err.status : 500).send({ code: (err as { code?: string }).code });
    });
    app.post('/in', async (req) => {
      const u = await users.check('anna', 'correct-horse-battery');
      return sessions.signIn(req, u as NonNullable<typeof u>);
    });
    app.get('/me', async (req) => (await sessions.principal(req))?.user.username ?? 'nobody');
    app.post('/purge', async () => ({ purged: await sessions.purge() }));
    const res = await app.inject({ method: 'POST', url: '/in' });
    const cookie = (res.headers['set-cookie'] as string).split(';')[0] as string;
    const me = async () => {
      const r = await app.inject({ method: 'GET', url: '/me', headers: { cookie } });
      return r.statusCode === 200 ? r.body : (JSON.parse(r.body) as { code: string }).code;
    };
    return { advance: (ms: number) => (now += ms), me, store, sessions };
  }

  it('ends a session unused for the idle time; use keeps it going until the absolute end', async () => {
    const s = await setup();
    expect(await s.me()).toBe('anna');
    // Used every 20 minutes: it lives on past the idle time …
    for (let i = 0; i < 23; i++) {
      s.advance(20 * MIN);
      expect(await s.me(), `after ${(i + 1) * 20} min`).toBe('anna');
    }
    // … until 8 hours after sign-in, whatever its use.
    s.advance(20 * MIN);
    expect(await s.me()).toBe('FL_ERR_AUTH_REQUIRED');
  });

  it('ends a session left alone for the idle time, and purges it', async () => {
    const s = await setup();
    s.advance(29 * MIN);
    expect(await s.me()).toBe('anna');
    s.advance(30 * MIN);
    expect(await s.me()).toBe('FL_ERR_AUTH_REQUIRED');
  });

  it('purges sessions ended by time from the store', async () => {
    const s = await setup();
    expect(db.prepare('SELECT count(*) AS n FROM sessions').get()).toEqual({ n: 1 });
    s.advance(31 * MIN);
    expect(await s.sessions.purge()).toBe(1);
    expect(db.prepare('SELECT count(*) AS n FROM sessions').get()).toEqual({ n: 0 });
  });
});
