import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { FaultlineError } from './errors.js';

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
  let db: SqliteDatabase | undefined;
  try {
    db = new Database(file);
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
  } catch (err) {
    db?.close();
    throw unusableFile(file, err);
  }
}

/**
 * A data file SQLite cannot use, named with what to do (issue 18): a corrupted file or one that is
 * not a database, or a database of another program (its tables collide with ours).
 */
export function unusableFile(file: string, err: unknown, during = 'opening'): FaultlineError {
  const code = (err as { code?: string }).code ?? '';
  const why =
    code === 'SQLITE_NOTADB'
      ? 'is not a SQLite database'
      : code.startsWith('SQLITE_CORRUPT')
        ? 'is corrupted'
        : `could not be used (${(err as Error).message})`;
  return new FaultlineError(
    'FL_ERR_DATA_FILE',
    `${file} ${why} (${during}${code ? `, ${code}` : ''}): restore it from a backup, or move it away to start with an empty one (what it held is then lost); is --data-dir Faultline's own folder?`,
    { cause: err },
  );
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
    try {
      db.transaction(() => {
        if (typeof m.up === 'string') db.exec(m.up);
        else m.up(db);
        record.run(component, m.version, m.description, Date.now());
      })();
    } catch (err) {
      throw unusableFile(db.name, err, `migration ${component} ${m.version}, ${m.description}`);
    }
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
