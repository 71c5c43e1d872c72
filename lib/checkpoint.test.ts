import { statSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { silentLogger, tempDir, waitFor } from '../test/helpers.js';
import { Checkpointer } from './checkpoint.js';
import { openDatabase, type SqliteDatabase } from './sqlite.js';

describe('WAL checkpoints on a thread of their own (issue 19)', () => {
  const tmp = tempDir();
  let db: SqliteDatabase | undefined;
  let cp: Checkpointer | undefined;
  afterEach(async () => {
    await cp?.stop();
    db?.close();
  });
  afterAll(() => tmp.cleanup());

  const write = (d: SqliteDatabase, rows: number) => {
    const ins = d.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < rows; i += 100)
      d.transaction(() => {
        for (let k = 0; k < 100; k++) ins.run('x'.repeat(500));
      })();
  };

  it('the writer no longer checkpoints; the thread does, and the WAL starts over instead of growing', async () => {
    db = openDatabase(`${tmp.dir}/a.db`);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    cp = new Checkpointer([db], silentLogger, 20);
    await cp.start();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    write(db, 20_000); // ~10 MB: past SQLite's own 1,000-page threshold many times over
    await waitFor(async () => ((cp?.stats.checkpoints ?? 0) > 0 ? true : undefined), 5_000, 'a checkpoint');
    const file = `${tmp.dir}/a.db`;
    // Everything is copied; the next writes start the WAL over at its beginning.
    await waitFor(
      async () => {
        write(db as SqliteDatabase, 100);
        const pages = cp?.stats.walPages[file];
        return pages !== undefined && pages < 200 ? true : undefined;
      },
      5_000,
      'the WAL started over',
    );
    expect(statSync(file).size).toBeGreaterThan(10_000_000); // the rows are in the database file
    expect(cp.stats.failures).toBe(0);
  });

  it('if the thread dies, the connections checkpoint on commit again', async () => {
    db = openDatabase(`${tmp.dir}/b.db`);
    cp = new Checkpointer([db], silentLogger, 1_000);
    await cp.start();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await (cp as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await waitFor(
      async () => (db?.pragma('wal_autocheckpoint', { simple: true }) === 1_000 ? true : undefined),
      5_000,
      'the fallback',
    );
  });
});
