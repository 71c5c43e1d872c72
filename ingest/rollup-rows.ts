import type { Rollup } from './history.js';

/** The numbers of a row, in this order. */
const MINUTE = 0;
const MIN = 1;
const MAX = 2;
const SUM = 3;
const COUNT = 4;
const LAST = 5;
const LAST_TS = 6;
const STRIDE = 7;

/**
 * Rollups packed in two arrays — seven numbers and two names a row — instead of an object each:
 * 50,000 series' open minutes were 100,000 objects and 600,000 boxed numbers (18 MB of a 10k-device
 * gateway's live heap, issue 19), renewed every minute. The numbers sit unboxed in a double array;
 * the names are the ones the readings brought (not copies).
 *
 * A row whose minute is NaN is empty (its series has no open minute); its `lastTs` stays.
 */
export class RollupRows {
  private readonly nums: number[] = [];
  private readonly names: string[] = [];

  get length(): number {
    return this.names.length / 2;
  }

  /** A new row (at the end); returns its index. */
  append(deviceId: string, metric: string, minute: number, v: number, ts: number): number {
    const i = this.length;
    this.names.push(deviceId, metric);
    this.nums.push(minute, v, v, v, 1, v, ts);
    return i;
  }

  /** A new row (at the end) holding `r`. */
  appendRollup(r: Rollup): void {
    this.names.push(r.deviceId, r.metric);
    this.nums.push(r.minute, r.min, r.max, r.sum, r.count, r.last, r.lastTs);
  }

  /** Row `i` starts over: minute `minute`, one value. */
  start(i: number, deviceId: string, metric: string, minute: number, v: number, ts: number): void {
    const o = i * STRIDE;
    const n = this.nums;
    this.names[2 * i] = deviceId;
    this.names[2 * i + 1] = metric;
    n[o + MINUTE] = minute;
    n[o + MIN] = v;
    n[o + MAX] = v;
    n[o + SUM] = v;
    n[o + COUNT] = 1;
    n[o + LAST] = v;
    n[o + LAST_TS] = ts;
  }

  /** One more value in row `i`. */
  add(i: number, v: number, ts: number): void {
    const o = i * STRIDE;
    const n = this.nums;
    if (v < (n[o + MIN] as number)) n[o + MIN] = v;
    if (v > (n[o + MAX] as number)) n[o + MAX] = v;
    n[o + SUM] = (n[o + SUM] as number) + v;
    n[o + COUNT] = (n[o + COUNT] as number) + 1;
    if (ts >= (n[o + LAST_TS] as number)) {
      n[o + LAST] = v;
      n[o + LAST_TS] = ts;
    }
  }

  minute(i: number): number {
    return this.nums[i * STRIDE + MINUTE] as number;
  }

  lastTs(i: number): number {
    return this.nums[i * STRIDE + LAST_TS] as number;
  }

  deviceId(i: number): string {
    return this.names[2 * i] as string;
  }

  /** Row `i` is empty from now on (its series keeps the row; `lastTs` stays). */
  empty(i: number): void {
    this.nums[i * STRIDE + MINUTE] = Number.NaN;
  }

  /** Appends a copy of row `i` of `from`. */
  appendCopy(from: RollupRows, i: number): void {
    this.names.push(from.names[2 * i] as string, from.names[2 * i + 1] as string);
    const o = i * STRIDE;
    for (let k = 0; k < STRIDE; k++) this.nums.push(from.nums[o + k] as number);
  }

  /** Row `i` as an object of its own (for the store, and for queries). */
  rollup(i: number): Rollup {
    const o = i * STRIDE;
    const n = this.nums;
    return {
      deviceId: this.names[2 * i] as string,
      metric: this.names[2 * i + 1] as string,
      minute: n[o + MINUTE] as number,
      min: n[o + MIN] as number,
      max: n[o + MAX] as number,
      sum: n[o + SUM] as number,
      count: n[o + COUNT] as number,
      last: n[o + LAST] as number,
      lastTs: n[o + LAST_TS] as number,
    };
  }
}
