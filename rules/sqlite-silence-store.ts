import { migrate, type SqliteDatabase } from '../lib/sqlite.js';
import { type NewSilence, type Silence, storedSilenceSeq } from './silences.js';
import type { SilenceStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'silences (maintenance windows)',
    up: `CREATE TABLE silences (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      devices TEXT NOT NULL,
      sites TEXT NOT NULL,
      from_at INTEGER NOT NULL,
      to_at INTEGER NOT NULL,
      reason TEXT NOT NULL,
      created_by TEXT NOT NULL,
      ticket_id TEXT,
      created_at INTEGER NOT NULL,
      ended_at INTEGER
    );
    CREATE INDEX silences_to ON silences (to_at);`,
  },
];

interface Row {
  seq: number;
  devices: string;
  sites: string;
  from_at: number;
  to_at: number;
  reason: string;
  created_by: string;
  ticket_id: string | null;
  created_at: number;
  ended_at: number | null;
}

const fromRow = (r: Row): Silence => ({
  id: `S-${r.seq}`,
  devices: JSON.parse(r.devices) as string[],
  sites: JSON.parse(r.sites) as string[],
  from: r.from_at,
  to: r.to_at,
  reason: r.reason,
  createdBy: r.created_by,
  ticketId: r.ticket_id,
  createdAt: r.created_at,
  endedAt: r.ended_at,
});

/** Maintenance windows in SQLite (state.db). */
export class SqliteSilenceStore implements SilenceStore {
  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'silences', MIGRATIONS);
  }

  async create(s: NewSilence, at: number): Promise<Silence> {
    const r = this.db
      .prepare(
        `INSERT INTO silences (devices, sites, from_at, to_at, reason, created_by, ticket_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        JSON.stringify(s.devices),
        JSON.stringify(s.sites),
        s.from,
        s.to,
        s.reason,
        s.createdBy,
        s.ticketId,
        at,
      ) as Row;
    return fromRow(r);
  }

  async get(id: string): Promise<Silence | undefined> {
    const seq = storedSilenceSeq(id);
    if (seq === undefined) return undefined;
    const r = this.db.prepare('SELECT * FROM silences WHERE seq = ?').get(seq) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  async move(id: string, from: number, to: number): Promise<Silence | undefined> {
    const seq = storedSilenceSeq(id);
    if (seq === undefined) return undefined;
    this.db.prepare('UPDATE silences SET from_at = ?, to_at = ? WHERE seq = ?').run(from, to, seq);
    return this.get(id);
  }

  async end(id: string, at: number): Promise<Silence | undefined> {
    const seq = storedSilenceSeq(id);
    if (seq === undefined) return undefined;
    this.db.prepare('UPDATE silences SET ended_at = ? WHERE seq = ? AND ended_at IS NULL').run(at, seq);
    return this.get(id);
  }

  async current(at: number): Promise<Silence[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM silences WHERE to_at > ?
           AND (ended_at IS NULL OR (ended_at > ? AND ended_at > from_at)) ORDER BY seq`,
      )
      .all(at, at) as Row[];
    return rows.map(fromRow);
  }

  async recent(limit: number): Promise<Silence[]> {
    const rows = this.db.prepare('SELECT * FROM silences ORDER BY seq DESC LIMIT ?').all(limit) as Row[];
    return rows.map(fromRow);
  }
}
