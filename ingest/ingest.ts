import { type Logger, RateLimitedLog } from '../lib/log.js';
import { DEFAULT_INGEST, type IngestConfig, ORIGINAL_TS_FIELD, timeProblem } from './admission.js';
import type { Device, DeviceRegistry } from './devices.js';
import { line, seriesKey } from './line-protocol.js';
import type { Point } from './point.js';
import type { DeadLetterInput, DeadLetterStore, TelemetryLog } from './store.js';

/** What adapters hand readings to. Implemented by `Ingest`; adapters know nothing else. */
export interface ReadingSink {
  /** Resolves once the readings are durable: only then may the source be acknowledged. */
  accept(points: readonly Point[]): Promise<void>;
  /** Input that could not be used at all, or in part (`partial`), with the reason. */
  reject(entry: DeadLetterInput, partial?: boolean): void;
}

export type ReadingListener = (point: Point, device: Device) => void;

export interface IngestCounters {
  accepted: number;
  rejected: number;
  partiallyRejected: number;
  deadLetterWriteErrors: number;
  /** Readings refused for a time outside `ingest.timestamps` (also counted in `rejected`). */
  timeRejected: number;
  /** Readings kept with their receipt time instead of their own (`outOfRange: receipt`). */
  timeRestamped: number;
  /** Readings of unknown devices refused (`autoRegister: false` or over `maxAutoRegistered`). */
  unknownDeviceRejected: number;
  /** A listener (history, rules, connectivity) threw on a reading; the others still saw it. */
  listenerErrors: number;
  /** Metrics dropped from readings: new names beyond `ingest.maxMetricsPerDevice`. */
  metricsDropped: number;
}

/** The readings of one spool commit (one `TelemetryLog.append` promise). */
interface Turn {
  logged: Promise<void>;
  points: Point[];
  /** Resolves once the commit is done and the listeners have seen the readings. */
  durable: Promise<void>;
}

const DONE: Promise<void> = Promise.resolve();

export interface IngestOptions {
  log: TelemetryLog;
  registry: DeviceRegistry;
  deadLetters: DeadLetterStore;
  logger: Logger;
  measurement?: string;
  eventsMeasurement?: string;
  /** Time bounds and self-registration limits (defaults: `ingest:` section defaults). */
  admission?: IngestConfig;
  /** Devices read by configured adapters (Modbus, OPC UA): known without being in `devices`. */
  knownDevices?: ReadonlySet<string>;
  now?: () => number;
}

/**
 * Normalised readings in; durable line protocol out; then the device registry and listeners (the
 * rule engine) see each reading, in arrival order, only after it is durable.
 */
export class Ingest implements ReadingSink {
  readonly counters: IngestCounters = {
    accepted: 0,
    rejected: 0,
    partiallyRejected: 0,
    deadLetterWriteErrors: 0,
    timeRejected: 0,
    timeRestamped: 0,
    unknownDeviceRejected: 0,
    listenerErrors: 0,
    metricsDropped: 0,
  };
  private readonly listeners: ReadingListener[] = [];
  /** The readings waiting for the spool commit now pending. */
  private turn: Turn | undefined;
  private readonly warn: RateLimitedLog;
  private readonly measurement: string;
  private readonly eventsMeasurement: string;
  private readonly admission: IngestConfig;
  /** The series key per device and what it was built from (`seriesOf`). */
  private readonly series = new Map<
    string,
    {
      device: Device;
      site: string;
      model: string | null;
      dTags: Device['tags'];
      pTags: Point['tags'];
      key: string;
    }
  >();

  constructor(private readonly opts: IngestOptions) {
    this.warn = new RateLimitedLog(opts.logger);
    this.admission = opts.admission ?? DEFAULT_INGEST;
    this.measurement = opts.measurement ?? 'telemetry';
    this.eventsMeasurement = opts.eventsMeasurement ?? 'device_events';
  }

  onReading(listener: ReadingListener): void {
    this.listeners.push(listener);
  }

  /**
   * Spools the admitted readings; the promise resolves once they are durable and every listener has
   * seen them. The readings of one spool commit share one promise and are delivered together, in
   * arrival order (issue 19: a promise, a continuation and a listener pass per message were a
   * fifth of the ingest thread's allocations).
   */
  accept(all: readonly Point[]): Promise<void> {
    try {
      const points = this.admit(all);
      if (points.length === 0) return DONE;
      let text = '';
      for (const p of points) {
        const l = this.linesFor(p);
        if (l !== '') text += text === '' ? l : `\n${l}`;
      }
      const logged = this.opts.log.append(text, points.length);
      let turn = this.turn;
      if (turn === undefined || turn.logged !== logged) {
        const t: Turn = { logged, points: [], durable: DONE };
        t.durable = logged.then(() => this.deliver(t));
        this.turn = turn = t;
      }
      for (const p of points) turn.points.push(p);
      return turn.durable;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A commit's readings, durable now: counted, then the registry and the listeners see each. */
  private deliver(turn: Turn): void {
    if (this.turn === turn) this.turn = undefined;
    this.counters.accepted += turn.points.length;
    for (const p of turn.points) {
      const device = this.opts.registry.observe(p);
      for (const listener of this.listeners) {
        try {
          listener(p, device);
        } catch (err) {
          this.counters.listenerErrors++;
          this.warn.warn(`listener:${p.deviceId}`, { err, deviceId: p.deviceId }, 'reading listener failed');
        }
      }
    }
  }

  /**
   * The readings that may enter: times within `ingest.timestamps` (else dead-lettered, or stamped
   * with their receipt), devices known or allowed to register themselves. Allocates nothing when all
   * pass, which is the common case.
   */
  private admit(points: readonly Point[]): readonly Point[] {
    let out: Point[] | undefined;
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as Point;
      const admitted = this.admitOne(p);
      if (admitted !== p && out === undefined) out = points.slice(0, i) as Point[];
      if (out !== undefined && admitted !== null) out.push(admitted);
    }
    return out ?? points;
  }

  private admitOne(p: Point): Point | null {
    let point = p;
    const bad = timeProblem(p, this.admission.timestamps);
    if (bad !== null) {
      if (this.admission.timestamps.outOfRange === 'reject' || !Number.isFinite(p.receivedAt)) {
        this.counters.timeRejected++;
        this.reject(this.letterOf(p, bad));
        return null;
      }
      this.counters.timeRestamped++;
      point = { ...p, ts: p.receivedAt, originalTs: p.ts };
    }
    const unknown = this.unknownDevice(p.deviceId, p.tags?.site);
    if (unknown !== null) {
      this.counters.unknownDeviceRejected++;
      this.reject(this.letterOf(p, unknown));
      return null;
    }
    return this.withinMetricCap(point);
  }

  /**
   * The reading with no more distinct metrics for its device than `ingest.maxMetricsPerDevice`.
   * Costs a lookup per metric; the device's metrics are counted only when a new name appears.
   */
  private withinMetricCap(p: Point): Point | null {
    const max = this.admission.maxMetricsPerDevice;
    const known = this.opts.registry.get(p.deviceId)?.lastValues ?? {};
    const fresh: string[] = [];
    for (const key in p.fields) if (!(key in known)) fresh.push(key);
    if (fresh.length === 0) return p;
    const room = Math.max(max - Object.keys(known).length, 0);
    if (fresh.length <= room) return p;
    const dropped = new Set(fresh.slice(room));
    const fields: Point['fields'] = {};
    for (const key in p.fields) if (!dropped.has(key)) fields[key] = p.fields[key] as Point['fields'][string];
    this.counters.metricsDropped += dropped.size;
    const why = `device "${p.deviceId}" has ingest.maxMetricsPerDevice (${max}) metrics`;
    if (Object.keys(fields).length === 0 && p.errorCodes === undefined && p.connectivity === undefined) {
      this.reject(this.letterOf(p, `no metric left: ${why}`));
      return null;
    }
    this.reject(this.letterOf(p, `${dropped.size} new metric(s) dropped: ${why}`), true);
    return { ...p, fields };
  }

  /** Why a reading of this device may not register it, or null when it may enter. */
  private unknownDevice(id: string, siteHint: string | undefined): string | null {
    const { registry, knownDevices } = this.opts;
    if (registry.get(id) !== undefined || knownDevices?.has(id)) return null;
    if (!this.admission.autoRegister)
      return `unknown device "${id}" (ingest.autoRegister is false: add it to devices)`;
    if (registry.autoRegisteredCount() >= this.admission.maxAutoRegistered)
      return `unknown device "${id}": ${this.admission.maxAutoRegistered} devices registered themselves already (ingest.maxAutoRegistered)`;
    // Registered now, so that the next reading of this batch counts it against the cap.
    registry.resolve(id, siteHint);
    return null;
  }

  private letterOf(p: Point, reason: string): DeadLetterInput {
    const body: Record<string, unknown> = { ts: p.ts, ...p.fields };
    if (p.errorCodes) body.errorCode = p.errorCodes;
    return {
      at: Number.isFinite(p.receivedAt) ? p.receivedAt : (this.opts.now ?? Date.now)(),
      source: p.source,
      deviceId: p.deviceId,
      origin: p.source,
      reason,
      payload: Buffer.from(JSON.stringify(body)),
    };
  }

  reject(entry: DeadLetterInput, partial = false): void {
    if (partial) this.counters.partiallyRejected++;
    else this.counters.rejected++;
    this.warn.warn(
      `${entry.source}:${entry.deviceId ?? entry.origin}`,
      { source: entry.source, deviceId: entry.deviceId, origin: entry.origin, reason: entry.reason },
      partial ? 'part of a reading rejected' : 'reading rejected',
    );
    this.opts.deadLetters.add(entry).catch((err: unknown) => {
      this.counters.deadLetterWriteErrors++;
      this.warn.warn('dead-letter-store', { err }, 'dead letter could not be stored');
    });
  }

  /**
   * The series of a reading (`telemetry,device=…,site=…`), built once per device and kept while the
   * reading's tags and the device's identity stay the same: building it (merging, sorting, escaping
   * the tags) was a tenth of the ingest thread's time (issue 19).
   */
  private seriesOf(p: Point, d: Device): string {
    const c = this.series.get(d.id);
    if (
      c &&
      c.device === d &&
      c.site === d.site &&
      c.model === d.model &&
      c.dTags === d.tags &&
      sameTags(c.pTags, p.tags)
    )
      return c.key;
    // Reading tags (topic segments, payload tags) first; the device's configured tags and the core
    // tags win over them.
    const tags: Record<string, string> = {
      ...p.tags,
      ...d.tags,
      device: d.id,
      site: d.site,
      model: d.model ?? '',
    };
    const key = seriesKey(this.measurement, tags);
    this.series.set(d.id, { device: d, site: d.site, model: d.model, dTags: d.tags, pTags: p.tags, key });
    return key;
  }

  /** The InfluxDB lines of one reading: its metrics, and one device event per active error code. */
  private linesFor(p: Point): string {
    const d = this.opts.registry.resolve(p.deviceId, p.tags?.site);
    const fields = p.originalTs === undefined ? p.fields : { ...p.fields, [ORIGINAL_TS_FIELD]: p.originalTs };
    let out = line(this.seriesOf(p, d), fields, p.ts);
    if (p.connectivity) {
      const ev = line(
        seriesKey(this.eventsMeasurement, { device: d.id, site: d.site, kind: p.connectivity.state }),
        { value: true, reason: p.connectivity.reason },
        p.ts,
      );
      out += out === '' ? ev : `\n${ev}`;
    }
    for (const code of p.errorCodes ?? []) {
      const ev = line(
        seriesKey(this.eventsMeasurement, { device: d.id, site: d.site, code, kind: 'error_code' }),
        { value: true },
        p.ts,
      );
      out += out === '' ? ev : `\n${ev}`;
    }
    return out;
  }
}

/** Whether two readings' tags are the same (keys and values; both absent counts as the same). */
function sameTags(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}
