import { migrate, type SqliteDatabase } from '../lib/sqlite.js';
import type { Rollup } from './history.js';
import type { HistoryStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'per-minute rollups',
    up: `CREATE TABLE rollups (
      device_id TEXT NOT NULL,
      metric TEXT NOT NULL,
      minute INTEGER NOT NULL,
      min REAL NOT NULL,
      max REAL NOT NULL,
      sum REAL NOT NULL,
      count INTEGER NOT NULL,
      last REAL NOT NULL,
      last_ts INTEGER NOT NULL,
      PRIMARY KEY (device_id, metric, minute)
    ) WITHOUT ROWID;
    CREATE INDEX rollups_minute ON rollups (minute);`,
  },
];

export class SqliteHistoryStore implements HistoryStore {
  private readonly upsert;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'history', MIGRATIONS);
    this.upsert =
      db.prepare(`INSERT INTO rollups (device_id, metric, minute, min, max, sum, count, last, last_ts)
      VALUES (@deviceId, @metric, @minute, @min, @max, @sum, @count, @last, @lastTs)
      ON CONFLICT (device_id, metric, minute) DO UPDATE SET
        min = MIN(min, excluded.min), max = MAX(max, excluded.max), sum = sum + excluded.sum,
        count = count + excluded.count,
        last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
        last_ts = MAX(last_ts, excluded.last_ts)`);
  }

  async merge(rows: readonly Rollup[]): Promise<void> {
    this.db.transaction(() => {
      for (const r of rows) this.upsert.run(r);
    })();
  }

  async minutes(deviceId: string, metric: string, from: number, to: number): Promise<Rollup[]> {
    return this.db
      .prepare(
        `SELECT device_id AS deviceId, metric, minute, min, max, sum, count, last, last_ts AS lastTs FROM rollups
         WHERE device_id = ? AND metric = ? AND minute >= ? AND minute < ? ORDER BY minute`,
      )
      .all(deviceId, metric, from, to) as Rollup[];
  }

  async metrics(deviceId: string): Promise<string[]> {
    return (
      this.db
        .prepare('SELECT DISTINCT metric FROM rollups WHERE device_id = ? ORDER BY metric')
        .all(deviceId) as {
        metric: string;
      }[]
    ).map((r) => r.metric);
  }

  async prune(cutoff: number): Promise<number> {
    return this.db.prepare('DELETE FROM rollups WHERE minute < ?').run(cutoff).changes;
  }

  /** Devices with history in [from, to) (for backtests). */
  async devices(from: number, to: number): Promise<string[]> {
    return (
      this.db
        .prepare('SELECT DISTINCT device_id FROM rollups WHERE minute >= ? AND minute < ? ORDER BY device_id')
        .all(from, to) as { device_id: string }[]
    ).map((r) => r.device_id);
  }
}
