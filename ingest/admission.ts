import { z } from 'zod';
import { duration } from '../lib/duration.js';
import type { Point } from './point.js';

/**
 * What may enter the pipeline (issue 18): every reading's time is checked against the time it was
 * received, and devices that register themselves on first sight are capped. A reading outside the
 * bounds is never stored as it is: a timestamp in nanoseconds, in the year 2200 or in 1980 would
 * otherwise silence a device's rules, open tickets already breached, or stop every view that shows it.
 */
export const ingestSchema = z
  .object({
    timestamps: z
      .object({
        /**
         * How far a reading's time may be ahead of its receipt: device clocks drift (AWS IoT SiteWise
         * allows 10 minutes; 5 minutes here, since no-data rules and clocks trust the newest time).
         */
        maxFuture: duration.prefault('5m'),
        /**
         * How far behind: a device sending its own backlog after an outage (SiteWise allows 7 days;
         * the spool keeps 7 days by default too).
         */
        maxPast: duration.prefault('7d'),
        /**
         * Outside the bounds: `reject` dead-letters the reading with the reason; `receipt` keeps it,
         * stamped with the time it was received, and records the device's own time in the field
         * `ts_original` (for devices whose clocks cannot be trusted at all).
         */
        outOfRange: z.enum(['reject', 'receipt']).default('reject'),
      })
      .strict()
      .prefault({}),
    /**
     * Devices not in `devices` (nor read by a configured Modbus or OPC UA adapter) are registered on
     * first sight. `false`: their readings are dead-lettered instead.
     */
    autoRegister: z.boolean().default(true),
    /** At most this many devices registered on first sight; beyond it their readings are dead-lettered. */
    maxAutoRegistered: z.number().int().min(0).default(10_000),
    /**
     * Distinct metrics one device may have (its last values are kept in memory and in state.db): a
     * reading with more is dead-lettered; new metric names beyond it are dropped from the reading
     * with the reason (a device inventing keys cannot fill the memory).
     */
    maxMetricsPerDevice: z.number().int().min(1).default(1_000),
  })
  .strict();

export type IngestConfig = z.output<typeof ingestSchema>;

export const DEFAULT_INGEST: IngestConfig = ingestSchema.parse({});

/** The field that keeps a device's own time on a reading stamped with its receipt. */
export const ORIGINAL_TS_FIELD = 'ts_original';

/** Why a reading's time is refused, or null when it is within the bounds. */
export function timeProblem(
  p: Pick<Point, 'ts' | 'receivedAt'>,
  t: IngestConfig['timestamps'],
): string | null {
  if (!Number.isFinite(p.ts)) return `ts is not a time: ${p.ts}`;
  const ahead = p.ts - p.receivedAt;
  if (ahead > t.maxFuture)
    return `ts ${describe(p.ts)} is ${human(ahead)} ahead of its receipt (ingest.timestamps.maxFuture: ${human(t.maxFuture)})`;
  const behind = p.receivedAt - p.ts;
  if (behind > t.maxPast)
    return `ts ${describe(p.ts)} is ${human(behind)} before its receipt (ingest.timestamps.maxPast: ${human(t.maxPast)})`;
  return null;
}

function describe(ts: number): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
}

/** A rounded duration: `1h` for 59 min 59.9 s (a time taken a few ms before it was compared). */
function human(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (Math.round(ms / (size / 60)) >= 60) return `${Math.round(ms / size)}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}
