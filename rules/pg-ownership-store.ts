import { inTransaction, migratePg, type PgPool } from '../lib/pg.js';
import type { OwnershipStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'live instances and which one evaluates each device',
    up: `CREATE TABLE instances (
      id TEXT PRIMARY KEY,
      expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE device_owners (
      device_id TEXT PRIMARY KEY,
      instance_id TEXT NOT NULL,
      since TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX device_owners_instance ON device_owners (instance_id);`,
  },
  {
    version: 2,
    description: 'devices adopted by the leader, handed over to an instance that receives them',
    up: `ALTER TABLE device_owners ADD COLUMN adopted BOOLEAN NOT NULL DEFAULT false;
    ALTER TABLE device_owners ADD COLUMN asked_by TEXT;`,
  },
];

/** Whether instance `$1` is live (by the server's clock, so that instances' clocks do not matter). */
const SELF_LIVE = 'EXISTS (SELECT 1 FROM instances s WHERE s.id = $1 AND s.expires_at > now())';
/** Whether the owner of the `device_owners` row `o` is live. */
const OWNER_LIVE = 'EXISTS (SELECT 1 FROM instances i WHERE i.id = o.instance_id AND i.expires_at > now())';

/** Device ownership in PostgreSQL (issue 20): rows locked by the claim, so two instances never both win one. */
export class PgOwnershipStore implements OwnershipStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgOwnershipStore> {
    await migratePg(pool, 'ownership', MIGRATIONS);
    return new PgOwnershipStore(pool);
  }

  async heartbeat(instance: string, ttlMs: number): Promise<string[]> {
    return inTransaction(this.pool, async (c) => {
      await c.query(
        `INSERT INTO instances (id, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
        [instance, Math.round(ttlMs)],
      );
      // Long gone instances are forgotten (their devices stay claimable: no live owner).
      await c.query("DELETE FROM instances WHERE expires_at < now() - interval '1 day'");
      const { rows } = await c.query<{ id: string }>(
        'SELECT id FROM instances WHERE expires_at > now() ORDER BY id',
      );
      return rows.map((r) => r.id);
    });
  }

  async claim(
    instance: string,
    deviceIds: readonly string[],
  ): Promise<{ owners: Map<string, string>; asked: Set<string> }> {
    if (deviceIds.length === 0) return { owners: new Map(), asked: new Set() };
    return inTransaction(this.pool, async (c) => {
      // A competing claim waits on the row lock and then finds a live owner: one wins. Rows are
      // locked in device order, so that two claims of overlapping lists never deadlock. A device
      // claimed by an instance that receives it is no longer adopted.
      await c.query(
        `INSERT INTO device_owners AS o (device_id, instance_id, since)
           SELECT DISTINCT d, $1, now() FROM unnest($2::text[]) AS d WHERE ${SELF_LIVE} ORDER BY d
         ON CONFLICT (device_id) DO UPDATE
           SET instance_id = excluded.instance_id, since = excluded.since, adopted = false, asked_by = NULL
           WHERE (o.instance_id <> excluded.instance_id AND NOT ${OWNER_LIVE})
              OR (o.instance_id = excluded.instance_id AND o.adopted)`,
        [instance, deviceIds],
      );
      const { rows: asked } = await c.query<{ device_id: string }>(
        `UPDATE device_owners o SET asked_by = $1
         WHERE device_id = ANY($2::text[]) AND o.adopted AND o.instance_id <> $1 AND ${SELF_LIVE}
         RETURNING device_id`,
        [instance, deviceIds],
      );
      const { rows } = await c.query<{ device_id: string; instance_id: string }>(
        'SELECT device_id, instance_id FROM device_owners WHERE device_id = ANY($1::text[])',
        [deviceIds],
      );
      return {
        owners: new Map(rows.map((r) => [r.device_id, r.instance_id])),
        asked: new Set(asked.map((r) => r.device_id)),
      };
    });
  }

  async claimOrphans(instance: string, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ device_id: string }>(
      `UPDATE device_owners SET instance_id = $1, since = now(), adopted = true, asked_by = NULL
       WHERE device_id IN (
         SELECT device_id FROM device_owners o WHERE o.instance_id <> $1 AND NOT ${OWNER_LIVE}
         ORDER BY device_id LIMIT $2 FOR UPDATE SKIP LOCKED)
       AND ${SELF_LIVE}
       RETURNING device_id`,
      [instance, limit],
    );
    return rows.map((r) => r.device_id);
  }

  async asked(instance: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ device_id: string }>(
      'SELECT device_id FROM device_owners WHERE instance_id = $1 AND asked_by IS NOT NULL ORDER BY device_id',
      [instance],
    );
    return rows.map((r) => r.device_id);
  }

  async handOver(instance: string, deviceIds: readonly string[]): Promise<void> {
    await this.pool.query(
      `UPDATE device_owners SET instance_id = asked_by, asked_by = NULL, adopted = false, since = now()
       WHERE instance_id = $1 AND device_id = ANY($2::text[]) AND asked_by IS NOT NULL`,
      [instance, deviceIds],
    );
  }

  async release(instance: string, deviceIds?: readonly string[]): Promise<void> {
    if (deviceIds) {
      await this.pool.query(
        'DELETE FROM device_owners WHERE instance_id = $1 AND device_id = ANY($2::text[])',
        [instance, deviceIds],
      );
      return;
    }
    await inTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM device_owners WHERE instance_id = $1', [instance]);
      await c.query('DELETE FROM instances WHERE id = $1', [instance]);
    });
  }
}
