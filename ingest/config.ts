import { z } from 'zod';
import { duration } from '../lib/duration.js';

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
  })
  .strict();

export const storageSchema = z
  .object({
    /** Where the SQLite files live (state.db for tickets/alerts/devices, spool.db for telemetry). */
    dataDir: z.string().default('./data'),
    telemetryLog: z
      .object({
        /** Batches older than this are pruned while no InfluxDB output ships them. */
        retention: duration.default(7 * 86_400_000), // 7 days
      })
      .strict()
      .default({ retention: 7 * 86_400_000 }),
    deadLetters: z
      .object({
        /** Newest rejected payloads kept for inspection. */
        maxEntries: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({ maxEntries: 10_000 }),
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
