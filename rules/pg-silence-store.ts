import { migratePg, notifyChange, type PgPool } from '../lib/pg.js';
import { type NewSilence, type Silence, storedSilenceSeq } from './silences.js';
import type { SilenceStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'silences (maintenance windows)',
    up: `CREATE TABLE silences (
      seq BIGSERIAL PRIMARY KEY,
      devices JSONB NOT NULL,
      sites JSONB NOT NULL,
      from_at BIGINT NOT NULL,
      to_at BIGINT NOT NULL,
      reason TEXT NOT NULL,
      created_by TEXT NOT NULL,
      ticket_id TEXT,
      created_at BIGINT NOT NULL,
      ended_at BIGINT
    );
    CREATE INDEX silences_to ON silences (to_at);`,
  },
];

interface Row {
  seq: string;
  devices: string[];
  sites: string[];
  from_at: string;
  to_at: string;
  reason: string;
  created_by: string;
  ticket_id: string | null;
  created_at: string;
  ended_at: string | null;
}

const fromRow = (r: Row): Silence => ({
  id: `S-${r.seq}`,
  devices: r.devices,
  sites: r.sites,
  from: Number(r.from_at),
  to: Number(r.to_at),
  reason: r.reason,
  createdBy: r.created_by,
  ticketId: r.ticket_id,
  createdAt: Number(r.created_at),
  endedAt: r.ended_at === null ? null : Number(r.ended_at),
});

/** Maintenance windows in PostgreSQL, shared by every gateway instance (issue 20). */
export class PgSilenceStore implements SilenceStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgSilenceStore> {
    await migratePg(pool, 'silences', MIGRATIONS);
    return new PgSilenceStore(pool);
  }

  async create(s: NewSilence, at: number): Promise<Silence> {
    const { rows } = await this.pool.query<Row>(
      `INSERT INTO silences (devices, sites, from_at, to_at, reason, created_by, ticket_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        JSON.stringify(s.devices),
        JSON.stringify(s.sites),
        s.from,
        s.to,
        s.reason,
        s.createdBy,
        s.ticketId,
        at,
      ],
    );
    await notifyChange(this.pool, 'silences');
    return fromRow(rows[0] as Row);
  }

  async get(id: string): Promise<Silence | undefined> {
    const seq = storedSilenceSeq(id);
    if (seq === undefined) return undefined;
    const { rows } = await this.pool.query<Row>('SELECT * FROM silences WHERE seq = $1', [seq]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async move(id: string, from: number, to: number): Promise<Silence | undefined> {
    const seq = storedSilenceSeq(id);
    if (seq === undefined) return undefined;
    const { rows } = await this.pool.query<Row>(
      'UPDATE silences SET from_at = $1, to_at = $2 WHERE seq = $3 RETURNING *',
      [from, to, seq],
    );
    await notifyChange(this.pool, 'silences');
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async end(id: string, at: number): Promise<Silence | undefined> {
    const seq = storedSilenceSeq(id);
    if (seq === undefined) return undefined;
    await this.pool.query('UPDATE silences SET ended_at = $1 WHERE seq = $2 AND ended_at IS NULL', [at, seq]);
    await notifyChange(this.pool, 'silences');
    return this.get(id);
  }

  async current(at: number): Promise<Silence[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM silences WHERE to_at > $1
         AND (ended_at IS NULL OR (ended_at > $1 AND ended_at > from_at)) ORDER BY seq`,
      [at],
    );
    return rows.map(fromRow);
  }

  async recent(limit: number): Promise<Silence[]> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM silences ORDER BY seq DESC LIMIT $1', [limit]);
    return rows.map(fromRow);
  }
}
