import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIf } from '../test/servers/common.js';
import { type PostgresServer, postgresBin, startPostgres } from '../test/servers/postgres.js';
import { notifyChange, openPool, type PgPool } from './pg.js';
import { CHANGES_CHANNEL, PgListener } from './pg-listen.js';

const { describe, label } = describeIf(
  postgresBin() !== undefined,
  'PostgreSQL',
  'apt-get install postgresql',
);

/**
 * The notification connection on a real PostgreSQL: it hears what is committed, not what is rolled
 * back, and when the server drops it (a restart, a DBA's pg_terminate_backend) it connects again and
 * says so, so that what was missed meanwhile is read afresh.
 */
describe(`LISTEN/NOTIFY connection${label}`, () => {
  let server: PostgresServer;
  let pool: PgPool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = openPool({ url: await server.createDatabase('listen'), poolSize: 2, statementTimeoutMs: 5_000 });
  }, 60_000);
  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await server?.cleanup();
  });

  it('hears committed changes, not rolled-back ones, and comes back after the server dropped it', async () => {
    const heard: string[] = [];
    let connects = 0;
    const lost: string[] = [];
    const listener = new PgListener(pool, [CHANGES_CHANNEL], {
      notified: (channel, payload) => heard.push(`${channel}:${payload}`),
      connected: () => connects++,
      lost: (err) => lost.push(err.message),
    });
    await listener.start();
    try {
      expect(listener.listening).toBe(true);
      expect(connects).toBe(1);
      await notifyChange(pool, 'silences');
      const c = await pool.connect();
      await c.query('BEGIN');
      await c.query("SELECT pg_notify('faultline_changes', 'webhooks')");
      await c.query('ROLLBACK');
      c.release();
      await notifyChange(pool, 'webhooks');
      await expect
        .poll(() => heard, { timeout: 5_000 })
        .toEqual(['faultline_changes:silences', 'faultline_changes:webhooks']);
      // The server drops every listening connection.
      await pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
      );
      await expect.poll(() => lost.length, { timeout: 5_000 }).toBeGreaterThan(0);
      await expect.poll(() => connects, { timeout: 10_000 }).toBe(2);
      expect(listener.listening).toBe(true);
      await notifyChange(pool, 'silences');
      await expect.poll(() => heard.length, { timeout: 5_000 }).toBe(3);
    } finally {
      await listener.close();
    }
    expect(listener.listening).toBe(false);
  }, 30_000);
});
