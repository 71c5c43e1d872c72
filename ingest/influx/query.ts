import type { HistoryBucket } from '../history.js';
import type { InfluxConfig } from './config.js';

/** One series of an InfluxQL answer. */
export type Series = { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] };

/** An InfluxQL identifier, quoted (measurement and field names come from configuration and devices). */
export const ident = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
/** An InfluxQL string literal, quoted. */
export const literal = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * InfluxQL over the `/query` endpoint, the one read path every InfluxDB we write to offers (1.x, and
 * 2.x with a DBRP mapping): the backtests (`rules/backtest.ts`) and the console's charts read through it.
 */
export class InfluxQuery {
  constructor(
    private readonly cfg: InfluxConfig,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get measurement(): string {
    return this.cfg.measurement;
  }

  get eventsMeasurement(): string {
    return this.cfg.eventsMeasurement;
  }

  async query(q: string, timeoutMs = Math.max(this.cfg.timeout, 30_000)): Promise<Series[]> {
    const url = new URL('/query', this.cfg.url);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.cfg.api === 'v1') {
      url.searchParams.set('db', this.cfg.database);
      if (this.cfg.retentionPolicy) url.searchParams.set('rp', this.cfg.retentionPolicy);
      if (this.cfg.username !== undefined)
        headers.authorization = `Basic ${Buffer.from(`${this.cfg.username}:${this.cfg.password ?? ''}`).toString('base64')}`;
    } else {
      const [db, rp] = this.cfg.bucket.split('/');
      url.searchParams.set('db', db as string);
      if (rp) url.searchParams.set('rp', rp);
      if (this.cfg.token) headers.authorization = `Token ${this.cfg.token}`;
    }
    url.searchParams.set('epoch', 'ms');
    url.searchParams.set('q', q);
    const res = await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as {
      results?: { series?: Series[]; error?: string }[];
      error?: string;
    };
    const err = body.error ?? body.results?.find((r) => r.error)?.error;
    if (!res.ok || err) throw new Error(`InfluxDB ${res.status}: ${err ?? res.statusText}`);
    return body.results?.flatMap((r) => r.series ?? []) ?? [];
  }

  /**
   * A metric's history from InfluxDB in steps of `stepMs`: min, max, mean, last and count per step
   * (the same shape as the local rollups), steps without readings left out.
   */
  async buckets(
    deviceId: string,
    metric: string,
    from: number,
    to: number,
    stepMs: number,
    timeoutMs?: number,
  ): Promise<HistoryBucket[]> {
    const f = ident(metric);
    const series = await this.query(
      `SELECT min(${f}), max(${f}), mean(${f}), last(${f}), count(${f}) FROM ${ident(this.cfg.measurement)} ` +
        `WHERE "device" = ${literal(deviceId)} AND time >= ${Math.floor(from)}ms AND time < ${Math.ceil(to)}ms ` +
        `GROUP BY time(${Math.round(stepMs)}ms) fill(none)`,
      timeoutMs,
    );
    const out: HistoryBucket[] = [];
    for (const s of series)
      for (const [t, min, max, mean, last, count] of s.values)
        if (typeof mean === 'number')
          out.push({
            t: Number(t),
            min: Number(min),
            max: Number(max),
            mean,
            last: Number(last),
            count: Number(count),
          });
    return out;
  }
}
