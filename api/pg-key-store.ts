import { FaultlineError } from '../lib/errors.js';
import { bigintOrNull, inTransaction, migratePg, type PgPool } from '../lib/pg.js';
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
      sites JSONB,
      technician TEXT,
      customer TEXT,
      created_at BIGINT NOT NULL,
      created_by TEXT NOT NULL,
      expires_at BIGINT,
      last_used_at BIGINT,
      revoked_at BIGINT
    );`,
  },
];

interface Row {
  id: string;
  hash: string;
  name: string;
  role: Role;
  sites: string[] | null;
  technician: string | null;
  customer: string | null;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

function fromRow(r: Row): ApiKey {
  return {
    keyId: r.id,
    name: r.name,
    role: r.role,
    sites: r.sites,
    technician: r.technician,
    customer: r.customer,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    expiresAt: bigintOrNull(r.expires_at),
    lastUsedAt: bigintOrNull(r.last_used_at),
    revokedAt: bigintOrNull(r.revoked_at),
  };
}

const INSERT = `INSERT INTO api_keys (id, hash, name, role, sites, technician, customer, created_at, created_by,
  expires_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;
const params = (k: ApiKey, hash: string) => [
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
];

/** API keys in PostgreSQL, shared by every gateway instance (issue 20). */
export class PgApiKeyStore implements ApiKeyStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgApiKeyStore> {
    await migratePg(pool, 'api-keys', MIGRATIONS);
    return new PgApiKeyStore(pool);
  }

  async insert(record: ApiKey, hash: string): Promise<void> {
    try {
      await this.pool.query(INSERT, params(record, hash));
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new FaultlineError(
          'FL_ERR_INTERNAL',
          `API key ${record.keyId} (or its hash) is already stored`,
          {
            cause: err,
          },
        );
      throw err;
    }
  }

  async replace(record: ApiKey, hash: string): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM api_keys WHERE id = $1', [record.keyId]);
      await c.query(INSERT, params(record, hash));
    });
  }

  async hashOf(id: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ hash: string }>('SELECT hash FROM api_keys WHERE id = $1', [id]);
    return rows[0]?.hash;
  }

  async byHash(hash: string): Promise<ApiKey | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM api_keys WHERE hash = $1', [hash]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM api_keys WHERE id = $1', [id]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async list(): Promise<ApiKey[]> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM api_keys ORDER BY created_at, id');
    return rows.map(fromRow);
  }

  async revoke(id: string, at: number): Promise<ApiKey | undefined> {
    await this.pool.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [
      at,
      id,
    ]);
    return this.get(id);
  }

  async touch(id: string, at: number): Promise<void> {
    await this.pool.query('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [at, id]);
  }

  async activeCount(at: number): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)',
      [at],
    );
    return Number(rows[0]?.n ?? 0);
  }
}
