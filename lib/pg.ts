import pg from 'pg';
import { FaultlineError } from './errors.js';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

export interface PgOptions {
  /** `postgres://user:password@host:port/database` (also from FAULTLINE_DATABASE_URL). */
  url: string;
  /** Connections per gateway instance. */
  poolSize: number;
  /** A statement running longer is cancelled (ms). */
  statementTimeoutMs: number;
  /** TLS: off, or on with the server's certificate checked against `ca` (PEM) or the system's CAs. */
  ssl?: { ca?: string; rejectUnauthorized: boolean } | false;
}

/**
 * A pool of connections to PostgreSQL (issue 20), for the stores several gateway instances share.
 * `pg` (node-postgres): the maintained driver with a pool, parameterised queries and TLS; every query
 * here is parameterised. Connection and statement timeouts keep a stuck server from holding the
 * gateway's work forever.
 */
export function openPool(o: PgOptions): PgPool {
  const pool = new pg.Pool({
    types: NUMBERS,
    connectionString: o.url,
    max: o.poolSize,
    statement_timeout: o.statementTimeoutMs,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'faultline',
    ...(o.ssl ? { ssl: o.ssl } : {}),
  });
  // An idle connection the server dropped: the pool replaces it; nothing to crash over.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * BIGINT (times in ms, counters, sequence numbers) read as a number, for this pool only: every value
 * Faultline stores in one fits in 2^53 (`pg` reads them as strings by default, to keep 64 bits).
 */
const NUMBERS = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** A BIGINT column as read by `pg` (a string, to keep 64 bits) as a number: times in ms and counters fit. */
export const bigintOrNull = (v: string | number | null): number | null => (v === null ? null : Number(v));

/** One numbered schema change of one component, as SQL. Versions start at 1 and never change once released. */
export interface PgMigration {
  version: number;
  description: string;
  up: string;
}

/** Runs `fn` in a transaction on one connection of the pool; rolled back if it throws. */
export async function inTransaction<T>(pool: PgPool, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** The advisory lock every instance takes to migrate: one migrates, the others wait and find it done. */
const MIGRATION_LOCK = 0x46_4c_4d_49; // "FLMI"

/**
 * Applies a component's migrations that are not yet recorded, in version order, in one transaction
 * holding an advisory lock: of several gateways starting at once, the first migrates and the others
 * wait and find the work done. A database whose schema is newer than this code knows (a newer
 * gateway migrated it) is refused with FL_ERR_DB_SCHEMA: running old code on it could corrupt data.
 */
export async function migratePg(
  pool: PgPool,
  component: string,
  migrations: readonly PgMigration[],
): Promise<void> {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  await inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component TEXT NOT NULL,
      version INTEGER NOT NULL,
      description TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version)
    )`);
    const applied = new Set(
      (
        await c.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1', [
          component,
        ])
      ).rows.map((r) => r.version),
    );
    const newest = Math.max(0, ...applied);
    if (newest > known)
      throw new FaultlineError(
        'FL_ERR_DB_SCHEMA',
        `the database's ${component} schema is at version ${newest}, newer than this gateway knows (${known}): a newer Faultline migrated it; run that version (or restore a backup made before the upgrade)`,
      );
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await c.query(m.up);
      await c.query('INSERT INTO schema_migrations (component, version, description) VALUES ($1, $2, $3)', [
        component,
        m.version,
        m.description,
      ]);
    }
  });
}

/**
 * Tells every instance listening (lib/pg-listen.ts) that cached state changed — `silences`,
 * `webhooks` — after the change committed. A notification lost (the process died between the two) is
 * made good by the listeners' periodic reload.
 */
export async function notifyChange(pool: PgPool, what: 'silences' | 'webhooks'): Promise<void> {
  await pool.query("SELECT pg_notify('faultline_changes', $1)", [what]);
}
