import { migratePg, type PgPool } from '../lib/pg.js';
import type { SessionRecord, SessionStore } from './store.js';
import { type SessionRow, sessionOf, sessionTables } from './user-rows.js';

const MIGRATIONS = [{ version: 1, description: 'console sign-in sessions', up: sessionTables('BIGINT') }];

/** Console sessions in PostgreSQL: a user signed in on one instance is signed in on all. */
export class PgSessionStore implements SessionStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgSessionStore> {
    await migratePg(pool, 'sessions', MIGRATIONS);
    return new PgSessionStore(pool);
  }

  async secret(made: string): Promise<string> {
    const { rows } = await this.pool.query<{ value: string }>(
      `WITH ins AS (
         INSERT INTO session_secrets (name, value) VALUES ('cookie', $1) ON CONFLICT DO NOTHING RETURNING value
       )
       SELECT value FROM ins UNION ALL SELECT value FROM session_secrets WHERE name = 'cookie'`,
      [made],
    );
    return (rows[0] as { value: string }).value;
  }

  async put(idHash: string, s: SessionRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, data) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at,
         last_seen_at = excluded.last_seen_at, data = excluded.data`,
      [idHash, s.userId, s.createdAt, s.lastSeenAt, s.data],
    );
  }

  async get(idHash: string): Promise<SessionRecord | undefined> {
    const { rows } = await this.pool.query<SessionRow>(
      'SELECT user_id, created_at, last_seen_at, data FROM sessions WHERE id_hash = $1',
      [idHash],
    );
    return rows[0] ? sessionOf(rows[0]) : undefined;
  }

  async touch(idHash: string, at: number): Promise<void> {
    await this.pool.query('UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2', [
      idHash,
      at,
    ]);
  }

  async remove(idHash: string): Promise<void> {
    await this.pool.query('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
  }

  async removeForUser(userId: string, keep?: string): Promise<number> {
    const r = await this.pool.query(
      'DELETE FROM sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2',
      [userId, keep ?? null],
    );
    return r.rowCount ?? 0;
  }

  async purge(idleBefore: number, createdBefore: number): Promise<number> {
    const r = await this.pool.query('DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2', [
      idleBefore,
      createdBefore,
    ]);
    return r.rowCount ?? 0;
  }
}
