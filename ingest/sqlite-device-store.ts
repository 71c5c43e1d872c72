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

/** The columns a save writes, `id` first (the order of the statements' parameters). */
const COLUMNS = [
  'id',
  'name',
  'model',
  'site',
  'customer',
  'tags',
  'first_seen_at',
  'last_seen_at',
  'last_values',
  'active_error_codes',
  'units',
  'connectivity',
  'changed_at',
] as const;

export class SqliteDeviceStore implements DeviceStore {
  private readonly update;
  private readonly insert;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'devices', MIGRATIONS);
    // An UPDATE with positional parameters, then an INSERT if there was no row: half the time of an
    // upsert with named ones (issue 19: every device is saved every few seconds).
    this.update = db.prepare(
      `UPDATE devices SET ${COLUMNS.slice(1)
        .map((c) => `${c} = ?`)
        .join(', ')} WHERE id = ?`,
    );
    this.insert = db.prepare(
      `INSERT INTO devices (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
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
        const values = [
          d.name,
          d.model,
          d.site,
          d.customer,
          JSON.stringify(d.tags),
          d.firstSeenAt,
          d.lastSeenAt,
          JSON.stringify(d.lastValues),
          JSON.stringify(d.activeErrorCodes),
          JSON.stringify(d.units ?? {}),
          JSON.stringify(d.connectivity),
          at,
        ];
        if (this.update.run(...values, d.id).changes === 0) this.insert.run(d.id, ...values);
      }
    })();
  }
}
