import { deflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { SqliteTelemetryLog } from './sqlite-telemetry-log.js';

describe('SqliteTelemetryLog', () => {
  let db: SqliteDatabase;
  afterEach(() => db?.close());

  it('commits all appends of one event-loop turn as one batch, in order', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    await Promise.all([log.append('a 1', 1), log.append('b 2\nc 3', 2), log.append('d 4', 1)]);
    await log.append('e 5', 1);
    const batches = await log.read(0, 10);
    expect(batches.map((b) => [b.points, b.lines])).toEqual([
      [4, 'a 1\nb 2\nc 3\nd 4'],
      [1, 'e 5'],
    ]);
    expect(await log.stats()).toMatchObject({ batches: 2, points: 5 });
    await log.deleteThrough(batches[0]!.id);
    expect((await log.read(0, 10)).map((b) => b.lines)).toEqual(['e 5']);
  });

  it('serves the newest batches from memory, and the rest — after a restart, a gap, a prune — from the table', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    for (const l of ['a 1', 'b 2', 'c 3']) await log.append(l, 1);
    // Bodies changed under it: what it answers now came from memory.
    db.exec(`UPDATE telemetry_batches SET body = x'${deflateRawSync(Buffer.from('zz 9')).toString('hex')}'`);
    expect((await log.read(0, 10)).map((b) => b.lines)).toEqual(['a 1', 'b 2', 'c 3']);
    expect((await log.read(1, 1)).map((b) => b.lines)).toEqual(['b 2']);
    // Another instance over the same file (a restart) has none in memory: it reads the table.
    const again = new SqliteTelemetryLog(db);
    expect((await again.read(0, 10)).map((b) => b.lines)).toEqual(['zz 9', 'zz 9', 'zz 9']);
    // Shipped batches are forgotten with their rows; later ones still come from memory.
    const [first] = await log.read(0, 1);
    await log.deleteThrough(first!.id);
    expect((await log.read(0, 10)).map((b) => b.lines)).toEqual(['zz 9', 'zz 9']);
    expect((await log.read(first!.id, 10)).map((b) => b.lines)).toEqual(['b 2', 'c 3']);
    // Pruned by size: memory is dropped, the table answers.
    await log.pruneToSize(1);
    await log.append('d 4', 1);
    expect((await log.read(0, 10)).map((b) => b.lines)).toEqual(['d 4']);
  });

  it('rejects the waiting appends when the commit fails, so nothing is acknowledged', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    db.exec(
      "CREATE TRIGGER no_writes BEFORE INSERT ON telemetry_batches BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    const results = await Promise.allSettled([log.append('a 1', 1), log.append('b 2', 1)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('commits the batches of successive turns in their order while compressing them off the thread; one failing batch fails alone', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    db.exec(
      "CREATE TRIGGER refuse_13 BEFORE INSERT ON telemetry_batches WHEN NEW.points = 13 BEGIN SELECT RAISE(ABORT, 'refused'); END",
    );
    const big = Array.from({ length: 20_000 }, (_, i) => `m v=${i} ${i}`).join('\n');
    let committed = 0;
    log.onCommit(() => committed++);
    // Taken one after the other, before any has been compressed: the big one first.
    const first = log.append(big, 20_000);
    void log.flush();
    const failing = log.append('x 1', 13);
    void log.flush();
    const last = log.append('y 2', 1);
    const closing = log.flush();
    expect(committed).toBe(0); // nothing committed in the turn that took them
    await closing;
    await first;
    await expect(failing).rejects.toThrow('refused');
    await last;
    expect(committed).toBe(2);
    const batches = await new SqliteTelemetryLog(db).read(0, 10);
    expect(batches.map((b) => b.points)).toEqual([20_000, 1]);
    expect(batches[0]?.lines).toBe(big);
    expect(batches[0]!.id).toBeLessThan(batches[1]!.id);
  });

  it('commits a small batch with none ahead of it in its own turn', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    let committed = 0;
    log.onCommit(() => committed++);
    const a = log.append('a 1', 1);
    void log.flush();
    expect(committed).toBe(1);
    expect(log.inFlight).toBe(0);
    await a;
  });

  it('commits what is pending at close', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    const a = log.append('a 1', 1);
    await log.close();
    await a;
    await expect(log.append('b 2', 1)).rejects.toThrow('closed');
    expect((await new SqliteTelemetryLog(db).read(0, 10)).map((b) => b.lines)).toEqual(['a 1']);
  });

  it('prunes by age and counts what it dropped', async () => {
    db = openDatabase(':memory:');
    let now = 1_000;
    const log = new SqliteTelemetryLog(db, () => now);
    await log.append('a 1\nb 2', 2);
    now = 5_000;
    await log.append('c 3', 1);
    expect(await log.pruneOlderThan(2_000)).toBe(2);
    expect((await log.read(0, 10)).map((b) => b.lines)).toEqual(['c 3']);
  });

  it('prunes the oldest batches down to a size bound and keeps exact totals', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    const body = (i: number) =>
      Array.from({ length: 200 }, (_, j) => `m,device=d${i} v=${Math.random()} ${i * 1000 + j}`).join('\n');
    for (let i = 0; i < 10; i++) await log.append(body(i), 200);
    const full = await log.stats();
    expect(full).toMatchObject({ batches: 10, points: 2_000 });
    const bound = Math.floor(full.bytes / 2);
    const dropped = await log.pruneToSize(bound);
    const after = await log.stats();
    expect(after.bytes).toBeLessThanOrEqual(bound);
    expect(dropped).toBe(2_000 - after.points);
    expect(after.points % 200).toBe(0);
    // The newest survive.
    const rest = await log.read(0, 100);
    expect(rest[rest.length - 1]?.lines).toContain('device=d9');
    // Totals match the table after reopening.
    const reopened = new SqliteTelemetryLog(db);
    expect(await reopened.stats()).toEqual(after);
  });

  it('never reuses a batch id, even after the log was emptied', async () => {
    db = openDatabase(':memory:');
    const log = new SqliteTelemetryLog(db);
    await log.append('a 1', 1);
    const [first] = await log.read(0, 10);
    await log.deleteThrough(first!.id);
    await log.append('b 2', 1);
    const [second] = await log.read(first!.id, 10);
    expect(second?.lines).toBe('b 2');
    expect(second!.id).toBeGreaterThan(first!.id);
  });

  it('migration 2 keeps the backlog of a spool written by schema version 1', async () => {
    db = openDatabase(':memory:');
    db.exec(`CREATE TABLE telemetry_batches (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, points INTEGER NOT NULL, body BLOB NOT NULL);
      INSERT INTO schema_migrations VALUES ('telemetry-log', 1, 'telemetry batches', 0);`);
    db.prepare('INSERT INTO telemetry_batches VALUES (7, 1, 1, ?)').run(deflateRawSync(Buffer.from('old 1')));
    const log = new SqliteTelemetryLog(db);
    expect((await log.read(0, 10)).map((b) => [b.id, b.lines])).toEqual([[7, 'old 1']]);
    await log.deleteThrough(7);
    await log.append('new 2', 1);
    expect((await log.read(7, 10)).map((b) => b.lines)).toEqual(['new 2']);
  });
});
