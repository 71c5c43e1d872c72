import { migrate, type SqliteDatabase } from '../lib/sqlite.js';
import type { SessionRecord, SessionStore } from './store.js';
import { type SessionRow, sessionOf, sessionTables } from './user-rows.js';

const MIGRATIONS = [{ version: 1, description: 'console sign-in sessions', up: sessionTables('INTEGER') }];

/** Console sessions in SQLite (state.db): the API worker and the main thread share them. */
export class SqliteSessionStore implements SessionStore {
  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'sessions', MIGRATIONS);
  }

  async secret(made: string): Promise<string> {
    this.db
      .prepare("INSERT INTO session_secrets (name, value) VALUES ('cookie', ?) ON CONFLICT DO NOTHING")
      .run(made);
    return (
      this.db.prepare("SELECT value FROM session_secrets WHERE name = 'cookie'").get() as { value: string }
    ).value;
  }

  async put(idHash: string, s: SessionRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, data) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at,
           last_seen_at = excluded.last_seen_at, data = excluded.data`,
      )
      .run(idHash, s.userId, s.createdAt, s.lastSeenAt, s.data);
  }

  async get(idHash: string): Promise<SessionRecord | undefined> {
    const r = this.db
      .prepare('SELECT user_id, created_at, last_seen_at, data FROM sessions WHERE id_hash = ?')
      .get(idHash) as SessionRow | undefined;
    return r ? sessionOf(r) : undefined;
  }

  async touch(idHash: string, at: number): Promise<void> {
    this.db
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?')
      .run(at, idHash, at);
  }

  async remove(idHash: string): Promise<void> {
    this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
  }

  async removeForUser(userId: string, keep?: string): Promise<number> {
    return this.db
      .prepare('DELETE FROM sessions WHERE user_id = ? AND id_hash IS NOT ?')
      .run(userId, keep ?? null).changes;
  }

  async purge(idleBefore: number, createdBefore: number): Promise<number> {
    return this.db
      .prepare('DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?')
      .run(idleBefore, createdBefore).changes;
  }
}
