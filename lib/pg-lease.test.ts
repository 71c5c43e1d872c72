import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIf } from '../test/servers/common.js';
import { type PostgresServer, postgresBin, startPostgres } from '../test/servers/postgres.js';
import { Lease } from './lease.js';
import { openPool, type PgPool } from './pg.js';
import { PgLeaseStore } from './pg-lease-store.js';

const { describe, label } = describeIf(
  postgresBin() !== undefined,
  'PostgreSQL',
  'apt-get install postgresql',
);

const TTL = 1_500;

/**
 * The leader lease on a real PostgreSQL: one holder at a time, another takes over within the
 * documented bound when the holder dies (stops renewing) or at once-ish when it lets go, and a holder
 * that cannot reach the database steps down before its lease could pass to another.
 */
describe(`leader lease on PostgreSQL${label}`, () => {
  let server: PostgresServer;
  let pools: PgPool[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    pools = [];
    await server?.cleanup();
  });

  async function instance(url: string, holder: string) {
    const pool = openPool({ url, poolSize: 2, statementTimeoutMs: 5_000 });
    pools.push(pool);
    const store = await PgLeaseStore.open(pool);
    const changes: { leader: boolean; at: number }[] = [];
    const lease = new Lease({
      store,
      name: 'leader',
      holder,
      ttlMs: TTL,
      onChange: (leader) => changes.push({ leader, at: Date.now() }),
      onError: () => undefined,
    });
    return { pool, store, lease, changes };
  }

  const until = async (check: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('one leader; a dead one is replaced within ttl + ttl/3, a stopped one within ttl/3', async () => {
    const url = await server.createDatabase('lease_takeover');
    const a = await instance(url, 'a');
    const b = await instance(url, 'b');
    await a.lease.start();
    await b.lease.start();
    await until(() => a.lease.leader, 1_000);
    await new Promise((r) => setTimeout(r, TTL)); // several renewals: b stays standby
    expect(b.lease.leader).toBe(false);
    expect(await a.store.holder('leader')).toBe('a');

    // a dies: its renewals stop without a release (its connections go too).
    const diedAt = Date.now();
    await a.pool.end();
    await until(() => b.lease.leader, TTL * 2);
    const takeover = Date.now() - diedAt;
    expect(takeover).toBeLessThanOrEqual(TTL + TTL / 3 + 500);
    // a stepped down on its own, before b took over.
    await until(() => !a.lease.leader, TTL);
    const aDown = a.changes.at(-1) as { leader: boolean; at: number };
    const bUp = b.changes.at(-1) as { leader: boolean; at: number };
    expect(aDown.leader).toBe(false);
    expect(aDown.at).toBeLessThanOrEqual(bUp.at);
    await a.lease.stop();

    // b stops cleanly: c takes over at its next try.
    const c = await instance(url, 'c');
    await c.lease.start();
    expect(c.lease.leader).toBe(false);
    const stoppedAt = Date.now();
    await b.lease.stop();
    await until(() => c.lease.leader, TTL);
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(TTL / 3 + 300);
    expect(await c.store.holder('leader')).toBe('c');
    await c.lease.stop();
    expect(await c.store.holder('leader')).toBeNull();
  }, 30_000);

  it('racing instances: exactly one holds the lease', async () => {
    const url = await server.createDatabase('lease_race');
    const all = await Promise.all(['p', 'q', 'r', 's'].map((h) => instance(url, h)));
    await Promise.all(all.map((i) => i.lease.start()));
    await until(() => all.some((i) => i.lease.leader), 1_000);
    await new Promise((r) => setTimeout(r, TTL / 2));
    expect(all.filter((i) => i.lease.leader)).toHaveLength(1);
    await Promise.all(all.map((i) => i.lease.stop()));
  }, 30_000);
});
