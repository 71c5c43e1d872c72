import { FLUSH_SLICE, inSlices } from '../lib/slices.js';
import { isTime } from '../lib/time.js';
import type { DeviceConfig, SiteConfig } from './config.js';
import { DEFAULT_SITE } from './config.js';
import type { FieldValue, Point } from './point.js';
import type { DeviceStore } from './store.js';

export interface LastValue {
  value: FieldValue;
  ts: number;
}

/**
 * Last values live in objects of two classes, numbers in one and anything else in the other: in
 * objects of one shape, a single boolean metric anywhere made V8 store every value boxed, and each
 * reading's numbers became new heap numbers held until the device's next reading (issue 19). In
 * its own shape a number is written in place. Both are `{ value, ts }` to everything else.
 */
class NumberValue implements LastValue {
  constructor(
    public value: number,
    public ts: number,
  ) {}
}

class OtherValue implements LastValue {
  constructor(
    public value: FieldValue,
    public ts: number,
  ) {}
}

/** A last value in the object that suits its type. */
export function lastValue(value: FieldValue, ts: number): LastValue {
  return typeof value === 'number' ? new NumberValue(value, ts) : new OtherValue(value, ts);
}

/** The last values in objects that suit their types (as loaded or merged: plain objects). */
function ownLastValues(values: Record<string, LastValue>): Record<string, LastValue> {
  const out: Record<string, LastValue> = {};
  for (const [k, v] of Object.entries(values)) out[k] = lastValue(v.value, v.ts);
  return out;
}

export interface Device {
  id: string;
  name: string;
  model: string | null;
  site: string;
  customer: string | null;
  tags: Record<string, string>;
  /** False for a device registered on first sight (not in the configuration). */
  configured: boolean;
  firstSeenAt: number | null;
  lastSeenAt: number | null;
  lastValues: Record<string, LastValue>;
  /** Codes active in the last reading that reported codes. */
  activeErrorCodes: string[];
  /** Units of metrics, as the source stated them. */
  units?: Record<string, string>;
  /** Online or offline, since when, and why (the last connectivity change). */
  connectivity: Connectivity;
  /** This device's silence limit, when it has its own. */
  offlineAfterMs?: number;
}

export interface Connectivity {
  state: 'online' | 'offline' | 'unknown';
  since: number | null;
  reason: string | null;
}

const UNKNOWN: Connectivity = { state: 'unknown', since: null, reason: null };

/** The customer a device belongs to: its own, else its site's. */
export function customerOf(d: Pick<Device, 'customer'>, site: Pick<SiteConfig, 'customer'>): string | null {
  return d.customer ?? site.customer ?? null;
}

/** A device known only by its id (and the attributes given): nothing seen of it yet. */
export function newDevice(
  id: string,
  attrs: Partial<Pick<Device, 'name' | 'model' | 'site' | 'customer' | 'tags' | 'configured'>> = {},
): Device {
  return {
    id,
    name: attrs.name ?? id,
    model: attrs.model ?? null,
    site: attrs.site ?? 'default',
    customer: attrs.customer ?? null,
    tags: attrs.tags ?? {},
    configured: attrs.configured ?? false,
    firstSeenAt: null,
    lastSeenAt: null,
    lastValues: {},
    activeErrorCodes: [],
    connectivity: { ...UNKNOWN },
  };
}

/** Stored times further ahead than this are a bad clock's leftovers, not the device's last state. */
const STORED_FUTURE_SLACK_MS = 86_400_000;

/**
 * A stored device without times that could not have been right: written before timestamps were
 * checked at the edge (issue 18), a last value from the year 2200 would keep every newer reading
 * from ever replacing it, and one outside a Date's range would fail every view of the device.
 */
export function withoutImpossibleTimes(d: Device, now: number): Device {
  const ok = (t: number | null) => t !== null && isTime(t) && t <= now + STORED_FUTURE_SLACK_MS;
  const lastValues: Record<string, LastValue> = {};
  for (const [k, v] of Object.entries(d.lastValues)) if (ok(v.ts)) lastValues[k] = lastValue(v.value, v.ts);
  return {
    ...d,
    lastValues,
    firstSeenAt: ok(d.firstSeenAt) ? d.firstSeenAt : null,
    lastSeenAt: ok(d.lastSeenAt) ? d.lastSeenAt : null,
    connectivity: ok(d.connectivity.since) ? d.connectivity : { ...UNKNOWN },
  };
}

/** Source of the readings the gateway itself makes when a device falls silent or comes back. */
export const CONNECTIVITY_SOURCE = 'connectivity';

/**
 * Devices by id with the last value of every series, in memory. Configured devices come from the
 * config; others are registered on first sight with the default site. Persisted in the background.
 */
export class DeviceRegistry {
  private readonly devices = new Map<string, Device>();
  private readonly sites = new Map<string, SiteConfig>();
  private readonly dirty = new Set<string>();
  private readonly defaultSite: SiteConfig;

  constructor(
    private readonly store: DeviceStore,
    sites: readonly SiteConfig[],
    private readonly configured: readonly DeviceConfig[],
  ) {
    for (const s of sites) this.sites.set(s.id, s);
    // Devices seen before being configured go to the `default` site (configurable as a site with that id).
    this.defaultSite = this.sites.get('default') ?? DEFAULT_SITE;
    if (!this.sites.has(this.defaultSite.id)) this.sites.set(this.defaultSite.id, this.defaultSite);
  }

  /** Loads persisted devices, then applies the configuration (config wins for identity). */
  async load(): Promise<void> {
    for (const d of await this.store.loadAll())
      this.devices.set(d.id, { ...withoutImpossibleTimes(d, Date.now()), configured: false });
    for (const c of this.configured) {
      const prev = this.devices.get(c.id);
      this.devices.set(c.id, {
        id: c.id,
        name: c.name ?? c.id,
        model: c.model ?? null,
        site: c.site ?? this.defaultSite.id,
        customer: c.customer ?? null,
        tags: c.tags,
        configured: true,
        firstSeenAt: prev?.firstSeenAt ?? null,
        lastSeenAt: prev?.lastSeenAt ?? null,
        lastValues: prev?.lastValues ?? {},
        activeErrorCodes: prev?.activeErrorCodes ?? [],
        units: prev?.units ?? {},
        connectivity: prev?.connectivity ?? { ...UNKNOWN },
        ...(c.offlineAfter !== undefined ? { offlineAfterMs: c.offlineAfter } : {}),
      });
      this.dirty.add(c.id);
    }
  }

  get(id: string): Device | undefined {
    return this.devices.get(id);
  }

  /** Devices that registered themselves (seen, not configured): capped by `ingest.maxAutoRegistered`. */
  autoRegisteredCount(): number {
    return this.devices.size - this.configured.length;
  }

  list(): Device[] {
    return [...this.devices.values()];
  }

  /** The configured sites (and the default one). */
  siteList(): SiteConfig[] {
    return [...this.sites.values()];
  }

  site(id: string): SiteConfig {
    return this.sites.get(id) ?? this.defaultSite;
  }

  /**
   * The device a reading belongs to, registering it on first sight — in `siteHint` (a `{site}`
   * topic segment) when that names a configured site, else the default site.
   */
  resolve(id: string, siteHint?: string): Device {
    let d = this.devices.get(id);
    if (!d) {
      d = newDevice(id, {
        site: siteHint !== undefined && this.sites.has(siteHint) ? siteHint : this.defaultSite.id,
      });
      this.devices.set(id, d);
    }
    return d;
  }

  /**
   * Records a durable reading. A late reading (older than what is known) does not move last values
   * or last seen backwards.
   */
  observe(point: Point): Device {
    const d = this.resolve(point.deviceId, point.tags?.site);
    if (point.connectivity) {
      d.connectivity = {
        state: point.connectivity.state,
        since: point.ts,
        reason: point.connectivity.reason,
      };
    }
    // Silence-based offline readings are made by the gateway, not sent by the device.
    if (point.source === CONNECTIVITY_SOURCE) {
      this.dirty.add(d.id);
      return d;
    }
    d.firstSeenAt ??= point.receivedAt;
    if (d.lastSeenAt === null || point.receivedAt > d.lastSeenAt) d.lastSeenAt = point.receivedAt;
    for (const key in point.fields) {
      const v = point.fields[key] as FieldValue;
      const prev = d.lastValues[key];
      if (prev !== undefined && point.ts < prev.ts) continue;
      // In place when the type class is the same: nothing made per field and reading (the
      // registry owns these objects); a metric that changes type gets the other object.
      if (prev === undefined || (typeof v === 'number') !== prev instanceof NumberValue)
        d.lastValues[key] = lastValue(v, point.ts);
      else {
        prev.value = v;
        prev.ts = point.ts;
      }
    }
    if (point.errorCodes) d.activeErrorCodes = point.errorCodes;
    if (point.units) d.units = { ...d.units, ...point.units };
    this.dirty.add(d.id);
    return d;
  }

  /**
   * Takes in devices another instance saved (issue 20: every instance answers for every device):
   * unknown ones are added; known ones take the stored last values, connectivity and error codes
   * when the stored copy saw the device later. Nothing is marked to save: it is the other's news.
   */
  merge(stored: readonly Device[]): number {
    let changed = 0;
    for (const s of stored) {
      const d = this.devices.get(s.id);
      if (!d) {
        this.devices.set(s.id, { ...s, lastValues: ownLastValues(s.lastValues), configured: false });
        changed++;
        continue;
      }
      if ((s.lastSeenAt ?? -1) > (d.lastSeenAt ?? -1)) {
        d.lastSeenAt = s.lastSeenAt;
        d.firstSeenAt ??= s.firstSeenAt;
        for (const [key, v] of Object.entries(s.lastValues))
          if (!d.lastValues[key] || v.ts > (d.lastValues[key]?.ts ?? -1))
            d.lastValues[key] = lastValue(v.value, v.ts);
        d.activeErrorCodes = s.activeErrorCodes;
        d.units = { ...d.units, ...s.units };
        changed++;
      }
      if ((s.connectivity.since ?? -1) > (d.connectivity.since ?? -1)) d.connectivity = { ...s.connectivity };
    }
    return changed;
  }

  /**
   * Saves the changed devices, in slices with the event loop free between them (`paced`: readings
   * keep most of it, lib/slices.ts; the stop goes as fast as it can).
   */
  async flush(paced = true): Promise<void> {
    if (this.dirty.size === 0) return;
    const ids = [...this.dirty];
    this.dirty.clear();
    await inSlices(
      ids,
      FLUSH_SLICE,
      async (slice) => {
        const batch: Device[] = [];
        for (const id of slice) {
          const d = this.devices.get(id);
          if (d) batch.push(d);
        }
        try {
          await this.store.saveMany(batch);
        } catch (err) {
          // Saved at the next flush instead.
          for (const id of slice) this.dirty.add(id);
          throw err;
        }
      },
      paced,
    );
  }
}
