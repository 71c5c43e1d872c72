import { z } from 'zod';
import { duration } from '../../lib/duration.js';

const common = {
  /** Base URL of the server, e.g. http://influxdb:8086 or https://eu-central-1-1.aws.cloud2.influxdata.com */
  url: z.url({ protocol: /^https?$/ }),
  /** One request may take this long before it counts as failed and is retried. */
  timeout: duration.prefault('10s'),
  /** Compress request bodies (InfluxDB accepts gzip on every version). */
  gzip: z.boolean().default(true),
  /** Lines per write request; InfluxDB recommends about 5,000. */
  batchLines: z.number().int().min(1).max(100_000).default(5_000),
  /** How long readings may wait for a fuller batch before they are sent. */
  flushInterval: duration.prefault('1s'),
  /** Backoff between failed attempts: exponential from `min` to `max`, with jitter. */
  retry: z
    .object({ min: duration.prefault('1s'), max: duration.prefault('1m') })
    .strict()
    .prefault({}),
  /** Measurement of metrics and of device events (CONTRACTS.md schema). */
  measurement: z.string().min(1).default('telemetry'),
  eventsMeasurement: z.string().min(1).default('device_events'),
};

/** InfluxDB 2.x, 3.x, Cloud, and 1.8+ (its /api/v2/write compatibility endpoint). */
export const influxV2Schema = z
  .object({
    api: z.literal('v2'),
    ...common,
    token: z.string().default(''),
    org: z.string().default(''),
    /** For 1.8+: `database/retention-policy`. */
    bucket: z.string().min(1),
  })
  .strict();

/** InfluxDB 1.x through its /write endpoint. */
export const influxV1Schema = z
  .object({
    api: z.literal('v1'),
    ...common,
    database: z.string().min(1),
    retentionPolicy: z.string().min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
  })
  .strict();

export const influxSchema = z.discriminatedUnion('api', [influxV2Schema, influxV1Schema]);

export type InfluxConfig = z.output<typeof influxSchema>;
