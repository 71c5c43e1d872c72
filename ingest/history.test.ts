import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { History, MINUTE_MS, SqliteHistoryStore } from './history.js';
import type { Point } from './point.js';

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
});
