import { join } from 'node:path';
import type { BenchEnv } from './env.js';
import { gatewayConfig, type RunningGateway, startGateway } from './gateway.js';
import { lines, procSample, runScript, sleep, spawnScript, until, wallNow } from './procs.js';
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
  /** Longest time readings waited with no InfluxDB write (Faultline only), seconds. */
  longestWriteGapS: number | null;
  /** Alert transitions during the burst (Faultline only: faultline_alert_transitions_total). */
  transitions: number | null;
}

/** Time allowed for the last readings to reach InfluxDB after the publisher is done. */
const SETTLE_MS = 120_000;

interface Consumer {
  pid: number;
  /** Readings the consumer has written to InfluxDB so far (accepted and not left in its spool). */
  written(): Promise<number>;
  tickets(): Promise<number>;
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
    pid: child.pid as number,
    written: async () => written,
    tickets: async () => 0,
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
  c: Pick<IngestCase, 'target' | 'qos' | 'rules' | 'workload' | 'broker'> & { apiWorker?: boolean },
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
    }),
    { 'rules.yaml': plant ? plantRulesYaml(c.rules) : rulesYaml(c.rules) },
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

export async function ticketCount(gw: RunningGateway): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const page = (await gw.get(
      `/api/v1/tickets?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )) as { items: unknown[]; nextCursor: string | null };
    n += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  return n;
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
  const end = Date.now() + timeoutMs;
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    const n = await count();
    if (n >= expected) return n;
    if (n !== last) {
      last = n;
      movedAt = Date.now();
    }
    if (Date.now() - movedAt > stallMs || Date.now() > end) return n;
    await sleep(20);
  }
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
    const gw = await startFaultline(env, name, db, c);
    consumer = {
      pid: gw.pid,
      written: () => forwarded(gw),
      tickets: () => ticketCount(gw),
      writeGap: async () => (await gw.metrics()).get('faultline_influx_longest_write_gap_seconds') ?? null,
      transitions: async () => (await gw.metrics()).get('faultline_alert_transitions_total') ?? 0,
      stop: async () => {
        await gw.stop();
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

    const before = procSample(consumer.pid);
    const transitionsBefore = await consumer.transitions();
    const pub = await runScript<PublisherResult>('publisher', {
      ...base,
      messages: c.messages,
      anomalyEvery: c.anomalyEvery,
      tsBase,
    });
    const expected = c.devices + c.messages;
    await settle(() => consumer.written(), expected);
    // The consumer's own count may include readings it made itself (devices coming online): the
    // clock stops when InfluxDB holds every reading sent, or stops growing.
    const stored = (await settle(() => env.count(db, field), expected, 5_000, 60_000)) - c.devices;
    const end = wallNow();
    const after = procSample(consumer.pid);
    const seconds = (end - pub.startedAt) / 1000;
    return {
      c,
      sent: pub.published,
      stored,
      seconds,
      pointsPerSecond: stored / seconds,
      cpuUsPerReading: ((after.cpuSeconds - before.cpuSeconds) / c.messages) * 1e6,
      peakRssMb: after.peakRssBytes / 2 ** 20,
      acked: pub.acked,
      tickets: await consumer.tickets(),
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
