import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DeviceRegistry } from '../ingest/devices.js';
import { Forwarder } from '../ingest/forwarder.js';
import { influxSchema } from '../ingest/influx/config.js';
import { V1Writer } from '../ingest/influx/writer.js';
import { Ingest } from '../ingest/ingest.js';
import type { Point } from '../ingest/point.js';
import { SqliteDeadLetterStore } from '../ingest/sqlite-dead-letter-store.js';
import { SqliteDeviceStore } from '../ingest/sqlite-device-store.js';
import { SqliteTelemetryLog } from '../ingest/sqlite-telemetry-log.js';
import { openDatabase } from '../lib/sqlite.js';
import { findBinary } from '../test/servers/common.js';
import { startInfluxDB } from '../test/servers/influxdb.js';

const silent = pino({ level: 'silent' });

export interface Row {
  case: string;
  points: number;
  seconds: number;
  pointsPerSecond: number;
  note: string;
}

function readings(devices: number, n: number, t0: number): Point[] {
  return Array.from({ length: n }, (_, i) => ({
    deviceId: `dev-${String(i % devices).padStart(5, '0')}`,
    ts: t0 + Math.floor(i / devices),
    receivedAt: t0,
    source: 'bench',
    fields: {
      temperature: 60 + (i % 100) / 10,
      vibration: 2 + (i % 7) / 10,
      pressure: 6.1,
      rpm: 1480 + (i % 40),
      running: true,
    },
  }));
}

function makePipeline(dir: string, name: string) {
  const spoolDb = openDatabase(join(dir, `${name}-spool.db`));
  const stateDb = openDatabase(join(dir, `${name}-state.db`));
  const log = new SqliteTelemetryLog(spoolDb);
  const registry = new DeviceRegistry(new SqliteDeviceStore(stateDb), [], []);
  const deadLetters = new SqliteDeadLetterStore(stateDb);
  const ingest = new Ingest({ log, registry, deadLetters, logger: silent });
  return {
    log,
    ingest,
    deadLetters,
    close: () => {
      spoolDb.close();
      stateDb.close();
    },
  };
}

/**
 * Readings arrive as they do from the broker: one `accept` per reading, many in one event-loop
 * turn (`perTurn`), each resolving after its group commit.
 */
async function feed(ingest: Ingest, points: Point[], perTurn: number): Promise<void> {
  for (let i = 0; i < points.length; i += perTurn) {
    await Promise.all(points.slice(i, i + perTurn).map((p) => ingest.accept([p])));
  }
}

export async function runSpoolInfluxBench(dir: string, n = 200_000): Promise<Row[]> {
  const rows: Row[] = [];
  const t0 = 1_790_000_000_000;

  // 1. Spool only: decode-free path from Point to a durable group commit.
  for (const perTurn of [100, 1_000]) {
    const p = makePipeline(dir, `append-${perTurn}`);
    const pts = readings(1_000, n, t0);
    const start = process.hrtime.bigint();
    await feed(p.ingest, pts, perTurn);
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    const st = await p.log.stats();
    rows.push({
      case: `spool append (${perTurn} readings/turn, 1k devices)`,
      points: n,
      seconds: s,
      pointsPerSecond: n / s,
      note: `${st.batches} group commits, ${(st.bytes / n).toFixed(1)} B/reading compressed`,
    });
    p.close();
  }

  if (!findBinary('influxd')) {
    rows.push({
      case: 'InfluxDB rows',
      points: 0,
      seconds: 0,
      pointsPerSecond: 0,
      note: 'skipped: influxd not found (apt-get install influxdb)',
    });
    return rows;
  }
  const influx = await startInfluxDB('bench');
  try {
    const cfg = influxSchema.parse({ api: 'v1', url: influx.url, database: 'bench', flushInterval: '200ms' });
    const drain = async (name: string, live: number) => {
      const p = makePipeline(dir, name);
      const pts = readings(1_000, n, t0 + (live ? 10_000_000 : 0));
      await feed(p.ingest, pts, 1_000); // backlog, as after an outage
      const f = new Forwarder({
        log: p.log,
        writer: new V1Writer(cfg as Extract<typeof cfg, { api: 'v1' }>),
        deadLetters: p.deadLetters,
        logger: silent,
        batchLines: cfg.batchLines,
        flushIntervalMs: cfg.flushInterval,
        retryMinMs: cfg.retry.min,
        retryMaxMs: cfg.retry.max,
      });
      p.log.onCommit(() => f.notify());
      const start = process.hrtime.bigint();
      f.start();
      const livePts = readings(1_000, live, t0 + 20_000_000);
      const feeding = live ? feed(p.ingest, livePts, 100) : Promise.resolve();
      await feeding;
      while ((await p.log.stats()).points > 0) await new Promise((r) => setTimeout(r, 20));
      const s = Number(process.hrtime.bigint() - start) / 1e9;
      await f.stop();
      p.close();
      return { s, written: f.counters.linesWritten, requests: f.counters.requests };
    };
    const d = await drain('drain', 0);
    rows.push({
      case: 'spool → InfluxDB 1.x /write (drain a backlog)',
      points: d.written,
      seconds: d.s,
      pointsPerSecond: d.written / d.s,
      note: `${d.requests} requests of ≤5,000 lines, gzip`,
    });
    const live = 50_000;
    const l = await drain('drain-live', live);
    rows.push({
      case: `drain a ${n / 1000}k backlog while ${live / 1000}k live readings arrive`,
      points: l.written,
      seconds: l.s,
      pointsPerSecond: l.written / l.s,
      note: `${l.requests} requests`,
    });
    const stored = await influx.count('telemetry');
    if (stored !== 2 * n + live) throw new Error(`InfluxDB holds ${stored} points, expected ${2 * n + live}`);
  } finally {
    await influx.cleanup();
  }
  return rows;
}

export function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'} × ${c.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}
