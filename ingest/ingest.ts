import { type Logger, RateLimitedLog } from '../lib/log.js';
import type { DeadLetterInput, DeadLetterStore } from './dead-letters.js';
import type { Device, DeviceRegistry } from './devices.js';
import { line, seriesKey } from './line-protocol.js';
import type { Point } from './point.js';
import type { TelemetryLog } from './telemetry-log.js';

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
}

export interface IngestOptions {
  log: TelemetryLog;
  registry: DeviceRegistry;
  deadLetters: DeadLetterStore;
  logger: Logger;
  measurement?: string;
  eventsMeasurement?: string;
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
  };
  private readonly listeners: ReadingListener[] = [];
  private readonly warn: RateLimitedLog;
  private readonly measurement: string;
  private readonly eventsMeasurement: string;

  constructor(private readonly opts: IngestOptions) {
    this.warn = new RateLimitedLog(opts.logger);
    this.measurement = opts.measurement ?? 'telemetry';
    this.eventsMeasurement = opts.eventsMeasurement ?? 'device_events';
  }

  onReading(listener: ReadingListener): void {
    this.listeners.push(listener);
  }

  async accept(points: readonly Point[]): Promise<void> {
    if (points.length === 0) return;
    let text = '';
    for (const p of points) {
      const l = this.linesFor(p);
      if (l !== '') text += text === '' ? l : `\n${l}`;
    }
    await this.opts.log.append(text, points.length);
    this.counters.accepted += points.length;
    for (const p of points) {
      const device = this.opts.registry.observe(p);
      for (const listener of this.listeners) {
        try {
          listener(p, device);
        } catch (err) {
          this.opts.logger.error({ err, deviceId: p.deviceId }, 'reading listener failed');
        }
      }
    }
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

  /** The InfluxDB lines of one reading: its metrics, and one device event per active error code. */
  private linesFor(p: Point): string {
    const d = this.opts.registry.resolve(p.deviceId, p.tags?.site);
    // Reading tags (topic segments, payload tags) first; the device's configured tags and the core
    // tags win over them.
    const tags: Record<string, string> = {
      ...p.tags,
      ...d.tags,
      device: d.id,
      site: d.site,
      model: d.model ?? '',
    };
    let out = line(seriesKey(this.measurement, tags), p.fields, p.ts);
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
