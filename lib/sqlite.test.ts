import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { SqliteTicketStore } from '../tickets/sqlite-store.js';
import { FaultlineError } from './errors.js';
import { openDatabase } from './sqlite.js';

describe('unusable data files (issue 18)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('a file that is not a database is named, with what to do', () => {
    const file = join(tmp.dir, 'garbage.db');
    writeFileSync(file, Buffer.alloc(4096, 0x41));
    expect(() => openDatabase(file)).toThrow(FaultlineError);
    expect(() => openDatabase(file)).toThrow(
      `${file} is not a SQLite database (opening, SQLITE_NOTADB): restore it from a backup, or move it away`,
    );
  });

  it("another program's database: the migration that collides is named", () => {
    const file = join(tmp.dir, 'foreign.db');
    const other = new Database(file);
    other.exec('CREATE TABLE tickets (id TEXT, body BLOB)');
    other.close();
    const db = openDatabase(file);
    try {
      expect(() => new SqliteTicketStore(db, () => null)).toThrow(
        new RegExp(
          `^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} could not be used \\(table tickets already exists\\) \\(migration tickets 1`,
        ),
      );
    } finally {
      db.close();
    }
  });
});
