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

/** A new rollup; every number field starts as a number, so that V8 keeps them unboxed-in-place. */
function rollupOf(deviceId: string, metric: string, minute: number, v: number, ts: number): Rollup {
  return { deviceId, metric, minute, min: v, max: v, sum: v, count: 1, last: v, lastTs: ts };
}

const lateKey = (r: { deviceId: string; metric: string; minute: number }) =>
  `${r.deviceId}\u0000${r.metric}\u0000${r.minute}`;

/**
 * Aggregates readings in memory and hands the partials to the store on `flush()` (every few
 * seconds), so that history costs one upsert per series and minute, not one write per reading.
 * Queries see flushed and unflushed data together.
 *
 * Each series (device, metric) has one open minute, updated in place by its readings (no key, no
 * allocation per reading: issue 19, where rebuilding a map of partials after every flush was a
 * seventh of what the ingest thread promoted to the old generation). A reading of a later minute
 * closes it; closed minutes go with the next flush (the series has moved on, so waiting gains
 * nothing), open ones once they are before the flush's bound. A reading older than its series'
 * open minute (out of order) is kept apart by series and minute and merged into the stored row.
 */
export class History {
  private readonly open = new Map<string, Map<string, Rollup>>();
  private closed: Rollup[] = [];
  private readonly late = new Map<string, Rollup>();
  /** Taken by the flush in progress; from `stored` on, not in the store yet (queries see them). */
  private flushing: Rollup[] = [];
  private stored = 0;

  constructor(private readonly store: HistoryStore) {}

  add(p: Point): void {
    const minute = Math.floor(p.ts / MINUTE_MS) * MINUTE_MS;
    let series = this.open.get(p.deviceId);
    for (const metric in p.fields) {
      const raw = p.fields[metric];
      const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
      if (typeof v !== 'number') continue;
      const r = series?.get(metric);
      if (r !== undefined && r.minute === minute) {
        addTo(r, v, p.ts);
        continue;
      }
      if (r !== undefined && minute < r.minute) {
        this.keepLate(rollupOf(p.deviceId, metric, minute, v, p.ts));
        continue;
      }
      if (r !== undefined) this.closed.push(r);
      if (series === undefined) {
        series = new Map();
        this.open.set(p.deviceId, series);
      }
      series.set(metric, rollupOf(p.deviceId, metric, minute, v, p.ts));
    }
  }

  private keepLate(r: Rollup): void {
    const k = lateKey(r);
    const known = this.late.get(k);
    if (known) combine(known, r);
    else this.late.set(k, r);
  }

  /**
   * Hands the closed minutes and the partials of minutes before `before` to the store, in slices
   * (queries see every row throughout); one flush at a time. Rows a failed flush could not store
   * wait for the next one. `paced`: readings keep most of the loop between slices
   * (lib/slices.ts); the stop goes fast.
   */
  flush(before = Infinity, paced = true): Promise<void> {
    const run = this.lastFlush.catch(() => undefined).then(() => this.flushNow(before, paced));
    this.lastFlush = run;
    return run;
  }

  private lastFlush: Promise<void> = Promise.resolve();

  private async flushNow(before: number, paced: boolean): Promise<void> {
    const taken = this.closed;
    this.closed = [];
    for (const [deviceId, series] of this.open) {
      for (const [metric, r] of series)
        if (r.minute < before) {
          taken.push(r);
          series.delete(metric);
        }
      if (series.size === 0) this.open.delete(deviceId);
    }
    for (const [k, r] of this.late)
      if (r.minute < before) {
        taken.push(r);
        this.late.delete(k);
      }
    if (taken.length === 0) return;
    this.flushing = taken;
    this.stored = 0;
    try {
      await inSlices(
        taken,
        FLUSH_SLICE,
        async (rows) => {
          await this.store.merge(rows);
          this.stored += rows.length;
        },
        paced,
      );
    } catch (err) {
      for (let i = this.stored; i < taken.length; i++) this.keepLate(taken[i] as Rollup);
      throw err;
    } finally {
      this.flushing = [];
      this.stored = 0;
    }
  }

  /** Unflushed rows of a device: open, closed, late, and taken by a flush in progress. */
  private *unflushed(deviceId: string): Iterable<Rollup> {
    for (let i = this.stored; i < this.flushing.length; i++) {
      const r = this.flushing[i] as Rollup;
      if (r.deviceId === deviceId) yield r;
    }
    yield* this.open.get(deviceId)?.values() ?? [];
    for (const r of this.closed) if (r.deviceId === deviceId) yield r;
    for (const r of this.late.values()) if (r.deviceId === deviceId) yield r;
  }

  async metrics(deviceId: string): Promise<string[]> {
    const names = new Set(await this.store.metrics(deviceId));
    for (const r of this.unflushed(deviceId)) names.add(r.metric);
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
    for (const r of this.unflushed(deviceId)) {
      if (r.metric === metric && r.minute >= start && r.minute < to) rows.push({ ...r });
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
