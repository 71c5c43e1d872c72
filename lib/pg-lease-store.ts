import type { LeaseStore } from './lease.js';
import { migratePg, type PgPool } from './pg.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'leases: who runs what must run once',
    up: `CREATE TABLE leases (
      name TEXT PRIMARY KEY,
      holder TEXT NOT NULL,
      expires_at TIMESTAMPTZ NOT NULL
    );`,
  },
];

/** Leases in PostgreSQL, expiring by the server's clock (`now()`), so that instances' clocks do not matter. */
export class PgLeaseStore implements LeaseStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgLeaseStore> {
    await migratePg(pool, 'leases', MIGRATIONS);
    return new PgLeaseStore(pool);
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const { rows } = await this.pool.query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at < now()
       RETURNING holder`,
      [name, holder, Math.round(ttlMs)],
    );
    return rows.length === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.pool.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async holder(name: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ holder: string }>(
      'SELECT holder FROM leases WHERE name = $1 AND expires_at >= now()',
      [name],
    );
    return rows[0]?.holder ?? null;
  }
}
