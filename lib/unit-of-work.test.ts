import { describe, expect, it } from 'vitest';
import { sqliteFiles } from '../test/helpers.js';
import type { SqliteDatabase } from './sqlite.js';
import { writeKeptRows } from './sqlite-rows.js';
import { UnitOfWork } from './unit-of-work.js';

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** A unit of work (group commit 10 ms) whose turn ends the test calls: `endTurn()`. */
function turnsOf(db: SqliteDatabase, now: () => number) {
  const turnEnds: (() => void)[] = [];
  const uow = new UnitOfWork(
    db,
    () => undefined,
    (fn) => turnEnds.push(fn),
    10,
    now,
  );
  const endTurn = () => {
    for (const fn of turnEnds.splice(0)) fn();
  };
  return { uow, endTurn, turnEnds };
}

describe('UnitOfWork: one transaction per turn', () => {
  const files = sqliteFiles();

  function setup(name: string) {
    const { db, reader } = files(name);
    db.exec(`CREATE TABLE parents (id INTEGER PRIMARY KEY);
      CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
        parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)`);
    const errors: { stage: string; err: unknown }[] = [];
    const uow = new UnitOfWork(db, (err, stage) => errors.push({ err, stage }), undefined, 0);
    // A store call as the stores write: its own db.transaction() (a savepoint inside the turn).
    const add = db.transaction((names: string[], fail = false) => {
      for (const n of names) db.prepare('INSERT INTO items (name) VALUES (?)').run(n);
      if (fail) throw new Error('injected failure after the first rows');
    });
    const count = (conn: SqliteDatabase) =>
      (conn.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;
    return { db, reader, uow, add, count, errors };
  }

  it('commits the turn once, after its work, and only then runs what waits for the commit', async () => {
    const { reader, uow, add, count } = setup('once');
    const seen: number[] = [];
    uow.join();
    add(['a']);
    uow.join();
    add(['b', 'c']);
    uow.afterCommit(() => seen.push(count(reader)));
    // Another connection (the API worker) sees nothing of the turn before its commit.
    expect(count(reader)).toBe(0);
    expect(seen).toEqual([]);
    await nextTurn();
    expect(count(reader)).toBe(3);
    expect(seen).toEqual([3]);
    expect(uow.stats.commits).toBe(1);
    expect(uow.active).toBe(false);
  });

  it('an item that fails midway is rolled back alone; the rest of the turn commits', async () => {
    const { reader, uow, add, count, errors } = setup('isolated');
    uow.join();
    add(['before']);
    expect(() => add(['half-1', 'half-2'], true)).toThrow('injected');
    add(['after']);
    await nextTurn();
    const names = reader.prepare('SELECT name FROM items ORDER BY id').all() as { name: string }[];
    expect(names.map((r) => r.name)).toEqual(['before', 'after']);
    expect(count(reader)).toBe(2);
    expect(errors).toEqual([]);
  });

  it('a commit that fails rolls the turn back, is reported, and tells no one of its events', async () => {
    const { db, reader, uow, count, errors } = setup('failed');
    const told: string[] = [];
    uow.join();
    // A deferred foreign key is checked at COMMIT: a real commit failure, the transaction left open.
    db.prepare('INSERT INTO items (name, parent) VALUES (?, ?)').run('orphan', 42);
    uow.afterCommit(() => told.push('event'));
    await nextTurn();
    expect(uow.stats.failedCommits).toBe(1);
    expect(errors.map((e) => e.stage)).toEqual(['commit']);
    expect(String(errors[0]?.err)).toMatch(/FOREIGN KEY/);
    expect(told).toEqual([]);
    expect(db.inTransaction).toBe(false);
    expect(count(reader)).toBe(0);
    // The next turn works as before.
    uow.join();
    db.prepare('INSERT INTO items (name) VALUES (?)').run('next');
    uow.afterCommit(() => told.push('next'));
    await nextTurn();
    expect(count(reader)).toBe(1);
    expect(told).toEqual(['next']);
  });

  it('committed() resolves once the turn commits, rejects with the error of a commit that failed', async () => {
    const { db, uow, add } = setup('committed');
    await uow.committed(); // nothing open: at once
    uow.join();
    add(['kept']);
    const ok = uow.committed();
    let settled = false;
    void ok.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    await nextTurn();
    await ok;
    uow.join();
    db.prepare('INSERT INTO items (name, parent) VALUES (?, ?)').run('orphan', 42);
    await expect(uow.committed()).rejects.toThrow(/FOREIGN KEY/);
  });

  it('outside a turn, afterCommit runs at once and join inside a running transaction adds nothing', () => {
    const { db, uow, add } = setup('outside');
    const ran: string[] = [];
    uow.afterCommit(() => ran.push('now'));
    expect(ran).toEqual(['now']);
    db.transaction(() => {
      uow.join();
      expect(uow.active).toBe(false);
      add(['inner']);
    })();
    expect(db.inTransaction).toBe(false);
  });

  it('a failing after-commit callback is reported and the others still run', async () => {
    const { uow, add, errors } = setup('after');
    const ran: string[] = [];
    uow.join();
    add(['x']);
    uow.afterCommit(() => {
      throw new Error('listener broke');
    });
    uow.afterCommit(() => ran.push('second'));
    await nextTurn();
    expect(ran).toEqual(['second']);
    expect(errors.map((e) => e.stage)).toEqual(['after-commit']);
  });

  it('commit() commits now (stop); with nothing open it does nothing', () => {
    const { reader, uow, add, count } = setup('now');
    uow.commit();
    expect(uow.stats.commits).toBe(0);
    uow.join();
    add(['y']);
    uow.commit();
    expect(count(reader)).toBe(1);
    expect(uow.stats.commits).toBe(1);
  });

  it('spans the turns of a burst up to groupMs; a turn that changes nothing commits', () => {
    const { db, reader, add, count } = setup('group');
    let clock = 1_000;
    const { uow, endTurn } = turnsOf(db, () => clock);
    const committed: string[] = [];
    uow.join();
    add(['turn 1']);
    uow.afterCommit(() => committed.push('turn 1'));
    endTurn(); // the next turns may still join
    expect(uow.active).toBe(true);
    uow.join();
    add(['turn 2']);
    clock += 4;
    endTurn();
    expect(uow.active).toBe(true);
    expect(count(reader)).toBe(0);
    endTurn(); // a turn without changes: the burst is over
    expect(uow.active).toBe(false);
    expect(count(reader)).toBe(2);
    expect(committed).toEqual(['turn 1']);
    // A burst that goes on commits once the transaction is groupMs old.
    uow.join();
    add(['a']);
    for (let turn = 0; turn < 3; turn++) {
      endTurn();
      uow.join();
      add([`b${turn}`]);
      clock += 4;
    }
    expect(uow.active).toBe(true);
    endTurn(); // 12 ms old
    expect(uow.active).toBe(false);
    expect(count(reader)).toBe(6);
    expect(uow.stats.commits).toBe(2);
  });

  it('stays open while changes are on their way (on a timer, not spinning), up to groupMs; a commit cancels the wait', () => {
    const { db, reader, add, count } = setup('in-flight');
    const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
    let clock = 1_000;
    let onTheirWay = true;
    const { uow, endTurn, turnEnds } = turnsOf(db, () => clock);
    uow.waitFor(
      () => onTheirWay,
      (fn, ms) => {
        const t = { fn, ms, cancelled: false };
        timers.push(t);
        return () => {
          t.cancelled = true;
        };
      },
    );
    uow.join();
    add(['turn 1']);
    endTurn(); // joined this turn: looks again at the next
    clock += 3;
    endTurn(); // nothing joined, but a batch is on its way: a timer for the rest of groupMs
    expect(uow.active).toBe(true);
    expect(turnEnds).toHaveLength(0); // no immediate spinning meanwhile
    expect(timers.map((t) => t.ms)).toEqual([7]);
    // The batch arrives: its changes join the same transaction.
    uow.join();
    add(['turn 2']);
    clock += 7;
    timers[0]?.fn();
    expect(uow.active).toBe(false);
    expect(count(reader)).toBe(2);
    expect(uow.stats.commits).toBe(1);
    // Nothing on its way: a turn without changes commits at once.
    onTheirWay = false;
    uow.join();
    add(['alone']);
    endTurn();
    endTurn();
    expect(uow.active).toBe(false);
    expect(timers).toHaveLength(1);
    // A commit before the timer (the stop, a test) cancels it.
    onTheirWay = true;
    uow.join();
    add(['again']);
    endTurn();
    endTurn();
    expect(timers).toHaveLength(2);
    uow.commit();
    expect(timers[1]?.cancelled).toBe(true);
    expect(count(reader)).toBe(4);
  });

  it('writes what stores kept just before the commit; a row that fails is dropped alone', async () => {
    const { db, reader, uow, count, errors } = setup('kept');
    db.exec("CREATE TABLE kept (name TEXT NOT NULL CHECK (name <> 'bad'))");
    const insert = db.prepare('INSERT INTO kept (name) VALUES (?)');
    const flushes: string[] = [];
    uow.join();
    uow.beforeCommit(() => {
      flushes.push('flush');
      writeKeptRows(db, uow, [
        {
          rows: [['one'], ['bad'], ['two']],
          one: (row) => insert.run(row),
          what: (row) => `kept ${String(row[0])}`,
        },
      ]);
    });
    db.prepare('INSERT INTO items (name) VALUES (?)').run('item');
    expect(flushes).toEqual([]);
    await nextTurn();
    expect(flushes).toEqual(['flush']);
    const names = reader.prepare('SELECT name FROM kept ORDER BY rowid').all() as { name: string }[];
    expect(names.map((r) => r.name)).toEqual(['one', 'two']);
    expect(count(reader)).toBe(1);
    expect(uow.stats.droppedRows).toBe(1);
    expect(errors.map((e) => e.stage)).toEqual(['before-commit']);
    expect(String(errors[0]?.err)).toMatch(/CHECK constraint/);
    // Outside a turn the flush runs at once.
    uow.beforeCommit(() => flushes.push('now'));
    expect(flushes).toEqual(['flush', 'now']);
  });
});
