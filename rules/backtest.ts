import type { Device } from '../ingest/devices.js';
import { MINUTE_MS, type Rollup } from '../ingest/history.js';
import type { InfluxConfig } from '../ingest/influx/config.js';
import { InfluxQuery, ident, literal, type Series } from '../ingest/influx/query.js';
import type { FieldValue, Point } from '../ingest/point.js';
import { compileMatcher } from './match.js';
import { type Episode, replay } from './replay.js';
import { metricsOf, type Rule } from './schema.js';

/**
 * Backtests: recorded history replayed through rules, to see which alerts they would have raised —
 * before a rule goes live, or after a threshold was changed.
 */
export interface HistorySource {
  readonly name: string;
  /** Device ids that have history in [from, to). */
  devices(from: number, to: number): Promise<string[]>;
  /** Readings of one device; `metrics` empty = every metric; codes too when `codes` is set. */
  points(deviceId: string, metrics: string[], from: number, to: number, codes: boolean): Promise<Point[]>;
}

/** The per-minute rollups (`history.db`): one reading per minute, its mean (or min/max/last). */
export class RollupSource implements HistorySource {
  readonly name = 'rollups';
  constructor(
    private readonly store: {
      minutes(deviceId: string, metric: string, from: number, to: number): Promise<Rollup[]>;
      metrics(deviceId: string): Promise<string[]>;
      devices(from: number, to: number): Promise<string[]>;
    },
    private readonly value: 'mean' | 'min' | 'max' | 'last' = 'mean',
  ) {}

  devices(from: number, to: number): Promise<string[]> {
    return this.store.devices(from, to);
  }

  async points(deviceId: string, metrics: string[], from: number, to: number): Promise<Point[]> {
    const names = metrics.length ? metrics : await this.store.metrics(deviceId);
    const byMinute = new Map<number, Point>();
    for (const metric of names) {
      for (const r of await this.store.minutes(deviceId, metric, from, to)) {
        // The reading stands at the end of its minute: by then the whole minute was seen.
        const ts = r.minute + MINUTE_MS - 1;
        let p = byMinute.get(ts);
        if (!p) {
          p = { deviceId, ts, receivedAt: ts, fields: {}, source: 'backtest:rollups' };
          byMinute.set(ts, p);
        }
        p.fields[metric] =
          this.value === 'mean' ? r.sum / r.count : this.value === 'last' ? r.last : r[this.value];
      }
    }
    return [...byMinute.values()];
  }
}

/** InfluxDB through its InfluxQL `/query` endpoint (1.x, and 2.x with a DBRP mapping). */
export class InfluxSource implements HistorySource {
  readonly name = 'influxdb';
  private readonly influx: InfluxQuery;

  constructor(
    private readonly cfg: InfluxConfig,
    fetchImpl: typeof fetch = fetch,
  ) {
    this.influx = new InfluxQuery(cfg, fetchImpl);
  }

  private query(q: string): Promise<Series[]> {
    return this.influx.query(q);
  }

  async devices(from: number, to: number): Promise<string[]> {
    const series = await this.query(
      `SHOW TAG VALUES FROM ${ident(this.cfg.measurement)} WITH KEY = "device" WHERE time >= ${from}ms AND time < ${to}ms`,
    );
    return [...new Set(series.flatMap((s) => s.values.map((v) => String(v[1]))))].sort();
  }

  async points(
    deviceId: string,
    metrics: string[],
    from: number,
    to: number,
    codes: boolean,
  ): Promise<Point[]> {
    const byTs = new Map<number, Point>();
    const at = (ts: number) => {
      let p = byTs.get(ts);
      if (!p) {
        p = { deviceId, ts, receivedAt: ts, fields: {}, source: 'backtest:influxdb' };
        byTs.set(ts, p);
      }
      return p;
    };
    const where = `WHERE "device" = ${literal(deviceId)} AND time >= ${from}ms AND time < ${to}ms`;
    const select = metrics.length ? metrics.map(ident).join(', ') : '*';
    for (const s of await this.query(`SELECT ${select} FROM ${ident(this.cfg.measurement)} ${where}`)) {
      const ti = s.columns.indexOf('time');
      for (const row of s.values) {
        const p = at(Number(row[ti]));
        s.columns.forEach((c, i) => {
          const v = row[i];
          if (i === ti || v === null || v === undefined) return;
          if (['device', 'site', 'model'].includes(c)) return;
          if (metrics.length === 0 || metrics.includes(c)) p.fields[c] = v as FieldValue;
        });
      }
    }
    if (codes) {
      const q = `SELECT "value" FROM ${ident(this.cfg.eventsMeasurement)} ${where} AND "kind" = 'error_code' GROUP BY "code"`;
      for (const s of await this.query(q)) {
        const code = s.tags?.code;
        if (!code) continue;
        for (const row of s.values) {
          const p = at(Number(row[0]));
          p.errorCodes = [...(p.errorCodes ?? []), code];
        }
      }
      // A reading that reported no codes is not in device_events: readings in between say "none".
      for (const p of byTs.values()) p.errorCodes ??= [];
    }
    return [...byTs.values()];
  }
}

export interface BacktestResult {
  source: string;
  from: number;
  to: number;
  devices: number;
  readings: number;
  episodes: Episode[];
}

/**
 * Replays the history of matching devices in [from, to) through `rules` and returns every alert
 * episode they would have raised. `devices` are id globs (default: every device with history).
 */
export async function backtest(
  rules: readonly Rule[],
  source: HistorySource,
  range: { from: number; to: number },
  device: (id: string) => Device,
  devicePattern?: (id: string) => boolean,
): Promise<BacktestResult> {
  const ids = (await source.devices(range.from, range.to)).filter(
    (id) => !devicePattern || devicePattern(id),
  );
  const metrics = new Set<string>();
  let anyMetric = false;
  let codes = false;
  for (const r of rules) {
    const m = metricsOf(r.condition);
    if (r.condition.kind === 'errorCode') codes = true;
    else if (m.length === 0) anyMetric = true;
    for (const x of m) metrics.add(x);
  }
  const points: Point[] = [];
  for (const id of ids) {
    if (!rules.some((r) => matchesDevice(r, device(id)))) continue;
    points.push(...(await source.points(id, anyMetric ? [] : [...metrics], range.from, range.to, codes)));
  }
  const { episodes, readings } = replay(rules, points, device, { start: range.from, end: range.to });
  return { source: source.name, from: range.from, to: range.to, devices: ids.length, readings, episodes };
}

function matchesDevice(rule: Rule, d: Device): boolean {
  return compileMatcherCached(rule)(d);
}

const matchers = new WeakMap<Rule, (d: Device) => boolean>();
function compileMatcherCached(rule: Rule): (d: Device) => boolean {
  let m = matchers.get(rule);
  if (!m) {
    m = compileMatcher(rule);
    matchers.set(rule, m);
  }
  return m;
}
