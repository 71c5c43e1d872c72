import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

/** One numbered schema change of one component. Versions start at 1 and never change once released. */
export interface Migration {
  version: number;
  description: string;
  up: string | ((db: SqliteDatabase) => void);
}

/**
 * Opens (creating if needed) a SQLite file in WAL mode, tuned for a gateway: `synchronous=NORMAL`
 * keeps WAL commits durable across process crashes (an OS crash may lose the last transactions,
 * never corrupt the file), and a busy timeout lets a second connection wait instead of failing.
 */
export function openDatabase(file: string): SqliteDatabase {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (component, version)
  )`);
  return db;
}

/**
 * Applies a component's migrations that are not yet recorded, each in its own transaction, in
 * version order. Each store owns its tables and its migration list, so folders stay independent.
 */
export function migrate(db: SqliteDatabase, component: string, migrations: readonly Migration[]): void {
  const applied = new Set(
    db
      .prepare('SELECT version FROM schema_migrations WHERE component = ?')
      .all(component)
      .map((r) => (r as { version: number }).version),
  );
  const record = db.prepare(
    'INSERT INTO schema_migrations (component, version, description, applied_at) VALUES (?, ?, ?, ?)',
  );
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of sorted) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      record.run(component, m.version, m.description, Date.now());
    })();
  }
}

/**
 * Statements prepared once per SQL text, for methods on a hot path (preparing costs more than
 * running a small statement). Not for statements that are iterated or switched to raw/pluck mode.
 */
export function statementCache(db: SqliteDatabase): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}
