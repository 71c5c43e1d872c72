import type { SqliteDatabase } from './sqlite.js';
import type { TurnWrites } from './unit-of-work.js';

/** One table's rows kept for a commit, and how to write one. */
export interface KeptRows {
  rows: readonly unknown[][];
  one: (row: readonly unknown[]) => void;
  /** Names a row in the log when it could not be written. */
  what: (row: readonly unknown[]) => string;
}

/**
 * Writes a turn's kept rows at its commit: all in one savepoint, each with its table's prepared
 * statement (multi-row `INSERT … VALUES (…), (…)` statements were measured slower here, SQLite
 * 3.53: issue 19, docs/benchmarks.md); should that fail, row by row, each in a savepoint of its own,
 * so that one bad row costs only itself (`turn.dropped` names it). Tables are written in order: a
 * table's rows before those that refer to them.
 */
export function writeKeptRows(db: SqliteDatabase, turn: TurnWrites, tables: readonly KeptRows[]): void {
  try {
    db.transaction(() => {
      for (const t of tables) for (const row of t.rows) t.one(row);
    })();
    return;
  } catch {
    // Row by row below: the failure is reported for the row that causes it.
  }
  for (const t of tables)
    for (const row of t.rows) {
      try {
        db.transaction(() => t.one(row))();
      } catch (err) {
        turn.dropped(err, t.what(row));
      }
    }
}
