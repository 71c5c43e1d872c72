import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from '../../test/servers/common.js';
import { startInfluxDB } from '../../test/servers/influxdb.js';
import { type MosquittoServer, startMosquitto } from '../../test/servers/mosquitto.js';
import { type PostgresServer, postgresBin, startPostgres } from '../../test/servers/postgres.js';
import { type BenchEnv, benchEnv } from './env.js';
import { type IngestCase, type IngestResult, runIngestCase } from './ingest-case.js';
import { type ApiResult, runApiCase, runDrainCase, runLatencyCase, runPgApiCase } from './load-cases.js';
import { fixed, int, table } from './report.js';
import { runSoak } from './soak.js';

export interface E2eOptions {
  messages: number;
  /** Substring filter on case labels (several: separated by `|`). */
  only?: string;
  /**
   * Runs of each ingest case, in rounds (every selected case once per round, so that a slow spell
   * of the machine hits the floor and Faultline alike); the table shows each case's median.
   */
  repeat?: number;
  /** Soak mode: only the soak, this many seconds. */
  soakSeconds?: number;
  /** Which parts run: ingest, latency, api, drain, postgres (the API on PostgreSQL; default all). */
  parts: Set<string>;
  /** Readings/s of the latency case (default: 80 % of the measured QoS 1 rate, 100 rules, 10k devices). */
  rated?: number;
  out: (s: string) => void;
}

export function label(c: IngestCase): string {
  const who =
    c.target === 'floor'
      ? 'hand-written floor (Mosquitto)'
      : c.target === 'faultline-mosquitto'
        ? 'Faultline (Mosquitto, client mode)'
        : 'Faultline (embedded broker)';
  const stock =
    (c.broker === 'stock' ? ', stock Mosquitto' : '') +
    (c.storage === 'postgres'
      ? `, PostgreSQL${(c.instances ?? 1) > 1 ? ` × ${c.instances} instances` : ''}`
      : '');
  if (c.workload === 'plant') {
    const rules = c.rules === 0 ? 'no rules' : 'flapping threshold rule';
    return `plant: ${who}${stock}, QoS ${c.qos}, ${rules}, ${int(c.devices)} devices`;
  }
  const rules = c.target === 'floor' ? 'no rules' : `${int(c.rules)} rules`;
  return `${who}${stock}, QoS ${c.qos}, ${rules}, ${int(c.devices)} devices`;
}

/** The end-to-end part of `npm run bench`. Returns false when it could not run. */
export async function runE2e(o: E2eOptions): Promise<boolean> {
  if (!findBinary('influxd')) {
    o.out('end-to-end cases skipped: influxd not found (apt-get install influxdb)\n');
    return false;
  }
  const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-e2e-'));
  const influx = await startInfluxDB('bench');
  let mosquitto: MosquittoServer | undefined;
  let stockMosquitto: MosquittoServer | undefined;
  if (findBinary('mosquitto')) {
    mosquitto = await startMosquitto('max_inflight_messages 1000\n', {
      persistence: false,
      maxQueuedMessages: 0,
    });
    // As installed: max_queued_messages 1000, max_inflight_messages 20 (Mosquitto's defaults).
    stockMosquitto = await startMosquitto('', { persistence: false, maxQueuedMessages: 1000 });
  } else o.out('Mosquitto cases skipped: mosquitto not found (apt-get install mosquitto)\n');
  let postgres: PostgresServer | undefined;
  if (postgresBin()) postgres = await startPostgres();
  else o.out('PostgreSQL cases skipped: postgresql not found (apt-get install postgresql)\n');
  const env = benchEnv(dir, influx, mosquitto, stockMosquitto, postgres);
  try {
    if (o.soakSeconds !== undefined) {
      await runSoak(env, { seconds: o.soakSeconds, rate: o.rated ?? 5_000, out: o.out });
      return true;
    }
    const n = o.messages;
    const cases: IngestCase[] = [];
    const add = (c: Omit<IngestCase, 'messages' | 'anomalyEvery'>) =>
      cases.push({ ...c, messages: n, anomalyEvery: c.target === 'floor' ? 0 : 100 });
    if (mosquitto) {
      add({ target: 'floor', qos: 0, rules: 0, devices: 1_000 });
      add({ target: 'faultline-mosquitto', qos: 0, rules: 100, devices: 1_000 });
      add({ target: 'faultline-mosquitto', qos: 1, rules: 100, devices: 1_000 });
    }
    // Rules at 1k devices, devices at 100 rules, each with QoS 0 and 1 (8 cases: the run stays
    // under 10 minutes on a 2-core machine).
    for (const qos of [0, 1] as const) {
      for (const rules of [10, 100, 1_000]) add({ target: 'faultline-embedded', qos, rules, devices: 1_000 });
      add({ target: 'faultline-embedded', qos, rules: 100, devices: 10_000 });
    }
    plantCases(cases, n, mosquitto !== undefined);
    if (postgres) postgresCases(cases, n, mosquitto !== undefined);
    const selected = cases.filter(
      (c) => o.parts.has('ingest') && (!o.only || o.only.split('|').some((part) => label(c).includes(part))),
    );
    const runs: IngestResult[][] = selected.map(() => []);
    const rounds = Math.max(1, o.repeat ?? 1);
    for (let round = 0; round < rounds; round++) {
      for (const [i, c] of selected.entries()) {
        // Each run its own gateway data and InfluxDB database.
        const r = await runIngestCase(env, c, round * cases.length + cases.indexOf(c));
        runs[i]?.push(r);
        process.stderr.write(`  ${label(c)}: ${int(r.pointsPerSecond)} points/s\n`);
      }
    }
    const results = runs.map(medianRun);
    if (results.length > 0) printIngest(results, o.out);
    if (rounds > 1) printRuns(selected, runs, o.out);
    if (o.only) return true;

    // The rated load: 80 % of what the gateway sustained with QoS 1, 100 rules, 10k devices.
    const ref = results.find(
      (r) =>
        r.c.target === 'faultline-embedded' && r.c.qos === 1 && r.c.rules === 100 && r.c.devices === 10_000,
    );
    const rated =
      o.rated ?? Math.max(1_000, Math.floor((0.8 * (ref?.pointsPerSecond ?? 5_000)) / 1_000) * 1_000);
    if (o.parts.has('latency')) await latencyPart(env, rated, o.out);
    if (o.parts.has('api')) await apiPart(env, rated, o.out);
    if (o.parts.has('drain')) await drainPart(env, rated, o.out);
    if (o.parts.has('postgres') && env.postgres) await pgApiPart(env, o.out);
    return true;
  } finally {
    await mosquitto?.cleanup();
    await stockMosquitto?.cleanup();
    await postgres?.cleanup();
    await influx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Issue 19's cases: the plant telemetry (100 devices, one threshold rule that keeps firing and
 * clearing), the same with no rules, and client mode on a stock Mosquitto, each beside a floor on
 * the same broker.
 */
function plantCases(cases: IngestCase[], n: number, withMosquitto: boolean): void {
  const base = { workload: 'plant', devices: 100, messages: n, anomalyEvery: 0 } as const;
  for (const qos of [0, 1] as const) {
    if (withMosquitto) {
      cases.push({ ...base, target: 'floor', qos, rules: 0 });
      cases.push({ ...base, target: 'faultline-mosquitto', qos, rules: 1 });
    }
    cases.push({ ...base, target: 'faultline-embedded', qos, rules: 1 });
  }
  if (withMosquitto) cases.push({ ...base, target: 'faultline-mosquitto', qos: 0, rules: 0 });
  cases.push({ ...base, target: 'faultline-embedded', qos: 0, rules: 0 });
  if (!withMosquitto) return;
  for (const qos of [0, 1] as const) {
    cases.push({ ...base, target: 'floor', qos, rules: 0, broker: 'stock' });
    cases.push({ ...base, target: 'faultline-mosquitto', qos, rules: 1, broker: 'stock' });
  }
}

/**
 * Issue 20's cases: the QoS 1, 100-rule, 1k-device burst with the shared state in PostgreSQL —
 * embedded broker, client mode, and client mode with two instances on one database (each receives
 * every reading, each device evaluated by one of them) — beside the same cases on state.db above.
 */
function postgresCases(cases: IngestCase[], n: number, withMosquitto: boolean): void {
  const base = {
    qos: 1,
    rules: 100,
    devices: 1_000,
    messages: n,
    anomalyEvery: 100,
    storage: 'postgres',
  } as const;
  cases.push({ ...base, target: 'faultline-embedded' });
  if (!withMosquitto) return;
  cases.push({ ...base, target: 'faultline-mosquitto' });
  cases.push({ ...base, target: 'faultline-mosquitto', instances: 2 });
}

async function latencyPart(env: BenchEnv, rated: number, out: (s: string) => void): Promise<void> {
  const o = { out };
  {
    process.stderr.write(`  latency at ${int(rated)} readings/s\n`);
    // BENCH_LATENCY_SECONDS: a longer window steadies the p99 (15 s catches one pause or none).
    const seconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
    const lat = await runLatencyCase(env, rated, seconds);
    o.out(
      `\nanomaly → ticket (embedded broker, QoS 1, 100 rules, 10,000 devices, 1 % anomalies after 5 s of the same load, at the rated ${int(rated)} readings/s for ${int(seconds)} s; publish → ticket.created on an SSE client):\n\n`,
    );
    o.out(
      table(
        [
          'offered readings/s',
          'tickets measured',
          'p50 ms',
          'p99 ms',
          'p99.9 ms',
          'max ms',
          'p99 publish → created ms',
          'p99 created → SSE ms',
        ],
        [
          [
            int(lat.rate),
            int(lat.samples),
            fixed(lat.p50),
            fixed(lat.p99),
            fixed(lat.p999),
            fixed(lat.max),
            fixed(lat.p99ToCreated),
            fixed(lat.p99CreatedToClient),
          ],
        ],
      ),
    );
  }
}

async function apiPart(env: BenchEnv, rated: number, out: (s: string) => void): Promise<void> {
  const o = { out };
  {
    process.stderr.write('  API latency over 100k tickets\n');
    const api = await runApiCase(env, {
      tickets: 100_000,
      rate: 2_000,
      ingestRate: Math.round(rated / 2),
      seconds: 10,
    });
    o.out(
      `\nAPI (autocannon, 20 connections, fixed 2,000 requests/s for 10 s each, over ${int(api.seeded)} stored tickets, first without ingest, then while ingesting ${int(api.ingestRate)} readings/s — the API on its worker thread as shipped — then again during ingest (${int(api.mainThread.ingestRate)} readings/s) with api.worker: false; seeding took ${fixed(api.seedSeconds)} s):\n\n`,
    );
    const runs = [
      ['GET /api/v1/tickets/:id (random ids), no ingest', api.idle.byId],
      ['GET /api/v1/tickets?<filter>&limit=50 (4 filters in turn), no ingest', api.idle.list],
      ['GET /api/v1/tickets/:id (random ids), during ingest', api.loaded.byId],
      ['GET /api/v1/tickets?<filter>&limit=50 (4 filters in turn), during ingest', api.loaded.list],
      ['GET /api/v1/tickets/:id, during ingest, api.worker: false', api.mainThread.byId],
      ['GET /api/v1/tickets?<filter>&limit=50, during ingest, api.worker: false', api.mainThread.list],
    ] as const;
    o.out(apiTable(runs));
  }
}

async function pgApiPart(env: BenchEnv, out: (s: string) => void): Promise<void> {
  process.stderr.write('  API over 100k tickets: state.db and PostgreSQL\n');
  const r = await runPgApiCase(env, { tickets: 100_000, rate: 2_000, seconds: 10 });
  out(
    `\nAPI on state.db and on PostgreSQL (autocannon, 20 connections, fixed 2,000 requests/s for 10 s each, over 100,000 stored tickets, no ingest; seeding PostgreSQL took ${fixed(r.seedSeconds)} s):\n\n`,
  );
  const rows = [
    ['GET /api/v1/tickets/:id, state.db', r.sqlite.byId],
    ['GET /api/v1/tickets/:id, PostgreSQL', r.postgres.byId],
    ['GET /api/v1/tickets?<filter>&limit=50, state.db', r.sqlite.list],
    ['GET /api/v1/tickets?<filter>&limit=50, PostgreSQL', r.postgres.list],
  ] as const;
  out(apiTable(rows));
}

/** API results, a row each: requests, rate, errors, latency. */
function apiTable(rows: readonly (readonly [string, ApiResult])[]): string {
  return table(
    ['request', 'requests', 'achieved req/s', 'errors', 'non-2xx', 'p50 ms', 'p99 ms'],
    rows.map(([label, x]) => [
      label,
      int(x.requests),
      int(x.rate),
      int(x.errors),
      int(x.non2xx),
      fixed(x.p50, 2),
      fixed(x.p99, 2),
    ]),
  );
}

async function drainPart(env: BenchEnv, rated: number, out: (s: string) => void): Promise<void> {
  const o = { out };
  {
    process.stderr.write('  spool drain after an InfluxDB outage\n');
    const drainRate = Math.round(rated / 2);
    const d = await runDrainCase(env, drainRate, 10);
    o.out(
      `\nspool drain (InfluxDB stopped for ${d.outageSeconds} s while ${int(d.ingestRate)} readings/s keep arriving, QoS 1, then started again):\n\n`,
    );
    o.out(
      table(
        ['backlog at restart', 'drain s', 'shipped/s while draining', 'vs live ingest'],
        [
          [
            int(d.backlog),
            fixed(d.drainSeconds, 2),
            int(d.drainRate),
            `${fixed(d.drainRate / d.ingestRate, 1)}x`,
          ],
        ],
      ),
    );
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * One row for several runs of a case: the median points/s and CPU per reading; the worst of what
 * must never happen (readings lost, the longest write gap, the peak RSS).
 */
function medianRun(runs: readonly IngestResult[]): IngestResult {
  const first = runs[0] as IngestResult;
  if (runs.length === 1) return first;
  const byRate = [...runs].sort((a, b) => a.pointsPerSecond - b.pointsPerSecond);
  const mid = byRate[byRate.length >> 1] as IngestResult;
  const worst = (f: (r: IngestResult) => number | null) =>
    runs.some((r) => f(r) !== null) ? Math.max(...runs.map((r) => f(r) ?? 0)) : null;
  return {
    ...mid,
    pointsPerSecond: median(runs.map((r) => r.pointsPerSecond)),
    cpuUsPerReading: median(runs.map((r) => r.cpuUsPerReading)),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    // The most readings any run lost (sent - stored).
    stored: mid.sent - Math.max(...runs.map((r) => r.sent - r.stored)),
    longestWriteGapS: worst((r) => r.longestWriteGapS),
  };
}

/** Each run's figures, under the table of medians. */
function printRuns(
  cases: readonly IngestCase[],
  runs: readonly IngestResult[][],
  out: (s: string) => void,
): void {
  out(`\nmedians of ${runs[0]?.length ?? 0} runs in rounds; each run's points/s (CPU µs/reading):\n\n`);
  for (const [i, c] of cases.entries())
    out(
      `- ${label(c)}: ${(runs[i] ?? []).map((r) => `${int(r.pointsPerSecond)} (${fixed(r.cpuUsPerReading, 1)})`).join(', ')}\n`,
    );
}

function printIngest(results: IngestResult[], out: (s: string) => void): void {
  {
    // Each case is compared with the floor of its own workload, broker and QoS (else the first).
    const floorOf = (r: IngestResult) =>
      results.find(
        (f) =>
          f.c.target === 'floor' &&
          (f.c.workload ?? 'fleet') === (r.c.workload ?? 'fleet') &&
          (f.c.broker ?? 'tuned') === (r.c.broker ?? 'tuned') &&
          (f.c.qos === r.c.qos || (r.c.workload ?? 'fleet') === 'fleet'),
      );
    const o = { out };
    o.out(
      table(
        [
          'ingest case (burst)',
          'readings',
          'in InfluxDB',
          's',
          'points/s',
          'vs floor',
          'CPU µs/reading',
          'CPU vs floor',
          'peak RSS MB',
          'longest write gap s',
          'lost',
          'alert transitions',
          'tickets',
          'tickets lag s',
        ],
        results.map((r) => {
          const floor = floorOf(r);
          return [
            label(r.c),
            int(r.sent),
            int(r.stored),
            fixed(r.seconds, 2),
            int(r.pointsPerSecond),
            floor && r !== floor ? `${fixed(r.pointsPerSecond / floor.pointsPerSecond, 2)}x` : '',
            fixed(r.cpuUsPerReading, 1),
            floor && r !== floor ? `${fixed(r.cpuUsPerReading / floor.cpuUsPerReading, 1)}x` : '',
            int(r.peakRssMb),
            r.longestWriteGapS === null ? '' : fixed(r.longestWriteGapS, 2),
            int(r.sent - r.stored),
            r.transitions === null ? '' : int(r.transitions),
            r.c.target === 'floor' ? '' : int(r.tickets),
            r.ticketsLagS === null ? '' : fixed(r.ticketsLagS, 1),
          ];
        }),
      ),
    );
  }
}
