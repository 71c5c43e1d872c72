import { join } from 'node:path';
import type { BenchEnv } from './env.js';
import { gatewayConfig, type RunningGateway, startGateway } from './gateway.js';
import { lines, procSample, runScript, sleep, spawnScript, threadCpu, until, wallNow } from './procs.js';
import type { PublisherOptions, PublisherResult } from './publisher.js';
import { plantRulesYaml, rulesYaml } from './workload.js';

export type Target = 'floor' | 'faultline-mosquitto' | 'faultline-embedded';

export interface IngestCase {
  target: Target;
  qos: 0 | 1;
  rules: number;
  devices: number;
  messages: number;
  /** 1 in n messages an anomaly (0 = none). */
  anomalyEvery: number;
  /** `fleet` (default): the 5-metric fleet; `plant`: issue 19's flapping telemetry and its one rule. */
  workload?: 'fleet' | 'plant';
  /** `stock`: Mosquitto with its default queue limits (client mode and the floor), which drops. */
  broker?: 'tuned' | 'stock';
  /** Where the shared state lives (default `sqlite`: state.db). */
  storage?: 'sqlite' | 'postgres';
  /** Gateways sharing that PostgreSQL, each subscribed to every reading (client mode; default 1). */
  instances?: number;
}

export interface IngestResult {
  c: IngestCase;
  /** Readings sent, and readings InfluxDB holds of them. */
  sent: number;
  stored: number;
  seconds: number;
  pointsPerSecond: number;
  /** CPU of the consuming process (gateway or floor) per reading, µs. */
  cpuUsPerReading: number;
  peakRssMb: number;
  /** Publisher side: QoS 1 readings acknowledged. */
  acked: number;
  tickets: number;
  /** How long after InfluxDB held every reading the ticket count still moved, seconds (Faultline only). */
  ticketsLagS: number | null;
  /** Longest time readings waited with no InfluxDB write (Faultline only), seconds. */
  longestWriteGapS: number | null;
  /** Alert transitions during the burst (Faultline only: faultline_alert_transitions_total). */
  transitions: number | null;
}

/** Time allowed for the last readings to reach InfluxDB after the publisher is done. */
const SETTLE_MS = 120_000;
/** How often the gateway is asked how far it got during a burst. */
const POLL_MS = 100;

interface Consumer {
  /** The consuming processes (two or more: several gateways on one PostgreSQL). */
  pids: number[];
  /** Readings the consumer has written to InfluxDB so far (accepted and not left in its spool). */
  written(): Promise<number>;
  tickets(): Promise<number>;
  /** When the newest ticket was created (ms; null: none or unknown). */
  newestTicketAt(): Promise<number | null>;
  /** Longest time readings waited with no InfluxDB write, seconds (null: not measured). */
  writeGap(): Promise<number | null>;
  /** Alert transitions so far (null: not measured). */
  transitions(): Promise<number | null>;
  stop(): Promise<void>;
}

/** The Mosquitto a case uses (client mode and the floor). */
const brokerOf = (env: BenchEnv, c: Pick<IngestCase, 'broker'>) =>
  c.broker === 'stock' ? env.stockMosquitto : env.mosquitto;

async function startFloor(env: BenchEnv, db: string, c: IngestCase): Promise<Consumer> {
  const mosquitto = brokerOf(env, c);
  if (!mosquitto) throw new Error('the floor needs Mosquitto');
  const child = spawnScript('floor', {
    url: mosquitto.url,
    qos: c.qos,
    influxUrl: env.influx.url,
    database: db,
    workload: c.workload ?? 'fleet',
  });
  let written = 0;
  let subscribed = false;
  const out = lines(child, (l) => {
    const rec = JSON.parse(l) as { written?: number; subscribed?: boolean };
    if (rec.subscribed) subscribed = true;
    if (rec.written !== undefined) written = rec.written;
  });
  if (!(await until(async () => subscribed, 10_000)))
    throw new Error(`the floor did not subscribe: ${out.stderr()}`);
  return {
    pids: [child.pid as number],
    written: async () => written,
    tickets: async () => 0,
    newestTicketAt: async () => null,
    writeGap: async () => null,
    transitions: async () => null,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startFaultline(
  env: BenchEnv,
  name: string,
  db: string,
  c: Pick<IngestCase, 'target' | 'qos' | 'rules' | 'workload' | 'broker'> & {
    apiWorker?: boolean;
    postgresUrl?: string;
    /** FAULTLINE_INSTANCE_ID, for one of several instances. */
    instance?: string;
  },
): Promise<RunningGateway> {
  const brokerUrl = c.target === 'faultline-mosquitto' ? brokerOf(env, c)?.url : undefined;
  const plant = c.workload === 'plant';
  const gw = await startGateway(
    join(env.dir, name),
    gatewayConfig({
      influxUrl: env.influx.url,
      database: db,
      brokerUrl,
      qos: c.qos,
      workload: c.workload ?? 'fleet',
      ...(c.apiWorker !== undefined ? { apiWorker: c.apiWorker } : {}),
      ...(c.postgresUrl ? { postgresUrl: c.postgresUrl } : {}),
    }),
    { 'rules.yaml': plant ? plantRulesYaml(c.rules) : rulesYaml(c.rules) },
    c.instance ? { FAULTLINE_INSTANCE_ID: c.instance } : {},
  );
  if (brokerUrl) {
    const up = await until(async () => (await gw.metrics()).get('faultline_adapter_up') === 1, 15_000, 100);
    if (!up) throw new Error('the gateway did not subscribe to Mosquitto');
  }
  return gw;
}

/** Readings accepted and already shipped out of the spool to InfluxDB. */
export const forwarded = async (gw: RunningGateway) => {
  const m = await gw.metrics();
  return (m.get('faultline_readings_accepted_total') ?? 0) - (m.get('faultline_spool_points') ?? 0);
};

/** When the newest ticket was created (ms; null: none). */
async function newestTicketAt(gw: RunningGateway): Promise<number | null> {
  const page = (await gw.get('/api/v1/tickets?limit=1&sort=-createdAt')) as {
    items: { createdAt: string }[];
  };
  const at = page.items[0] ? Date.parse(page.items[0].createdAt) : Number.NaN;
  return Number.isFinite(at) ? at : null;
}

/**
 * Like `settle`, and also when: the moment (wall clock, ms) the count reached `expected`,
 * interpolated between the polls before and after it; or, when it stopped short, the poll at
 * which it last changed. `onChange` runs at each poll that saw the count move.
 */
export async function settleAt(
  count: () => Promise<number>,
  expected: number,
  o: { stallMs?: number; timeoutMs?: number; everyMs?: number; onChange?: () => void } = {},
): Promise<{ n: number; at: number }> {
  const stallMs = o.stallMs ?? 10_000;
  const end = Date.now() + (o.timeoutMs ?? SETTLE_MS);
  let last = -1;
  let lastAt = wallNow();
  let movedAt = Date.now();
  for (;;) {
    const n = await count();
    const at = wallNow();
    if (n >= expected) {
      const share = last < 0 || n === last ? 1 : (expected - last) / (n - last);
      return { n, at: lastAt + share * (at - lastAt) };
    }
    if (n !== last) {
      last = n;
      lastAt = at;
      movedAt = Date.now();
      o.onChange?.();
    }
    if (Date.now() - movedAt > stallMs || Date.now() > end) return { n, at: lastAt };
    await sleep(o.everyMs ?? 20);
  }
}

/**
 * Waits until `count()` reaches `expected`, or stops moving for `stallMs` (readings lost on the
 * way), or `timeoutMs` passes.
 */
export async function settle(
  count: () => Promise<number>,
  expected: number,
  stallMs = 10_000,
  timeoutMs = SETTLE_MS,
): Promise<number> {
  return (await settleAt(count, expected, { stallMs, timeoutMs })).n;
}

/**
 * One throughput case: a warm-up pass over the fleet (devices registered, code warmed), then a
 * burst of `messages` readings as fast as the publisher can send them. The clock runs from the
 * first publish of the burst until the consumer has had InfluxDB accept every reading; then
 * InfluxDB is asked how many it holds.
 */
export async function runIngestCase(env: BenchEnv, c: IngestCase, index: number): Promise<IngestResult> {
  const name = `case-${index}`;
  const db = await env.database(`bench_${index}`);
  let consumer: Consumer;
  let brokerUrl: string;
  if (c.target === 'floor') {
    consumer = await startFloor(env, db, c);
    brokerUrl = brokerOf(env, c)?.url as string;
  } else {
    const gws = await startFaultlines(env, name, db, c, index);
    const gw = gws[0] as RunningGateway;
    const each = async (f: (g: RunningGateway) => Promise<number>) => Promise.all(gws.map(f));
    const metric = (key: string) => async (g: RunningGateway) => (await g.metrics()).get(key) ?? 0;
    consumer = {
      pids: gws.map((g) => g.pid),
      // Every instance writes every reading (the same points): done when the slowest is.
      written: async () => Math.min(...(await each(forwarded))),
      // From the metrics (tickets stay open during a case), not by listing every ticket: each
      // poll of the list made the gateway serialise hundreds of tickets, which the readings'
      // CPU figure then counted.
      tickets: metric('faultline_tickets_open').bind(null, gw),
      newestTicketAt: async () => newestTicketAt(gw),
      writeGap: async () => Math.max(...(await each(metric('faultline_influx_longest_write_gap_seconds')))),
      transitions: async () =>
        (await each(metric('faultline_alert_transitions_total'))).reduce((a, b) => a + b, 0),
      stop: async () => {
        await Promise.all(gws.map((g) => g.stop()));
      },
    };
    brokerUrl = gw.mqttUrl ?? (brokerOf(env, c)?.url as string);
  }
  try {
    const tsBase = Date.now() - Math.ceil(c.messages / c.devices + 10) * 1000;
    const base: Omit<PublisherOptions, 'messages' | 'tsBase'> = {
      url: brokerUrl,
      qos: c.qos,
      devices: c.devices,
      rate: 0,
      anomalyEvery: 0,
      window: 1_000,
      workload: c.workload ?? 'fleet',
    };
    const field = c.workload === 'plant' ? 'temperature' : 'rpm';
    await runScript<PublisherResult>('publisher', {
      ...base,
      qos: 1,
      messages: c.devices,
      tsBase: tsBase - 10_000,
    });
    if (!(await until(async () => (await consumer.written()) >= c.devices, 60_000)))
      throw new Error(`warm-up: ${await consumer.written()} of ${c.devices} readings written`);

    const sample = () => consumer.pids.map(procSample);
    const before = sample();
    const threadsBefore = consumer.pids.map(threadCpu);
    const transitionsBefore = await consumer.transitions();
    const pub = await runScript<PublisherResult>('publisher', {
      ...base,
      messages: c.messages,
      anomalyEvery: c.anomalyEvery,
      tsBase,
    });
    const expected = c.devices + c.messages;
    // Polled every 100 ms, not faster: each poll is an API request the gateway serves (its CPU
    // counts), which the floor, reporting on stdout, does not pay. The moment the count reached
    // `expected` is interpolated between the two polls around it.
    const done = await settleAt(() => consumer.written(), expected, { everyMs: POLL_MS });
    let after = sample();
    // The consumer's own count may include readings it made itself (devices coming online): the
    // clock stops when InfluxDB holds every reading sent, or stops growing.
    const stored = (await settle(() => env.count(db, field), expected, 5_000, 60_000)) - c.devices;
    const end = done.at;
    // The state path may still be opening tickets (each a few round trips on PostgreSQL): counted
    // until the count has not moved for 3 s; the CPU it takes until its last change is the
    // readings' too (the idle time after it is not).
    let ticketsAt = end;
    let tickets = 0;
    if (c.target !== 'floor') {
      const t = await settleAt(() => consumer.tickets(), Number.POSITIVE_INFINITY, {
        stallMs: 3_000,
        timeoutMs: 120_000,
        everyMs: 250,
        onChange: () => {
          after = sample();
        },
      });
      tickets = t.n;
      // The newest ticket's own creation time (the gateway's clock, this machine's), not the poll
      // that first saw it.
      ticketsAt = Math.max(end, (await consumer.newestTicketAt()) ?? end);
    }
    if (process.env.BENCH_THREADS) printThreads(c, threadsBefore, consumer.pids.map(threadCpu));
    const seconds = (end - pub.startedAt) / 1000;
    const cpu = (xs: ReturnType<typeof sample>) => xs.reduce((a, x) => a + x.cpuSeconds, 0);
    return {
      c,
      sent: pub.published,
      stored,
      seconds,
      pointsPerSecond: stored / seconds,
      cpuUsPerReading: ((cpu(after) - cpu(before)) / c.messages) * 1e6,
      peakRssMb: Math.max(...after.map((x) => x.peakRssBytes)) / 2 ** 20,
      acked: pub.acked,
      tickets,
      ticketsLagS: c.target === 'floor' ? null : (ticketsAt - end) / 1000,
      longestWriteGapS: await consumer.writeGap(),
      transitions: await (async () => {
        const n = await consumer.transitions();
        return n === null || transitionsBefore === null ? null : n - transitionsBefore;
      })(),
    };
  } finally {
    await consumer.stop();
  }
}

/** With BENCH_THREADS=1: each consuming process's CPU µs per reading by thread, on stderr. */
function printThreads(c: IngestCase, before: Map<string, number>[], after: Map<string, number>[]): void {
  after.forEach((threads, i) => {
    const parts = [...threads]
      .map(([name, s]): [string, number] => [name, ((s - (before[i]?.get(name) ?? 0)) / c.messages) * 1e6])
      .filter(([, us]) => us >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => `${name} ${us.toFixed(1)}`);
    process.stderr.write(`    CPU µs/reading by thread (process ${i}): ${parts.join(', ')}\n`);
  });
}

/**
 * The gateway(s) of a case: one on state.db, or `instances` on one fresh PostgreSQL database (each
 * subscribed to every reading: the HA topology of docs/deployment.md).
 */
async function startFaultlines(
  env: BenchEnv,
  name: string,
  db: string,
  c: IngestCase,
  index: number,
): Promise<RunningGateway[]> {
  if ((c.storage ?? 'sqlite') === 'sqlite') return [await startFaultline(env, name, db, c)];
  if (!env.postgres) throw new Error('PostgreSQL cases need postgresql installed');
  const postgresUrl = await env.postgres.createDatabase(`bench_${index}`);
  const gws: RunningGateway[] = [];
  try {
    for (let i = 0; i < (c.instances ?? 1); i++)
      gws.push(await startFaultline(env, `${name}-${i}`, db, { ...c, postgresUrl, instance: `bench-${i}` }));
  } catch (err) {
    await Promise.all(gws.map((g) => g.stop()));
    throw err;
  }
  return gws;
}
