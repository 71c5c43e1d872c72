import { z } from 'zod';
import { duration } from '../lib/duration.js';
import { byteSize } from '../lib/size.js';

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'ids are 1-128 letters, digits, ".", "_", ":" or "-"');

/** A site: where equipment stands. `area` selects the SLA targets (own technicians or partner team). */
export const siteSchema = z
  .object({
    id,
    name: z.string().optional(),
    area: z.enum(['local', 'remote']).default('local'),
    timezone: z.string().default('UTC'),
    customer: z.string().optional(),
  })
  .strict();

/** A device's identity. How it is reached lives in the adapter that reads it. */
export const deviceSchema = z
  .object({
    id,
    name: z.string().optional(),
    model: z.string().optional(),
    site: z.string().optional(),
    customer: z.string().optional(),
    tags: z.record(z.string(), z.string()).default({}),
    /** Overrides connectivity.offlineAfter for this device (one that reports hourly, say). */
    offlineAfter: duration.optional(),
  })
  .strict();

export const postgresSchema = z
  .object({
    /** `postgres://user:password@host:5432/faultline` (better from `${FAULTLINE_DATABASE_URL}`). */
    url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'a URL postgres://user:password@host:port/database'),
    /** Connections this gateway keeps open. */
    poolSize: z.number().int().min(2).max(100).default(10),
    /** A statement running longer is cancelled. */
    statementTimeout: duration.prefault('30s'),
    /** TLS to the server; without it, `sslmode` in the URL decides. */
    tls: z
      .object({
        /** A PEM file of the CA that signed the server's certificate (default: the system's CAs). */
        ca: z.string().optional(),
        /** Check the server's certificate (only turn off for a test server). */
        verify: z.boolean().default(true),
      })
      .strict()
      .optional(),
  })
  .strict();
export type PostgresConfig = z.infer<typeof postgresSchema>;

/** When a device counts as offline without a source saying so. */
export const connectivitySchema = z
  .object({
    /** No reading for this long = offline (`0s` turns silence detection off). Per device: devices[].offlineAfter. */
    offlineAfter: duration.prefault('5m'),
  })
  .strict();

export const storageSchema = z
  .object({
    /** Where the SQLite files live (state.db for tickets/alerts/devices, spool.db for telemetry). */
    dataDir: z.string().default('./data'),
    /**
     * The durable spool of accepted readings (spool.db). Bounded: at either bound the oldest batches
     * are dropped, counted and logged. Without InfluxDB it keeps the latest raw readings, which are
     * shipped if InfluxDB is configured later.
     */
    spool: z
      .object({
        maxSize: byteSize.prefault('1GB'),
        maxAge: duration.prefault('7d'),
      })
      .strict()
      .prefault({}),
    /** Local history: per-minute rollups per device and metric (history.db). */
    history: z
      .object({ retention: duration.prefault('90d') })
      .strict()
      .prefault({}),
    deadLetters: z
      .object({
        /** Newest rejected payloads kept for inspection. */
        maxEntries: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({ maxEntries: 10_000 }),
    /**
     * Shared state in PostgreSQL (15 or newer) instead of state.db: tickets, alerts and rule state,
     * maintenance windows, the outbox, devices, dead letters, parts stock, API keys and preventive
     * schedules; several gateways may share one database (docs/deployment.md). The spool and the
     * history rollups stay local SQLite files. Also `FAULTLINE_DATABASE_URL`.
     */
    postgres: postgresSchema.optional(),
  })
  .strict();

export type SiteConfig = z.infer<typeof siteSchema>;
export type DeviceConfig = z.infer<typeof deviceSchema>;
export type StorageConfig = z.infer<typeof storageSchema>;

export const DEFAULT_SITE: SiteConfig = {
  id: 'default',
  name: 'Default site',
  area: 'local',
  timezone: 'UTC',
};
