import { FLUSH_SLICE, inSlices } from '../lib/slices.js';
import type { Point } from './point.js';
import type { HistoryStore } from './store.js';

export const MINUTE_MS = 60_000;

/** Aggregate of one metric of one device over one minute (or a partial of it). */
export interface Rollup {
  deviceId: string;
  metric: string;
  /** Start of the minute, ms since the epoch. */
  minute: number;
  min: number;
  max: number;
  sum: number;
  count: number;
  last: number;
  lastTs: number;
}

/** One bucket of a history query. */
export interface HistoryBucket {
  t: number;
  min: number;
  max: number;
  mean: number;
  last: number;
  count: number;
}

function combine(into: Rollup, r: Rollup): void {
  into.min = Math.min(into.min, r.min);
  into.max = Math.max(into.max, r.max);
  into.sum += r.sum;
  into.count += r.count;
  if (r.lastTs >= into.lastTs) {
    into.last = r.last;
    into.lastTs = r.lastTs;
  }
}

function addTo(r: Rollup, v: number, ts: number): void {
  if (v < r.min) r.min = v;
  if (v > r.max) r.max = v;
  r.sum += v;
  r.count++;
  if (ts >= r.lastTs) {
    r.last = v;
    r.lastTs = ts;
  }
}

/**
 * Aggregates readings in memory and hands the partials to the store on `flush()` (every few
 * seconds), so that history costs one upsert per series and minute, not one write per reading.
 * Queries see flushed and unflushed data together.
 */
export class History {
  private pending = new Map<string, Rollup>();
  /**
   * The pending rollup of each series' newest minute, by device and metric: a reading in that
   * minute (nearly all) finds it without building the `pending` key (issue 19: that string was a
   * tenth of the ingest thread's allocations). Emptied whenever a flush takes rows.
   */
  private readonly hot = new Map<string, Map<string, Rollup>>();
  /** Taken by a flush and not yet in the store (queries still see them). */
  private flushing = new Map<string, Rollup>();

  constructor(private readonly store: HistoryStore) {}

  add(p: Point): void {
    const minute = Math.floor(p.ts / MINUTE_MS) * MINUTE_MS;
    let hot = this.hot.get(p.deviceId);
    for (const metric in p.fields) {
      const raw = p.fields[metric];
      const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
      if (typeof v !== 'number') continue;
      const h = hot?.get(metric);
      if (h !== undefined && h.minute === minute) {
        addTo(h, v, p.ts);
        continue;
      }
      const key = `${p.deviceId}\u0000${metric}\u0000${minute}`;
      let r = this.pending.get(key);
      if (r) addTo(r, v, p.ts);
      else {
        r = { deviceId: p.deviceId, metric, minute, min: v, max: v, sum: v, count: 1, last: v, lastTs: p.ts };
        this.pending.set(key, r);
      }
      if (h === undefined || minute > h.minute) {
        if (hot === undefined) {
          hot = new Map();
          this.hot.set(p.deviceId, hot);
        }
        hot.set(metric, r);
      }
    }
  }

  /**
   * Hands the partials of minutes before `before` to the store, in slices (queries see every row
   * throughout); one flush at a time. Rows a failed flush could not store wait for the next one.
   * `paced`: readings keep most of the loop between slices (lib/slices.ts); the stop goes fast.
   */
  flush(before = Infinity, paced = true): Promise<void> {
    const run = this.lastFlush.catch(() => undefined).then(() => this.flushNow(before, paced));
    this.lastFlush = run;
    return run;
  }

  private lastFlush: Promise<void> = Promise.resolve();

  private async flushNow(before: number, paced: boolean): Promise<void> {
    const taken = new Map<string, Rollup>();
    this.hot.clear();
    for (const [k, r] of this.pending) {
      if (r.minute >= before) continue;
      taken.set(k, r);
      this.pending.delete(k);
    }
    if (taken.size === 0) return;
    this.flushing = taken;
    try {
      await inSlices(
        [...taken.keys()],
        FLUSH_SLICE,
        async (keys) => {
          await this.store.merge(keys.map((k) => taken.get(k) as Rollup));
          for (const k of keys) taken.delete(k);
        },
        paced,
      );
    } catch (err) {
      for (const [k, r] of taken) {
        const newer = this.pending.get(k);
        if (newer) combine(newer, r);
        else this.pending.set(k, r);
      }
      throw err;
    } finally {
      this.flushing = new Map();
    }
  }

  /** Unflushed rows: pending, and taken by a flush in progress. */
  private *unflushed(): Iterable<Rollup> {
    yield* this.flushing.values();
    yield* this.pending.values();
  }

  async metrics(deviceId: string): Promise<string[]> {
    const names = new Set(await this.store.metrics(deviceId));
    for (const r of this.unflushed()) if (r.deviceId === deviceId) names.add(r.metric);
    return [...names].sort();
  }

  /** Buckets of `stepMs` (a whole number of minutes) covering [from, to). */
  async query(
    deviceId: string,
    metric: string,
    from: number,
    to: number,
    stepMs: number,
  ): Promise<HistoryBucket[]> {
    const start = Math.floor(from / MINUTE_MS) * MINUTE_MS;
    const rows = await this.store.minutes(deviceId, metric, start, to);
    for (const r of this.unflushed()) {
      if (r.deviceId === deviceId && r.metric === metric && r.minute >= start && r.minute < to)
        rows.push({ ...r });
    }
    const buckets = new Map<number, Rollup>();
    for (const r of rows) {
      const t = Math.floor(r.minute / stepMs) * stepMs;
      const b = buckets.get(t);
      if (b) combine(b, r);
      else buckets.set(t, { ...r, minute: t });
    }
    return [...buckets.values()]
      .sort((a, b) => a.minute - b.minute)
      .map((b) => ({
        t: b.minute,
        min: b.min,
        max: b.max,
        mean: b.sum / b.count,
        last: b.last,
        count: b.count,
      }));
  }
}
