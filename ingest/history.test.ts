import { afterEach, describe, expect, it } from 'vitest';
import { FLUSH_SLICE } from '../lib/slices.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { History, MINUTE_MS } from './history.js';
import type { Point } from './point.js';
import { SqliteHistoryStore } from './sqlite-history-store.js';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const p = (ts: number, fields: Point['fields'], deviceId = 'd1'): Point => ({
  deviceId,
  ts,
  receivedAt: ts,
  fields,
  source: 't',
});

describe('History (per-minute rollups)', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());

  it('aggregates min, max, mean, last and count per minute, across flushes and late readings', async () => {
    db = openDatabase(':memory:');
    const store = new SqliteHistoryStore(db);
    const h = new History(store);
    h.add(p(T0 + 1_000, { t: 10, on: true, mode: 'auto' }));
    h.add(p(T0 + 2_000, { t: 30, on: false }));
    await h.flush();
    h.add(p(T0 + 59_000, { t: 20 }));
    h.add(p(T0 + 500, { t: 5 })); // late, older than the last: does not become `last`
    h.add(p(T0 + MINUTE_MS + 10, { t: 50 }));
    // Unflushed readings are visible to queries too.
    expect(await h.query('d1', 't', T0, T0 + 2 * MINUTE_MS, MINUTE_MS)).toEqual([
      { t: T0, min: 5, max: 30, mean: 16.25, last: 20, count: 4 },
      { t: T0 + MINUTE_MS, min: 50, max: 50, mean: 50, last: 50, count: 1 },
    ]);
    await h.flush();
    expect(await h.query('d1', 't', T0, T0 + 2 * MINUTE_MS, 2 * MINUTE_MS)).toEqual([
      { t: T0, min: 5, max: 50, mean: 23, last: 50, count: 5 },
    ]);
    expect(await h.query('d1', 'on', T0, T0 + MINUTE_MS, MINUTE_MS)).toEqual([
      { t: T0, min: 0, max: 1, mean: 0.5, last: 0, count: 2 },
    ]);
    expect(await h.metrics('d1')).toEqual(['on', 't']);
    expect(await store.prune(T0 + MINUTE_MS)).toBe(2);
    expect(await h.query('d1', 't', T0, T0 + 2 * MINUTE_MS, MINUTE_MS)).toHaveLength(1);
  });

  it('a flush up to a minute stores the minutes before it and keeps the others in memory, still queried', async () => {
    db = openDatabase(':memory:');
    const store = new SqliteHistoryStore(db);
    const h = new History(store);
    h.add(p(T0 + 1_000, { t: 1 }));
    h.add(p(T0 + MINUTE_MS + 1_000, { t: 2 }));
    await h.flush(T0 + MINUTE_MS);
    expect(await store.minutes('d1', 't', T0, T0 + 2 * MINUTE_MS)).toMatchObject([{ minute: T0, count: 1 }]);
    expect(await h.query('d1', 't', T0, T0 + 2 * MINUTE_MS, MINUTE_MS)).toMatchObject([
      { t: T0, count: 1 },
      { t: T0 + MINUTE_MS, count: 1 },
    ]);
    await h.flush();
    expect(await store.minutes('d1', 't', T0, T0 + 2 * MINUTE_MS)).toHaveLength(2);
  });

  it('keeps one row per live series: a series idle for over a minute gives its row back to newcomers', async () => {
    db = openDatabase(':memory:');
    const store = new SqliteHistoryStore(db);
    const h = new History(store);
    const rows = () => (h as unknown as { open: { length: number } }).open.length;
    // Ten minutes of a churning fleet: each minute 100 devices seen once, never again.
    for (let m = 0; m < 10; m++) {
      for (let k = 0; k < 100; k++) h.add(p(T0 + m * MINUTE_MS + k, { t: m * 1000 + k, u: 1 }, `d${m}-${k}`));
      await h.flush(T0 + m * MINUTE_MS);
    }
    expect(rows()).toBeLessThanOrEqual(3 * 200); // not 10 × 200
    await h.flush();
    for (const m of [0, 4, 9])
      expect(await h.query(`d${m}-7`, 't', T0, T0 + 10 * MINUTE_MS, MINUTE_MS)).toEqual([
        {
          t: T0 + m * MINUTE_MS,
          min: m * 1000 + 7,
          max: m * 1000 + 7,
          mean: m * 1000 + 7,
          last: m * 1000 + 7,
          count: 1,
        },
      ]);
    // A series that comes back after its row was given back starts a new one, as any series.
    h.add(p(T0 + 20 * MINUTE_MS, { t: 1 }, 'd0-7'));
    h.add(p(T0 + 20 * MINUTE_MS + 5, { t: 3 }, 'd0-7'));
    expect(await h.query('d0-7', 't', T0 + 20 * MINUTE_MS, T0 + 21 * MINUTE_MS, MINUTE_MS)).toEqual([
      { t: T0 + 20 * MINUTE_MS, min: 1, max: 3, mean: 2, last: 3, count: 2 },
    ]);
  });

  it('a minute its series moved on from goes with the next flush; an out-of-order reading is merged into its row', async () => {
    db = openDatabase(':memory:');
    const store = new SqliteHistoryStore(db);
    const h = new History(store);
    h.add(p(T0 + 1_000, { t: 1 }));
    h.add(p(T0 + MINUTE_MS + 1_000, { t: 2 })); // closes T0
    h.add(p(T0 + 2 * MINUTE_MS + 1_000, { t: 3 })); // closes T0 + 1 min
    await h.flush(T0); // the bound is before both: closed minutes go anyway, the open one stays
    expect((await store.minutes('d1', 't', T0, T0 + 3 * MINUTE_MS)).map((r) => r.count)).toEqual([1, 1]);
    h.add(p(T0 + 2_000, { t: 7 })); // out of order: its series is two minutes on
    expect(await h.query('d1', 't', T0, T0 + MINUTE_MS, MINUTE_MS)).toEqual([
      { t: T0, min: 1, max: 7, mean: 4, last: 7, count: 2 },
    ]);
    await h.flush(T0 + MINUTE_MS);
    expect(await store.minutes('d1', 't', T0, T0 + MINUTE_MS)).toMatchObject([{ count: 2, sum: 8, max: 7 }]);
    expect(await h.query('d1', 't', T0, T0 + 3 * MINUTE_MS, MINUTE_MS)).toMatchObject([
      { count: 2 },
      { count: 1 },
      { count: 1, last: 3 },
    ]);
  });

  it('a large flush goes in slices: readings and queries between them see every row once; a failed slice is kept', async () => {
    db = openDatabase(':memory:');
    const store = new SqliteHistoryStore(db);
    const h = new History(store);
    const devices = Math.ceil((2.5 * FLUSH_SLICE) / 2); // two metrics each: three slices
    for (let i = 0; i < devices; i++) h.add(p(T0, { t: 1, u: 2 }, `d${i}`));
    const counts: number[] = [];
    const merge = store.merge.bind(store);
    let fail = false;
    store.merge = async (rows) => {
      await merge(rows);
      // Between slices (the next turn of the event loop): a reading arrives and a query runs.
      setImmediate(async () => {
        h.add(p(T0 + 1_000, { t: 3 }, 'd0'));
        counts.push((await h.query('d0', 't', T0, T0 + MINUTE_MS, MINUTE_MS))[0]?.count ?? 0);
      });
    };
    await h.flush();
    await new Promise((r) => setImmediate(r));
    expect(counts).toEqual([2, 3, 4]);
    expect(await h.query('d0', 't', T0, T0 + MINUTE_MS, MINUTE_MS)).toMatchObject([{ count: 4 }]);
    store.merge = async (rows) => {
      if (fail) throw new Error('disk I/O error');
      await merge(rows);
    };
    fail = true;
    await expect(h.flush()).rejects.toThrow('disk I/O error');
    expect(await h.query('d0', 't', T0, T0 + MINUTE_MS, MINUTE_MS)).toMatchObject([{ count: 4, last: 3 }]);
    fail = false;
    await h.flush();
    expect(await store.minutes('d0', 't', T0, T0 + MINUTE_MS)).toMatchObject([{ count: 4, sum: 10 }]);
  });
});
