import { FaultlineError } from '../lib/errors.js';
import { migrate, type SqliteDatabase } from '../lib/sqlite.js';
import type { UserStore } from './store.js';
import { USER_COLUMNS, type UserRow, userOf, userTable, userValues } from './user-rows.js';
import type { User } from './users.js';

const MIGRATIONS = [
  { version: 1, description: 'console users, passwords as argon2id hashes', up: userTable('INTEGER') },
];

/** Console users in SQLite (state.db). */
export class SqliteUserStore implements UserStore {
  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'users', MIGRATIONS);
  }

  async insert(user: User, passwordHash: string): Promise<void> {
    try {
      this.db
        .prepare(
          `INSERT INTO users (${USER_COLUMNS}, password_hash) VALUES (${Array(13).fill('?').join(', ')})`,
        )
        .run(...userValues(user, passwordHash));
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT'))
        throw new FaultlineError('FL_ERR_USER_EXISTS', `a user ${user.username} exists`, { cause: err });
      throw err;
    }
  }

  async get(id: string): Promise<User | undefined> {
    const r = this.db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`).get(id) as
      | UserRow
      | undefined;
    return r ? userOf(r) : undefined;
  }

  async byUsername(username: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const r = this.db
      .prepare(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE username = ?`)
      .get(username) as (UserRow & { password_hash: string }) | undefined;
    return r ? { user: userOf(r), passwordHash: r.password_hash } : undefined;
  }

  async list(): Promise<User[]> {
    return (
      this.db.prepare(`SELECT ${USER_COLUMNS} FROM users ORDER BY created_at, id`).all() as UserRow[]
    ).map(userOf);
  }

  async setPassword(id: string, passwordHash: string, at: number): Promise<User | undefined> {
    this.db
      .prepare('UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?')
      .run(passwordHash, at, id);
    return this.get(id);
  }

  async setDisabled(id: string, at: number | null): Promise<User | undefined> {
    if (at === null) this.db.prepare('UPDATE users SET disabled_at = NULL WHERE id = ?').run(id);
    else this.db.prepare('UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL').run(at, id);
    return this.get(id);
  }

  async signedIn(id: string, at: number): Promise<void> {
    this.db.prepare('UPDATE users SET last_sign_in_at = ? WHERE id = ?').run(at, id);
  }
}
