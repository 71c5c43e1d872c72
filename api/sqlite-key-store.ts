import { FaultlineError } from '../lib/errors.js';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import type { ApiKey, Role } from './auth.js';
import type { ApiKeyStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'API keys, stored as SHA-256 hashes',
    up: `CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      hash TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      role TEXT NOT NULL,
      sites TEXT,
      technician TEXT,
      customer TEXT,
      created_at INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      expires_at INTEGER,
      last_used_at INTEGER,
      revoked_at INTEGER
    );`,
  },
];

interface Row {
  id: string;
  hash: string;
  name: string;
  role: Role;
  sites: string | null;
  technician: string | null;
  customer: string | null;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

function fromRow(r: Row): ApiKey {
  return {
    keyId: r.id,
    name: r.name,
    role: r.role,
    sites: r.sites ? (JSON.parse(r.sites) as string[]) : null,
    technician: r.technician,
    customer: r.customer,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

/** API keys in SQLite (state.db), found by hash through a unique index. */
export class SqliteApiKeyStore implements ApiKeyStore {
  /** The lookups every API request makes, prepared once. */
  private readonly stmt: ReturnType<typeof statementCache>;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'api-keys', MIGRATIONS);
    this.stmt = statementCache(db);
  }

  private insertRow(k: ApiKey, hash: string): void {
    try {
      this.db
        .prepare(
          `INSERT INTO api_keys (id, hash, name, role, sites, technician, customer, created_at, created_by,
             expires_at, last_used_at, revoked_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          k.keyId,
          hash,
          k.name,
          k.role,
          k.sites ? JSON.stringify(k.sites) : null,
          k.technician,
          k.customer,
          k.createdAt,
          k.createdBy,
          k.expiresAt,
          k.lastUsedAt,
          k.revokedAt,
        );
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT'))
        throw new FaultlineError('FL_ERR_INTERNAL', `API key ${k.keyId} (or its hash) is already stored`, {
          cause: err,
        });
      throw err;
    }
  }

  async insert(record: ApiKey, hash: string): Promise<void> {
    this.insertRow(record, hash);
  }

  async replace(record: ApiKey, hash: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM api_keys WHERE id = ?').run(record.keyId);
      this.insertRow(record, hash);
    })();
  }

  async hashOf(id: string): Promise<string | undefined> {
    const r = this.stmt('SELECT hash FROM api_keys WHERE id = ?').get(id) as { hash: string } | undefined;
    return r?.hash;
  }

  async byHash(hash: string): Promise<ApiKey | undefined> {
    const r = this.stmt('SELECT * FROM api_keys WHERE hash = ?').get(hash) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const r = this.stmt('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  async list(): Promise<ApiKey[]> {
    return (this.db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as Row[]).map(fromRow);
  }

  async revoke(id: string, at: number): Promise<ApiKey | undefined> {
    this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id);
    return this.get(id);
  }

  async touch(id: string, at: number): Promise<void> {
    this.stmt('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(at, id);
  }

  async activeCount(at: number): Promise<number> {
    const r = this.db
      .prepare(
        'SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)',
      )
      .get(at) as { n: number };
    return r.n;
  }
}
