import { migratePg, type PgPool } from '../lib/pg.js';
import { type DeviceRow, deviceOf, LATE_COMMITS_MS } from './device-rows.js';
import type { Device } from './devices.js';
import type { DeviceStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'devices',
    up: `CREATE TABLE devices (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      model TEXT,
      site TEXT NOT NULL,
      customer TEXT,
      tags JSONB NOT NULL,
      first_seen_at BIGINT,
      last_seen_at BIGINT,
      last_values JSONB NOT NULL,
      active_error_codes JSONB NOT NULL,
      units JSONB NOT NULL DEFAULT '{}',
      connectivity JSONB NOT NULL
    )`,
  },
  {
    version: 2,
    description: 'when each device was last saved (by the server clock), for other instances to follow',
    up: `ALTER TABLE devices ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX devices_changed ON devices (changed_at);`,
  },
];

/** The server's clock in ms, as cursors of `changedSince` (instances' clocks do not matter). */
const SERVER_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** The device registry's persistence in PostgreSQL (issue 20): one row per device, written in batches. */
export class PgDeviceStore implements DeviceStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgDeviceStore> {
    await migratePg(pool, 'devices', MIGRATIONS);
    return new PgDeviceStore(pool);
  }

  async loadAll(): Promise<Device[]> {
    const { rows } = await this.pool.query<DeviceRow>('SELECT * FROM devices');
    return rows.map(deviceOf);
  }

  async changedSince(cursor: number | null): Promise<{ devices: Device[]; cursor: number }> {
    const now = await this.pool.query<{ now: number }>(`SELECT ${SERVER_MS} AS now`);
    const { rows } = await this.pool.query<DeviceRow>('SELECT * FROM devices WHERE changed_at > $1', [
      cursor === null ? -1 : cursor - LATE_COMMITS_MS,
    ]);
    return { devices: rows.map(deviceOf), cursor: (now.rows[0] as { now: number }).now };
  }

  /** One statement for the whole batch (arrays unnested), the last copy of a device winning. */
  async saveMany(batch: readonly Device[]): Promise<void> {
    const devices = [...new Map(batch.map((d) => [d.id, d])).values()];
    if (devices.length === 0) return;
    const col = <T>(f: (d: Device) => T) => devices.map(f);
    const json = (f: (d: Device) => unknown) => devices.map((d) => JSON.stringify(f(d)));
    await this.pool.query(
      `INSERT INTO devices (id, name, model, site, customer, tags, first_seen_at, last_seen_at, last_values,
           active_error_codes, units, connectivity, changed_at)
         SELECT *, ${SERVER_MS} FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[],
           $8::bigint[], $9::jsonb[], $10::jsonb[], $11::jsonb[], $12::jsonb[])
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, model = excluded.model, site = excluded.site,
           customer = excluded.customer, tags = excluded.tags, first_seen_at = excluded.first_seen_at,
           last_seen_at = excluded.last_seen_at, last_values = excluded.last_values,
           active_error_codes = excluded.active_error_codes, units = excluded.units,
           connectivity = excluded.connectivity, changed_at = ${SERVER_MS}`,
      [
        col((d) => d.id),
        col((d) => d.name),
        col((d) => d.model),
        col((d) => d.site),
        col((d) => d.customer),
        json((d) => d.tags),
        col((d) => d.firstSeenAt),
        col((d) => d.lastSeenAt),
        json((d) => d.lastValues),
        json((d) => d.activeErrorCodes),
        json((d) => d.units ?? {}),
        json((d) => d.connectivity),
      ],
    );
  }
}
