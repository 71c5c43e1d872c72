import { FaultlineError } from '../lib/errors.js';
import { migratePg, type PgPool } from '../lib/pg.js';
import type { UserStore } from './store.js';
import { USER_COLUMNS, type UserRow, userOf, userTable, userValues } from './user-rows.js';
import type { User } from './users.js';

const MIGRATIONS = [
  { version: 1, description: 'console users, passwords as argon2id hashes', up: userTable('BIGINT') },
];

/** Console users in PostgreSQL, shared by every instance. */
export class PgUserStore implements UserStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgUserStore> {
    await migratePg(pool, 'users', MIGRATIONS);
    return new PgUserStore(pool);
  }

  async insert(user: User, passwordHash: string): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO users (${USER_COLUMNS}, password_hash) VALUES (${Array.from({ length: 13 }, (_, i) => `$${i + 1}`).join(', ')})`,
        userValues(user, passwordHash),
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new FaultlineError('FL_ERR_USER_EXISTS', `a user ${user.username} exists`, { cause: err });
      throw err;
    }
  }

  async get(id: string): Promise<User | undefined> {
    const { rows } = await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] ? userOf(rows[0]) : undefined;
  }

  async byUsername(username: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const { rows } = await this.pool.query<UserRow & { password_hash: string }>(
      `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE username = $1`,
      [username],
    );
    const r = rows[0];
    return r ? { user: userOf(r), passwordHash: r.password_hash } : undefined;
  }

  async list(): Promise<User[]> {
    const { rows } = await this.pool.query<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users ORDER BY created_at, id`,
    );
    return rows.map(userOf);
  }

  async setPassword(id: string, passwordHash: string, at: number): Promise<User | undefined> {
    await this.pool.query('UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3', [
      passwordHash,
      at,
      id,
    ]);
    return this.get(id);
  }

  async setDisabled(id: string, at: number | null): Promise<User | undefined> {
    if (at === null) await this.pool.query('UPDATE users SET disabled_at = NULL WHERE id = $1', [id]);
    else
      await this.pool.query('UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL', [
        at,
        id,
      ]);
    return this.get(id);
  }

  async signedIn(id: string, at: number): Promise<void> {
    await this.pool.query('UPDATE users SET last_sign_in_at = $1 WHERE id = $2', [at, id]);
  }
}
