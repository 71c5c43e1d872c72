import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { BenchEnv } from './env.js';
import { BENCH_KEY, type RunningGateway } from './gateway.js';
import { forwarded, settle, startFaultline } from './ingest-case.js';
import { procSample, sleep, spawnScript, wallNow } from './procs.js';
import type { PublisherOptions, PublisherResult } from './publisher.js';
import { percentile } from './report.js';
import { seedTickets, seedTicketsPg } from './seed.js';

/** Starts the load process at a fixed rate; resolves with its result when it is done. */
export function publishAtRate(o: PublisherOptions): { done: Promise<PublisherResult> } {
  const child = spawnScript('publisher', o);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const done = new Promise<PublisherResult>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop() as string) as PublisherResult);
      else reject(new Error(`publisher exited ${code}: ${err}`));
    });
  });
  return { done };
}

/** The fleet of the fixed-rate parts (latency, API, drain, soak). */
const FLEET = 10_000;

/**
 * Runs `fn` against a gateway of its own (embedded broker, QoS 1, 100 rules, its own InfluxDB
 * database `bench_<name>` and data directory), stopped afterwards whatever happens. The fleet has
 * been seen once first (one reading per device, as in the ingest cases): what is measured is the
 * steady state, not 10,000 devices registering and coming online.
 */
export async function withGateway<T>(
  env: BenchEnv,
  name: string,
  fn: (gw: RunningGateway) => Promise<T>,
  o: { apiWorker?: boolean; postgresUrl?: string } = {},
): Promise<T> {
  const db = await env.database(`bench_${name}`);
  const gw = await startFaultline(env, name, db, { target: 'faultline-embedded', qos: 1, rules: 100, ...o });
  try {
    const before = await forwarded(gw);
    await toFleet(gw, {
      window: 1_000,
      rate: 0,
      messages: FLEET,
      anomalyEvery: 0,
      tsBase: Date.now() - 600_000,
    }).done;
    await settle(() => forwarded(gw), before + FLEET, 5_000, 60_000);
    await sleep(1_000);
    // The fleet coming online is 10,000 device.online events: measured once they are all stored.
    await quiet(gw.pid);
    return await fn(gw);
  } finally {
    await gw.stop();
  }
}

/** Waits (up to 2 min) until the process used under 10 % of a core over half a second. */
async function quiet(pid: number): Promise<void> {
  const end = wallNow() + 120_000;
  for (let prev = procSample(pid).cpuSeconds; wallNow() < end; ) {
    await sleep(500);
    const now = procSample(pid).cpuSeconds;
    if (now - prev < 0.05) return;
    prev = now;
  }
}

/** QoS 1 readings from the 10,000-device fleet to the gateway's embedded broker. */
function toFleet(
  gw: RunningGateway,
  o: Omit<PublisherOptions, 'url' | 'qos' | 'devices'>,
): { done: Promise<PublisherResult> } {
  return publishAtRate({ url: gw.mqttUrl as string, qos: 1, devices: FLEET, ...o });
}

/**
 * Readings at a fixed rate from the fleet, stamped with the time they are sent (live equipment: the
 * rules' timers for held thresholds and windows run).
 */
export function steadyLoad(
  gw: RunningGateway,
  o: { rate: number; messages: number; anomalyEvery: number; anomaliesFrom?: number },
): { done: Promise<PublisherResult> } {
  return toFleet(gw, { window: 5_000, tsBase: 0, liveTs: true, ...o });
}

/** Reads `ticket.created` events from the gateway's SSE stream, noting when each arrives. */
function watchTickets(gw: RunningGateway): {
  stop(): void;
  arrivals: Map<string, number>;
  /** The ticket's `createdAt` (the gateway's clock — this machine's) by device. */
  created: Map<string, number>;
} {
  const arrivals = new Map<string, number>();
  const created = new Map<string, number>();
  const ctl = new AbortController();
  void (async () => {
    const res = await fetch(`${gw.apiUrl}/api/v1/events?types=ticket.created`, {
      headers: { authorization: `Bearer ${BENCH_KEY}` },
      signal: ctl.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const at = wallNow();
      buf += dec.decode(value, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) {
          const e = JSON.parse(data.slice(6)) as {
            data: { deviceId: string; ruleId: string | null; createdAt: string };
          };
          if (e.data.ruleId?.endsWith('-overheat')) {
            arrivals.set(e.data.deviceId, at);
            created.set(e.data.deviceId, Date.parse(e.data.createdAt));
          }
        }
        i = buf.indexOf('\n\n');
      }
    }
  })().catch(() => undefined);
  return { stop: () => ctl.abort(), arrivals, created };
}

export interface LatencyResult {
  rate: number;
  seconds: number;
  samples: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** p99 of the two parts: publish → the ticket created in the gateway, and created → on the SSE client. */
  p99ToCreated: number;
  p99CreatedToClient: number;
}

/** Seconds of load at the same rate, without anomalies, before the measured ones. */
const LEAD_IN_SECONDS = 5;

/**
 * Anomaly → ticket: the load process publishes at `rate` with 1 % anomalies (each on a device
 * without an open ticket); the latency is from the anomaly's publish to the `ticket.created` event
 * reaching an SSE client — what a dispatcher's screen sees. The anomalies start after
 * LEAD_IN_SECONDS of the same load: the steady state, not the step from idle to 80 % (the first two
 * seconds after the step run at 100 %, a third of it GC while the heap grows back).
 */
export async function runLatencyCase(env: BenchEnv, rate: number, seconds: number): Promise<LatencyResult> {
  return withGateway(env, 'latency', async (gw) => {
    const watch = watchTickets(gw);
    await sleep(200);
    const lead = Math.round(rate * LEAD_IN_SECONDS);
    const messages = lead + Math.round(rate * seconds);
    const pub = await steadyLoad(gw, { rate, messages, anomalyEvery: 100, anomaliesFrom: lead }).done;
    await settle(async () => watch.arrivals.size, new Set(pub.anomalies.map(([d]) => d)).size, 5_000, 60_000);
    watch.stop();
    const first = new Map<string, number>();
    for (const [d, t] of pub.anomalies) if (!first.has(d)) first.set(d, t);
    const lat: number[] = [];
    const toCreated: number[] = [];
    const toClient: number[] = [];
    // BENCH_LATENCY_DUMP=<file>: each anomaly as a line — publish time (epoch ms), publish → created,
    // created → SSE (ms) — to see when the slow ones came (beside the gateway's own log of the time).
    const dump: string[] = [];
    for (const [d, t] of first) {
      const at = watch.arrivals.get(d);
      const created = watch.created.get(d);
      if (at === undefined) continue;
      lat.push(at - t);
      if (created !== undefined && Number.isFinite(created)) {
        toCreated.push(created - t);
        toClient.push(at - created);
        dump.push(`${t}\t${created - t}\t${at - created}`);
      }
    }
    if (process.env.BENCH_LATENCY_DUMP) writeFileSync(process.env.BENCH_LATENCY_DUMP, `${dump.join('\n')}\n`);
    return {
      rate: messages / ((pub.endedAt - pub.startedAt) / 1000),
      seconds,
      samples: lat.length,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      p999: percentile(lat, 99.9),
      max: Math.max(...lat),
      p99ToCreated: percentile(toCreated, 99),
      p99CreatedToClient: percentile(toClient, 99),
    };
  });
}

export interface ApiResult {
  path: string;
  requests: number;
  rate: number;
  errors: number;
  non2xx: number;
  p50: number;
  p99: number;
}

/** autocannon at a fixed overall rate; latencies from every response, in ms with µs resolution. */
async function cannon(url: string, rate: number, seconds: number, paths: () => string): Promise<ApiResult> {
  const lat: number[] = [];
  let instance: autocannon.Instance | undefined;
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url,
        connections: 20,
        overallRate: rate,
        duration: seconds,
        headers: { authorization: `Bearer ${BENCH_KEY}` },
        requests: [{ setupRequest: (req) => ({ ...req, path: paths() }) }],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => lat.push(responseTime));
  });
  return {
    path: paths(),
    requests: r.requests.total,
    rate: r.requests.total / seconds,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
  };
}

/**
 * API latency over `tickets` stored tickets while the gateway ingests at `ingestRate`: a ticket by
 * id, then a 50-row filtered list, each at `rate` requests/s.
 */
export async function runApiCase(
  env: BenchEnv,
  o: { tickets: number; rate: number; ingestRate: number; seconds: number },
): Promise<{
  seeded: number;
  seedSeconds: number;
  ingestRate: number;
  /** Without ingest, then during ingest (the API on its worker thread, as shipped). */
  idle: { byId: ApiResult; list: ApiResult };
  loaded: { byId: ApiResult; list: ApiResult };
  /** During ingest with `api.worker: false`: the API and ingest on the one event loop. */
  mainThread: { byId: ApiResult; list: ApiResult; ingestRate: number };
}> {
  const devices = 10_000;
  const t0 = wallNow();
  await seedTickets(join(env.dir, 'api', 'data'), o.tickets, devices);
  const seedSeconds = (wallNow() - t0) / 1000;
  const both = (gw: RunningGateway) => ticketRequests(gw, o);
  /** Both request kinds while the gateway ingests at the half rate; with the ingest rate reached. */
  const duringIngest = async (gw: RunningGateway) => {
    const before = await forwarded(gw);
    const messages = Math.round(o.ingestRate * (2 * o.seconds + 6));
    const load = steadyLoad(gw, { rate: o.ingestRate, messages, anomalyEvery: 100 });
    await sleep(2_000);
    const r = await both(gw);
    const pub = await load.done;
    await settle(() => forwarded(gw), before + messages, 10_000, 60_000);
    return { ...r, ingestRate: pub.published / ((pub.endedAt - pub.startedAt) / 1000) };
  };
  const shipped = await withGateway(env, 'api', async (gw) => {
    const idle = await both(gw);
    const { ingestRate, ...loaded } = await duringIngest(gw);
    return { idle, loaded, ingestRate };
  });
  // The same tickets, the API on the main thread: what the worker takes off the ingest loop.
  const mainThread = await withGateway(env, 'api', duringIngest, { apiWorker: false });
  return { seeded: o.tickets, seedSeconds, ...shipped, mainThread };
}

const LISTS = [
  '/api/v1/tickets?status=open&limit=50',
  '/api/v1/tickets?priority=emergency&status=resolved,closed&limit=50',
  '/api/v1/tickets?team=field&faultType=thermal&limit=50',
  '/api/v1/tickets?deviceId=d00042&limit=50',
];

/** A ticket by id (random ids), then a 50-row filtered list (4 filters in turn), each at `rate` requests/s. */
async function ticketRequests(
  gw: RunningGateway,
  o: { tickets: number; rate: number; seconds: number },
): Promise<{ byId: ApiResult; list: ApiResult }> {
  let k = 0;
  const byId = await cannon(gw.apiUrl, o.rate, o.seconds, () => {
    k = (k * 7_919 + 13) % o.tickets;
    return `/api/v1/tickets/T-${k + 1}`;
  });
  let j = 0;
  const list = await cannon(gw.apiUrl, o.rate, o.seconds, () => LISTS[j++ % LISTS.length] as string);
  return { byId, list };
}

/**
 * The same API requests over the same `tickets` stored tickets, on state.db and on PostgreSQL
 * (issue 20), no ingest: what the shared store costs a reader.
 */
export async function runPgApiCase(
  env: BenchEnv,
  o: { tickets: number; rate: number; seconds: number },
): Promise<{
  seedSeconds: number;
  sqlite: { byId: ApiResult; list: ApiResult };
  postgres: { byId: ApiResult; list: ApiResult };
}> {
  if (!env.postgres) throw new Error('the PostgreSQL API case needs postgresql installed');
  const devices = 10_000;
  await seedTickets(join(env.dir, 'api-sqlite', 'data'), o.tickets, devices);
  const url = await env.postgres.createDatabase('bench_api');
  const t0 = wallNow();
  await seedTicketsPg(url, o.tickets, devices);
  const seedSeconds = (wallNow() - t0) / 1000;
  const sqlite = await withGateway(env, 'api-sqlite', (gw) => ticketRequests(gw, o));
  const postgres = await withGateway(env, 'api-postgres', (gw) => ticketRequests(gw, o), {
    postgresUrl: url,
  });
  return { seedSeconds, sqlite, postgres };
}

export interface DrainResult {
  ingestRate: number;
  outageSeconds: number;
  backlog: number;
  drainSeconds: number;
  drainRate: number;
}

/**
 * InfluxDB stops for `outage` seconds while readings keep arriving at `rate`; after it is back,
 * how fast the spool empties while live ingest goes on (readings shipped per second, backlog and
 * live together, from the first write after the outage until the backlog is gone).
 */
export async function runDrainCase(env: BenchEnv, rate: number, outage: number): Promise<DrainResult> {
  return withGateway(env, 'drain', async (gw) => {
    const total = Math.round(rate * (outage + 30));
    const load = steadyLoad(gw, { rate, messages: total, anomalyEvery: 0 });
    await sleep(3_000);
    await env.influx.stop();
    await sleep(outage * 1000);
    const spool = async () => (await gw.metrics()).get('faultline_spool_points') ?? 0;
    const written = async () => (await gw.metrics()).get('faultline_influx_lines_written_total') ?? 0;
    await env.influx.start();
    const before = await written();
    while ((await written()) === before) await sleep(20);
    const t0 = wallNow();
    const w0 = await written();
    const backlog = await spool();
    // Drained: what is left is the live trickle (under half a second of ingest).
    while ((await spool()) > rate / 2) await sleep(20);
    const t1 = wallNow();
    const w1 = await written();
    await load.done;
    return {
      ingestRate: rate,
      outageSeconds: outage,
      backlog,
      drainSeconds: (t1 - t0) / 1000,
      drainRate: (w1 - w0) / ((t1 - t0) / 1000),
    };
  });
}
