import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import type { DeadLetter, DeadLetterInput, DeadLetterStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'dead letters',
    up: `CREATE TABLE dead_letters (
      id INTEGER PRIMARY KEY,
      at INTEGER NOT NULL,
      source TEXT NOT NULL,
      device_id TEXT,
      origin TEXT NOT NULL,
      reason TEXT NOT NULL,
      payload BLOB NOT NULL
    )`,
  },
];

const MAX_PAYLOAD_BYTES = 64 * 1024; // keep at most 64 KiB of each rejected payload

/** Bounded: past `maxEntries` the oldest entries are deleted. */
export class SqliteDeadLetterStore implements DeadLetterStore {
  private readonly insert;
  private readonly stmt: ReturnType<typeof statementCache>;
  private added = 0;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly maxEntries = 10_000,
  ) {
    migrate(db, 'dead-letters', MIGRATIONS);
    this.stmt = statementCache(db);
    this.insert = db.prepare(
      'INSERT INTO dead_letters (at, source, device_id, origin, reason, payload) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  async add(e: DeadLetterInput): Promise<void> {
    this.insert.run(e.at, e.source, e.deviceId, e.origin, e.reason, e.payload.subarray(0, MAX_PAYLOAD_BYTES));
    // Trim in steps rather than on every insert.
    if (++this.added % 100 === 0) {
      this.db
        .prepare('DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?')
        .run(this.maxEntries);
    }
  }

  async list(limit: number, deviceIn?: readonly string[]): Promise<DeadLetter[]> {
    const rows = (
      deviceIn
        ? this.db
            .prepare(
              'SELECT * FROM dead_letters WHERE device_id IN (SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT ?',
            )
            .all(JSON.stringify(deviceIn), limit)
        : this.db.prepare('SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?').all(limit)
    ) as {
      id: number;
      at: number;
      source: string;
      device_id: string | null;
      origin: string;
      reason: string;
      payload: Buffer;
    }[];
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      source: r.source,
      deviceId: r.device_id,
      origin: r.origin,
      reason: r.reason,
      payload: r.payload,
    }));
  }

  async count(deviceIn?: readonly string[]): Promise<number> {
    const row = deviceIn
      ? this.db
          .prepare(
            'SELECT COUNT(*) AS n FROM dead_letters WHERE device_id IN (SELECT value FROM json_each(?))',
          )
          .get(JSON.stringify(deviceIn))
      : this.stmt('SELECT COUNT(*) AS n FROM dead_letters').get();
    return (row as { n: number }).n;
  }
}
