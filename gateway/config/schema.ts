import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { adapterSchema, modelSchema } from '../../adapters/index.js';
import { mqttSectionSchema } from '../../adapters/mqtt/config.js';
import { ingestSchema } from '../../ingest/admission.js';
import { connectivitySchema, deviceSchema, siteSchema, storageSchema } from '../../ingest/config.js';
import { influxSchema } from '../../ingest/influx/config.js';
import { authFailuresSchema } from '../../lib/auth-throttle.js';
import { duration } from '../../lib/duration.js';
import { byteSize } from '../../lib/size.js';
import { notificationsSchema } from '../../notify/config.js';
import { partsSchema } from '../../parts/config.js';
import { DEFAULT_FAULT_TYPES } from '../../rules/schema.js';
import { recurringWindowSchema } from '../../rules/silences.js';
import { customerSchema } from '../../tickets/customers.js';
import { preventiveScheduleSchema } from '../../tickets/preventive.js';
import { routingSchema, teamSchema } from '../../tickets/routing.js';
import { slaSchema } from '../../tickets/sla-policy.js';

const isCidr = (a: string) => {
  try {
    ipaddr.parseCIDR(a);
    return true;
  } catch {
    return false;
  }
};

export const apiSchema = z
  .object({
    /** Loopback by default; `0.0.0.0` to serve the network (every route but the public ones needs a key). */
    host: z.string().default('127.0.0.1'),
    /** 0 = any free port. */
    port: z.number().int().min(0).max(65535).default(8080),
    /**
     * An admin key (at least 16 characters; better `FAULTLINE_API_KEY`). Stored hashed like every other
     * key. Without it and without any key, the first start makes an admin key and prints it once.
     */
    adminKey: z.string().min(16).optional(),
    /** `/metrics` without a key (for a Prometheus that scrapes without credentials). */
    metricsPublic: z.boolean().default(false),
    /** Requests per key (or per address, without one) in each window; over it: 429. */
    rateLimit: z
      .object({ max: z.number().int().positive().default(1200), window: duration.prefault('1m') })
      .strict()
      .prefault({}),
    /** The largest request body accepted. */
    bodyLimit: byteSize.prefault('1MB'),
    /**
     * Failed authentication per client address: after `maxFailures` within `window`, its requests
     * are answered 429 for `block` without their keys being checked (docs/security.md).
     */
    authFailures: authFailuresSchema.prefault({}),
    /** Live event streams (`GET /api/v1/events`) open at once: per key, and in all; over it: 429. */
    streams: z
      .object({ perKey: z.number().int().min(1).default(20), total: z.number().int().min(1).default(1_000) })
      .strict()
      .prefault({}),
    /**
     * Serve HTTP from a worker thread: reads (tickets, lists, statistics, technicians, the event
     * stream) answer from its own SQLite connections while ingest keeps the main thread busy; the
     * other routes are passed to the main thread. `false`: everything on the main thread.
     */
    worker: z.boolean().default(true),
    /**
     * Console sign-in sessions: one ends after `idle` without a request, and `absolute` after
     * sign-in whatever its use (a shift, by default).
     */
    sessions: z
      .object({
        idle: duration.pipe(z.number().min(60_000, 'at least 1m')).prefault('2h'),
        absolute: duration.pipe(z.number().min(60_000, 'at least 1m')).prefault('12h'),
      })
      .strict()
      .prefault({}),
    /**
     * Reverse proxies in front of the API (addresses or CIDR ranges): their `X-Forwarded-For` and
     * `X-Forwarded-Proto` are believed — client addresses for rate limits and sign-in throttling,
     * and HTTPS for Secure session cookies. Empty: no header is believed.
     */
    trustProxy: z
      .array(
        z
          .string()
          .refine(
            (a) => ipaddr.isValid(a) || isCidr(a),
            'an IP address or a CIDR range (e.g. 10.0.0.5 or 10.0.0.0/24)',
          ),
      )
      .default([]),
  })
  .strict();

export const logSchema = z
  .object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .strict();

export const rulesSectionSchema = z
  .object({
    /** Globs of rule files, relative to the config file. */
    files: z.array(z.string().min(1)).default([]),
    /** Reload when a rule file changes (besides SIGHUP and `POST /api/v1/rules/reload`). */
    watch: z.boolean().default(true),
    /**
     * How often evaluation state is saved to state.db, so that a restart resumes it: transitions
     * (a condition starting to hold for `for`, firing, resolving) at the next save, the running
     * memory of windows and baselines every sixth save, everything at a graceful stop. A crash loses
     * at most six intervals of samples; alerts themselves are saved as they change.
     */
    stateSaveInterval: duration.pipe(z.number().min(1_000, 'at least 1s')).prefault('10s'),
    /** The fault types tickets may have (a rule naming another is an error); routing uses them. */
    faultTypes: z
      .array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'fault types are lower-case words'))
      .min(1)
      .default([...DEFAULT_FAULT_TYPES]),
  })
  .strict();

/**
 * The whole configuration file. Each section's schema belongs to the folder that uses it; this is
 * where they meet. Unknown keys are errors everywhere.
 */
export const configSchema = z
  .object({
    api: apiSchema.prefault({}),
    log: logSchema.prefault({}),
    storage: storageSchema.prefault({}),
    mqtt: mqttSectionSchema.prefault({}),
    /** Connections to equipment and brokers: `protocol: mqtt` (client mode), later opcua, modbus. */
    adapters: z.array(adapterSchema).default([]),
    /** Reusable per-model settings, by model id (Modbus register maps under `modbus`). */
    models: z.record(z.string().min(1), modelSchema).default({}),
    /** Optional: where accepted readings are shipped. Without it, history comes from local rollups. */
    influx: influxSchema.optional(),
    /** Customer records with their contacts; sites and devices name their customer by id. */
    customers: z.array(customerSchema).default([]),
    sites: z.array(siteSchema).default([]),
    devices: z.array(deviceSchema).default([]),
    connectivity: connectivitySchema.prefault({}),
    /** What readings may enter: time bounds, devices that register themselves. */
    ingest: ingestSchema.prefault({}),
    rules: rulesSectionSchema.prefault({}),
    /** Recurring maintenance windows: alerts recorded, no tickets opened. */
    maintenance: z.array(recurringWindowSchema).default([]),
    sla: slaSchema.prefault({}),
    /** Maintenance teams (own and partner) with skills, areas and technicians: where tickets go. */
    teams: z.array(teamSchema).default([]),
    /** Preventive maintenance schedules: tickets `notice` before each visit, and a maintenance window. */
    preventive: z.array(preventiveScheduleSchema).default([]),
    routing: routingSchema.prefault({}),
    /** Spare parts: stock locations, the catalogue with suppliers, opening stock. */
    parts: partsSchema.prefault({}),
    /** Live events (SSE) and webhooks: retention and retries. */
    notifications: notificationsSchema.prefault({}),
    /** On SIGTERM/SIGINT: how long stopping may take before the process exits anyway (code 1). */
    shutdown: z
      .object({ timeout: duration.prefault('10s') })
      .strict()
      .prefault({}),
  })
  .strict();

/** Raw shape of the cross-referenced parts, checked even when other parts are invalid. */
interface RawRefs {
  routing?: unknown;
  customers?: unknown;
  sites?: unknown;
  devices?: unknown;
  adapters?: unknown;
  models?: unknown;
  maintenance?: unknown;
  teams?: unknown;
  sla?: unknown;
  rules?: unknown;
}

/**
 * Cross-references (duplicate ids, devices at unknown sites). Works on the raw input so that these
 * errors are reported together with every other one.
 */
export function crossCheck(raw: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const r = (raw && typeof raw === 'object' ? raw : {}) as RawRefs;
  const idOf = (x: unknown, key: 'id' | 'site') =>
    x && typeof x === 'object' && typeof (x as Record<string, unknown>)[key] === 'string'
      ? ((x as Record<string, unknown>)[key] as string)
      : undefined;
  const siteIds = new Set<string>(['default']);
  (Array.isArray(r.sites) ? r.sites : []).forEach((s, i) => {
    const id = idOf(s, 'id');
    if (id === undefined) return;
    if (siteIds.has(id) && id !== 'default')
      out.push({ path: ['sites', i, 'id'], message: `duplicate site id "${id}"` });
    siteIds.add(id);
  });
  // Once customer records exist, every customer a site or device names must be one of them.
  const customerIds = new Set<string>();
  const customers = Array.isArray(r.customers) ? r.customers : [];
  customers.forEach((c, i) => {
    const id = idOf(c, 'id');
    if (id === undefined) return;
    if (customerIds.has(id))
      out.push({ path: ['customers', i, 'id'], message: `duplicate customer id "${id}"` });
    customerIds.add(id);
    const contacts = (c as { contacts?: unknown }).contacts;
    (Array.isArray(contacts) ? contacts : []).forEach((p, j) => {
      const sites = p && typeof p === 'object' ? (p as { sites?: unknown }).sites : undefined;
      (Array.isArray(sites) ? sites : []).forEach((site, k) => {
        if (typeof site === 'string' && !siteIds.has(site))
          out.push({
            path: ['customers', i, 'contacts', j, 'sites', k],
            message: `unknown site "${site}" (sites: ${[...siteIds].join(', ')})`,
          });
      });
    });
  });
  const checkCustomer = (x: unknown, path: (string | number)[]) => {
    const c = x && typeof x === 'object' ? (x as { customer?: unknown }).customer : undefined;
    if (customers.length && typeof c === 'string' && !customerIds.has(c))
      out.push({ path, message: `unknown customer "${c}" (customers: ${[...customerIds].join(', ')})` });
  };
  (Array.isArray(r.sites) ? r.sites : []).forEach((s, i) => {
    checkCustomer(s, ['sites', i, 'customer']);
  });
  (Array.isArray(r.devices) ? r.devices : []).forEach((d, i) => {
    checkCustomer(d, ['devices', i, 'customer']);
  });
  const adapterIds = new Set<string>(['mqtt-embedded']);
  const models =
    r.models && typeof r.models === 'object' ? (r.models as Record<string, { modbus?: unknown }>) : {};
  (Array.isArray(r.adapters) ? r.adapters : []).forEach((a, i) => {
    const id = idOf(a, 'id');
    if (id !== undefined) {
      if (adapterIds.has(id))
        out.push({ path: ['adapters', i, 'id'], message: `duplicate adapter id "${id}"` });
      adapterIds.add(id);
    }
    const devs = (a as { devices?: unknown }).devices;
    (Array.isArray(devs) ? devs : []).forEach((d, j) => {
      const model = d && typeof d === 'object' ? (d as { model?: unknown }).model : undefined;
      if (typeof model !== 'string') return;
      if (!(model in models)) {
        const known = Object.keys(models).join(', ') || 'none';
        out.push({
          path: ['adapters', i, 'devices', j, 'model'],
          message: `unknown model "${model}" (models: ${known})`,
        });
      } else if ((a as { protocol?: unknown }).protocol === 'modbus' && !models[model]?.modbus) {
        out.push({
          path: ['adapters', i, 'devices', j, 'model'],
          message: `model "${model}" has no modbus register map`,
        });
      }
    });
  });
  const deviceIds = new Set<string>();
  (Array.isArray(r.devices) ? r.devices : []).forEach((d, i) => {
    const id = idOf(d, 'id');
    if (id !== undefined) {
      if (deviceIds.has(id)) out.push({ path: ['devices', i, 'id'], message: `duplicate device id "${id}"` });
      deviceIds.add(id);
    }
    const site = idOf(d, 'site');
    if (site !== undefined && !siteIds.has(site)) {
      out.push({
        path: ['devices', i, 'site'],
        message: `unknown site "${site}" (sites: ${[...siteIds].join(', ')})`,
      });
    }
  });
  const calendars = new Set(['24x7']);
  const sla = r.sla && typeof r.sla === 'object' ? (r.sla as { calendars?: unknown }) : {};
  if (sla.calendars && typeof sla.calendars === 'object')
    for (const k of Object.keys(sla.calendars)) calendars.add(k);
  const rulesSection = r.rules && typeof r.rules === 'object' ? (r.rules as { faultTypes?: unknown }) : {};
  const faultTypes = new Set<string>(
    Array.isArray(rulesSection.faultTypes) ? (rulesSection.faultTypes as string[]) : DEFAULT_FAULT_TYPES,
  );
  const teamIds = new Set<string>();
  (Array.isArray(r.teams) ? r.teams : []).forEach((t, i) => {
    const id = idOf(t, 'id');
    if (id !== undefined) {
      if (teamIds.has(id)) out.push({ path: ['teams', i, 'id'], message: `duplicate team id "${id}"` });
      teamIds.add(id);
    }
    const team = (t && typeof t === 'object' ? t : {}) as {
      skills?: unknown;
      technicians?: unknown;
      sites?: unknown;
    };
    const skills = (s: unknown, path: (string | number)[]) =>
      (Array.isArray(s) ? s : []).forEach((k, j) => {
        const name = k && typeof k === 'object' ? (k as { skill?: unknown }).skill : k;
        if (typeof name === 'string' && !faultTypes.has(name))
          out.push({
            path: k && typeof k === 'object' ? [...path, j, 'skill'] : [...path, j],
            message: `unknown fault type "${name}" (rules.faultTypes: ${[...faultTypes].join(', ')})`,
          });
      });
    skills(team.skills, ['teams', i, 'skills']);
    (Array.isArray(team.sites) ? team.sites : []).forEach((site, j) => {
      if (typeof site === 'string' && !siteIds.has(site))
        out.push({
          path: ['teams', i, 'sites', j],
          message: `unknown site "${site}" (sites: ${[...siteIds].join(', ')})`,
        });
    });
    (Array.isArray(team.technicians) ? team.technicians : []).forEach((p, j) => {
      const person = (p && typeof p === 'object' ? p : {}) as { onCall?: unknown; skills?: unknown };
      skills(person.skills, ['teams', i, 'technicians', j, 'skills']);
      if (typeof person.onCall === 'string' && !calendars.has(person.onCall))
        out.push({
          path: ['teams', i, 'technicians', j, 'onCall'],
          message: `unknown calendar "${person.onCall}" (sla.calendars: ${[...calendars].join(', ')})`,
        });
    });
  });
  const reqs =
    r.routing && typeof r.routing === 'object'
      ? (r.routing as { requirements?: unknown }).requirements
      : undefined;
  if (reqs && typeof reqs === 'object')
    for (const k of Object.keys(reqs))
      if (!faultTypes.has(k))
        out.push({
          path: ['routing', 'requirements', k],
          message: `unknown fault type "${k}" (rules.faultTypes: ${[...faultTypes].join(', ')})`,
        });
  const windowIds = new Set<string>();
  (Array.isArray(r.maintenance) ? r.maintenance : []).forEach((w, i) => {
    const id = idOf(w, 'id');
    if (id !== undefined) {
      if (windowIds.has(id))
        out.push({ path: ['maintenance', i, 'id'], message: `duplicate window id "${id}"` });
      windowIds.add(id);
    }
    const sites = w && typeof w === 'object' ? (w as { sites?: unknown }).sites : undefined;
    (Array.isArray(sites) ? sites : []).forEach((site, j) => {
      if (typeof site === 'string' && !siteIds.has(site))
        out.push({
          path: ['maintenance', i, 'sites', j],
          message: `unknown site "${site}" (sites: ${[...siteIds].join(', ')})`,
        });
    });
  });
  return out;
}

export type Config = z.output<typeof configSchema>;
