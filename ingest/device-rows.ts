import type { Device } from './devices.js';

/**
 * A `devices` row as both stores read it: JSON columns as text (SQLite) or already parsed (JSONB),
 * times as numbers (SQLite) or BIGINT text.
 */
export interface DeviceRow {
  id: string;
  name: string;
  model: string | null;
  site: string;
  customer: string | null;
  tags: unknown;
  first_seen_at: number | string | null;
  last_seen_at: number | string | null;
  last_values: unknown;
  active_error_codes: unknown;
  units: unknown;
  connectivity: unknown;
}

/** Writes that commit late come again in `changedSince` for this long before the cursor. */
export const LATE_COMMITS_MS = 5_000;

/** A BIGINT read as text by `pg`, or a number from SQLite. */
const bigintOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export function deviceOf(r: DeviceRow): Device {
  return {
    id: r.id,
    name: r.name,
    model: r.model,
    site: r.site,
    customer: r.customer,
    tags: json<Record<string, string>>(r.tags),
    configured: false,
    firstSeenAt: bigintOrNull(r.first_seen_at),
    lastSeenAt: bigintOrNull(r.last_seen_at),
    lastValues: json<Device['lastValues']>(r.last_values),
    activeErrorCodes: json<string[]>(r.active_error_codes),
    units: json<Record<string, string>>(r.units),
    connectivity: json<Device['connectivity']>(r.connectivity),
  };
}
