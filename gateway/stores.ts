import { readFileSync } from 'node:fs';
import { PgApiKeyStore } from '../api/pg-key-store.js';
import { PgSessionStore } from '../api/pg-session-store.js';
import { PgUserStore } from '../api/pg-user-store.js';
import { SqliteApiKeyStore } from '../api/sqlite-key-store.js';
import { SqliteSessionStore } from '../api/sqlite-session-store.js';
import { SqliteUserStore } from '../api/sqlite-user-store.js';
import type { ApiKeyStore, SessionStore, UserStore } from '../api/store.js';
import type { PostgresConfig } from '../ingest/config.js';
import { PgDeadLetterStore } from '../ingest/pg-dead-letter-store.js';
import { PgDeviceStore } from '../ingest/pg-device-store.js';
import { SqliteDeadLetterStore } from '../ingest/sqlite-dead-letter-store.js';
import { SqliteDeviceStore } from '../ingest/sqlite-device-store.js';
import type { DeadLetterStore, DeviceStore } from '../ingest/store.js';
import { FaultlineError } from '../lib/errors.js';
import { openPool, type PgPool } from '../lib/pg.js';
import { redactUrl } from '../lib/redact.js';
import type { SqliteDatabase } from '../lib/sqlite.js';
import type { TurnWrites } from '../lib/unit-of-work.js';
import { PgOutboxStore } from '../notify/pg-outbox-store.js';
import { SqliteOutboxStore } from '../notify/sqlite-outbox-store.js';
import type { OutboxStore } from '../notify/store.js';
import { PgStockStore } from '../parts/pg-stock-store.js';
import { SqliteStockStore } from '../parts/sqlite-stock-store.js';
import type { StockStore } from '../parts/store.js';
import { PgAlertStore } from '../rules/pg-alert-store.js';
import { PgSilenceStore } from '../rules/pg-silence-store.js';
import { SqliteAlertStore } from '../rules/sqlite-alert-store.js';
import { SqliteSilenceStore } from '../rules/sqlite-silence-store.js';
import type { AlertStore, RuleStateStore, SilenceStore } from '../rules/store.js';
import { PgPreventiveStore } from '../tickets/pg-preventive-store.js';
import { PgTicketStore } from '../tickets/pg-store.js';
import { SqlitePreventiveStore } from '../tickets/sqlite-preventive-store.js';
import { SqliteTicketStore } from '../tickets/sqlite-store.js';
import type { PreventiveStore, TicketStore } from '../tickets/store.js';
import type { WarnAtOf } from '../tickets/ticket-rows.js';

/** The gateway's shared state: in state.db (one gateway), or in PostgreSQL (one or several). */
export interface SharedStores {
  /** Where: `sqlite` (state.db) or `postgres`. */
  kind: 'sqlite' | 'postgres';
  tickets: TicketStore;
  alerts: AlertStore & RuleStateStore;
  silences: SilenceStore;
  outbox: OutboxStore;
  devices: DeviceStore;
  deadLetters: DeadLetterStore;
  stock: StockStore;
  keys: ApiKeyStore;
  /** Console users (issue 21). */
  users: UserStore;
  /** Console sign-in sessions (issue 21). */
  sessions: SessionStore;
  preventive: PreventiveStore;
  /** state.db (the unit of work and the checkpoints use it); null with PostgreSQL. */
  stateDb: SqliteDatabase | null;
  /**
   * The stores that keep a turn's rows for its commit (SQLite: alerts and events, lib/unit-of-work.ts)
   * write them at `turn`'s commits from now on; with PostgreSQL each call is its own transaction.
   */
  writeAtCommit(turn: TurnWrites): void;
  /** Writes now what the stores keep beyond a turn (alert history, occurrences: within a second): the stop. */
  writeKept(): void;
  pool: PgPool | null;
  /** Closes the pool (state.db is closed with the other SQLite files). */
  close(): Promise<void>;
}

export interface StoreOptions {
  postgres?: PostgresConfig | undefined;
  deadLetters: number;
  warnAtOf: WarnAtOf;
  /** Opens (or reuses) state.db; only called without PostgreSQL. */
  stateDb: () => SqliteDatabase;
}

/** Opens every shared store, in state.db or — with `storage.postgres` — in PostgreSQL. */
export async function openSharedStores(o: StoreOptions): Promise<SharedStores> {
  if (!o.postgres) {
    const db = o.stateDb();
    const alerts = new SqliteAlertStore(db);
    const outbox = new SqliteOutboxStore(db);
    const tickets = new SqliteTicketStore(db, o.warnAtOf);
    return {
      kind: 'sqlite',
      tickets,
      alerts,
      silences: new SqliteSilenceStore(db),
      outbox,
      devices: new SqliteDeviceStore(db),
      deadLetters: new SqliteDeadLetterStore(db, o.deadLetters),
      stock: new SqliteStockStore(db),
      keys: new SqliteApiKeyStore(db),
      users: new SqliteUserStore(db),
      sessions: new SqliteSessionStore(db),
      preventive: new SqlitePreventiveStore(db),
      stateDb: db,
      writeAtCommit: (turn) => {
        alerts.writeAtCommit(turn);
        outbox.writeAtCommit(turn);
        tickets.writeAtCommit(turn);
      },
      writeKept: () => {
        alerts.writeKept();
        tickets.writeKept();
      },
      pool: null,
      close: async () => undefined,
    };
  }
  const pool = await connect(o.postgres);
  try {
    // One at a time: each migrates its tables under the migration lock.
    const tickets = await PgTicketStore.open(pool, o.warnAtOf);
    const alerts = await PgAlertStore.open(pool);
    const silences = await PgSilenceStore.open(pool);
    const outbox = await PgOutboxStore.open(pool);
    const devices = await PgDeviceStore.open(pool);
    const deadLetters = await PgDeadLetterStore.open(pool, o.deadLetters);
    const stock = await PgStockStore.open(pool);
    const keys = await PgApiKeyStore.open(pool);
    const users = await PgUserStore.open(pool);
    const sessions = await PgSessionStore.open(pool);
    const preventive = await PgPreventiveStore.open(pool);
    return {
      kind: 'postgres',
      tickets,
      alerts,
      silences,
      outbox,
      devices,
      deadLetters,
      stock,
      keys,
      users,
      sessions,
      preventive,
      stateDb: null,
      writeAtCommit: () => undefined,
      writeKept: () => undefined,
      pool,
      close: () => pool.end(),
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/** A pool to the configured server, checked with one query (a wrong URL fails the start, named). */
async function connect(c: PostgresConfig): Promise<PgPool> {
  let ssl: { ca?: string; rejectUnauthorized: boolean } | false = false;
  if (c.tls) {
    ssl = { rejectUnauthorized: c.tls.verify };
    if (c.tls.ca !== undefined) {
      try {
        ssl.ca = readFileSync(c.tls.ca, 'utf8');
      } catch (err) {
        throw new FaultlineError(
          'FL_ERR_DB_UNAVAILABLE',
          `storage.postgres.tls.ca: cannot read ${c.tls.ca} (${(err as Error).message})`,
        );
      }
    }
  }
  const pool = openPool({
    url: c.url,
    poolSize: c.poolSize,
    statementTimeoutMs: c.statementTimeout,
    ssl,
  });
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new FaultlineError(
      'FL_ERR_DB_UNAVAILABLE',
      redactUrl(`PostgreSQL at ${c.url} did not answer: ${(err as Error).message}`),
    );
  }
  return pool;
}
