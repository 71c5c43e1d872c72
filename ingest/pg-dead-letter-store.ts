import { migratePg, type PgPool } from '../lib/pg.js';
import type { DeadLetter, DeadLetterInput, DeadLetterStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'dead letters',
    up: `CREATE TABLE dead_letters (
      id BIGSERIAL PRIMARY KEY,
      at BIGINT NOT NULL,
      source TEXT NOT NULL,
      device_id TEXT,
      origin TEXT NOT NULL,
      reason TEXT NOT NULL,
      payload BYTEA NOT NULL
    );
    CREATE INDEX dead_letters_device ON dead_letters (device_id, id);`,
  },
];

const MAX_PAYLOAD_BYTES = 64 * 1024; // keep at most 64 KiB of each rejected payload

interface Row {
  id: string;
  at: string;
  source: string;
  device_id: string | null;
  origin: string;
  reason: string;
  payload: Buffer;
}

/** Rejected input in PostgreSQL (issue 20), bounded: past `maxEntries` the oldest go. */
export class PgDeadLetterStore implements DeadLetterStore {
  private added = 0;

  private constructor(
    private readonly pool: PgPool,
    private readonly maxEntries: number,
  ) {}

  static async open(pool: PgPool, maxEntries = 10_000): Promise<PgDeadLetterStore> {
    await migratePg(pool, 'dead-letters', MIGRATIONS);
    return new PgDeadLetterStore(pool, maxEntries);
  }

  async add(e: DeadLetterInput): Promise<void> {
    await this.pool.query(
      'INSERT INTO dead_letters (at, source, device_id, origin, reason, payload) VALUES ($1, $2, $3, $4, $5, $6)',
      [e.at, e.source, e.deviceId, e.origin, e.reason, e.payload.subarray(0, MAX_PAYLOAD_BYTES)],
    );
    // Trimmed in steps rather than on every insert.
    if (++this.added % 100 === 0)
      await this.pool.query('DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM dead_letters) - $1', [
        this.maxEntries,
      ]);
  }

  async list(limit: number, deviceIn?: readonly string[]): Promise<DeadLetter[]> {
    const { rows } = deviceIn
      ? await this.pool.query<Row>(
          'SELECT * FROM dead_letters WHERE device_id = ANY($1::text[]) ORDER BY id DESC LIMIT $2',
          [deviceIn, limit],
        )
      : await this.pool.query<Row>('SELECT * FROM dead_letters ORDER BY id DESC LIMIT $1', [limit]);
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      source: r.source,
      deviceId: r.device_id,
      origin: r.origin,
      reason: r.reason,
      payload: r.payload,
    }));
  }

  async count(deviceIn?: readonly string[]): Promise<number> {
    const { rows } = deviceIn
      ? await this.pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM dead_letters WHERE device_id = ANY($1::text[])',
          [deviceIn],
        )
      : await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters');
    return Number(rows[0]?.n ?? 0);
  }
}
