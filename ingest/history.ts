import { FLUSH_SLICE, inSlices } from '../lib/slices.js';
import type { Point } from './point.js';
import { RollupRows } from './rollup-rows.js';
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

/** A rollup of one value (an out-of-order reading's). */
function single(deviceId: string, metric: string, minute: number, v: number, ts: number): Rollup {
  return { deviceId, metric, minute, min: v, max: v, sum: v, count: 1, last: v, lastTs: ts };
}

const lateKey = (r: { deviceId: string; metric: string; minute: number }) =>
  `${r.deviceId}\u0000${r.metric}\u0000${r.minute}`;

/**
 * Aggregates readings in memory and hands the partials to the store on `flush()` (every few
 * seconds), so that history costs one upsert per series and minute, not one write per reading.
 * Queries see flushed and unflushed data together.
 *
 * Each series (device, metric) has one row for its open minute (`RollupRows`: packed, updated in
 * place, no key and no allocation per reading; issue 19). A reading of a later minute closes it:
 * closed minutes go with the next flush (the series has moved on, so waiting gains nothing), open
 * ones once they are before the flush's bound. A series without readings for a minute gives its row
 * back. A reading older than its series' open minute (out of order) is kept apart by series and
 * minute and merged into the stored row.
 */
export class History {
  /** Each device's series: metric → row in `open`. */
  private readonly series = new Map<string, Map<string, number>>();
  private readonly open = new RollupRows();
  /** Rows of `open` given back, to be used again. */
  private readonly free: number[] = [];
  private closed = new RollupRows();
  private readonly late = new Map<string, Rollup>();
  /** Taken by the flush in progress; from `stored` on, not in the store yet (queries see them). */
  private flushing = new RollupRows();
  private stored = 0;

  constructor(private readonly store: HistoryStore) {}

  add(p: Point): void {
    const minute = Math.floor(p.ts / MINUTE_MS) * MINUTE_MS;
    const open = this.open;
    let series = this.series.get(p.deviceId);
    for (const metric in p.fields) {
      const raw = p.fields[metric];
      const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
      if (typeof v !== 'number') continue;
      const row = series?.get(metric);
      if (row === undefined) {
        if (series === undefined) {
          series = new Map();
          this.series.set(p.deviceId, series);
        }
        series.set(metric, this.newRow(p.deviceId, metric, minute, v, p.ts));
        continue;
      }
      const at = open.minute(row);
      if (at === minute) open.add(row, v, p.ts);
      else if (minute < at) this.keepLate(single(p.deviceId, metric, minute, v, p.ts));
      else {
        if (!Number.isNaN(at)) this.closed.appendCopy(open, row);
        open.start(row, p.deviceId, metric, minute, v, p.ts);
      }
    }
  }

  private newRow(deviceId: string, metric: string, minute: number, v: number, ts: number): number {
    const row = this.free.pop();
    if (row === undefined) return this.open.append(deviceId, metric, minute, v, ts);
    this.open.start(row, deviceId, metric, minute, v, ts);
    return row;
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
    const taken = this.take(before);
    if (taken.length === 0) return;
    this.flushing = taken;
    this.stored = 0;
    const slices: number[] = [];
    for (let i = 0; i < taken.length; i += FLUSH_SLICE) slices.push(i);
    try {
      // Objects for the store a slice at a time: they die young.
      await inSlices(
        slices,
        1,
        async ([from]) => {
          const rows: Rollup[] = [];
          for (let i = from as number; i < Math.min(taken.length, (from as number) + FLUSH_SLICE); i++)
            rows.push(taken.rollup(i));
          await this.store.merge(rows);
          this.stored += rows.length;
        },
        paced,
      );
    } catch (err) {
      for (let i = this.stored; i < taken.length; i++) this.keepLate(taken.rollup(i));
      throw err;
    } finally {
      this.flushing = new RollupRows();
      this.stored = 0;
    }
  }

  /**
   * The rows a flush up to `before` writes: the closed minutes, the open ones before it (their rows
   * emptied), the late ones. A series idle for more than a minute gives its row back.
   */
  private take(before: number): RollupRows {
    const taken = this.closed;
    this.closed = new RollupRows();
    const open = this.open;
    for (const [deviceId, series] of this.series) {
      for (const [metric, row] of series) {
        const minute = open.minute(row);
        if (minute < before) {
          taken.appendCopy(open, row);
          open.empty(row);
        } else if (Number.isNaN(minute) && open.lastTs(row) < before - MINUTE_MS) {
          series.delete(metric);
          this.free.push(row);
        }
      }
      if (series.size === 0) this.series.delete(deviceId);
    }
    for (const [k, r] of this.late)
      if (r.minute < before) {
        taken.appendRollup(r);
        this.late.delete(k);
      }
    return taken;
  }

  /** Unflushed rows of a device: open, closed, late, and taken by a flush in progress. */
  private *unflushed(deviceId: string): Iterable<Rollup> {
    const f = this.flushing;
    for (let i = this.stored; i < f.length; i++) if (f.deviceId(i) === deviceId) yield f.rollup(i);
    for (const row of this.series.get(deviceId)?.values() ?? [])
      if (!Number.isNaN(this.open.minute(row))) yield this.open.rollup(row);
    const c = this.closed;
    for (let i = 0; i < c.length; i++) if (c.deviceId(i) === deviceId) yield c.rollup(i);
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
