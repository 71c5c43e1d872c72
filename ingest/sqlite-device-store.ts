import { migrate, type SqliteDatabase } from '../lib/sqlite.js';
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
      tags TEXT NOT NULL,
      first_seen_at INTEGER,
      last_seen_at INTEGER,
      last_values TEXT NOT NULL,
      active_error_codes TEXT NOT NULL
    )`,
  },
  {
    version: 2,
    description: 'metric units',
    up: `ALTER TABLE devices ADD COLUMN units TEXT NOT NULL DEFAULT '{}'`,
  },
  {
    version: 3,
    description: 'connectivity',
    up: `ALTER TABLE devices ADD COLUMN connectivity TEXT NOT NULL DEFAULT '{"state":"unknown","since":null,"reason":null}'`,
  },
  {
    version: 4,
    description: 'when each device was last saved',
    up: 'ALTER TABLE devices ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0; CREATE INDEX devices_changed ON devices (changed_at)',
  },
];

export class SqliteDeviceStore implements DeviceStore {
  private readonly upsert;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'devices', MIGRATIONS);
    this.upsert = db.prepare(`INSERT INTO devices
      (id, name, model, site, customer, tags, first_seen_at, last_seen_at, last_values, active_error_codes, units, connectivity, changed_at)
      VALUES (@id, @name, @model, @site, @customer, @tags, @first_seen_at, @last_seen_at, @last_values, @active_error_codes, @units, @connectivity, @changed_at)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, model = excluded.model, site = excluded.site,
        customer = excluded.customer, tags = excluded.tags, first_seen_at = excluded.first_seen_at,
        last_seen_at = excluded.last_seen_at, last_values = excluded.last_values,
        active_error_codes = excluded.active_error_codes, units = excluded.units,
        connectivity = excluded.connectivity, changed_at = excluded.changed_at`);
  }

  async loadAll(): Promise<Device[]> {
    return (this.db.prepare('SELECT * FROM devices').all() as DeviceRow[]).map(deviceOf);
  }

  async changedSince(cursor: number | null): Promise<{ devices: Device[]; cursor: number }> {
    const now = Date.now();
    const rows = this.db
      .prepare('SELECT * FROM devices WHERE changed_at > ?')
      .all(cursor === null ? -1 : cursor - LATE_COMMITS_MS) as DeviceRow[];
    return { devices: rows.map(deviceOf), cursor: now };
  }

  async saveMany(devices: readonly Device[]): Promise<void> {
    const at = Date.now();
    this.db.transaction(() => {
      for (const d of devices) {
        this.upsert.run({
          id: d.id,
          name: d.name,
          model: d.model,
          site: d.site,
          customer: d.customer,
          tags: JSON.stringify(d.tags),
          first_seen_at: d.firstSeenAt,
          last_seen_at: d.lastSeenAt,
          last_values: JSON.stringify(d.lastValues),
          active_error_codes: JSON.stringify(d.activeErrorCodes),
          units: JSON.stringify(d.units ?? {}),
          connectivity: JSON.stringify(d.connectivity),
          changed_at: at,
        });
      }
    })();
  }
}
