import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MqttClientAdapter } from '../adapters/mqtt/client.js';
import { mqttClientSchema } from '../adapters/mqtt/client-config.js';
import type { ReadingSink } from '../ingest/ingest.js';
import type { Point } from '../ingest/point.js';
import { SqliteTelemetryLog } from '../ingest/sqlite-telemetry-log.js';
import { packageRoot } from '../lib/package-root.js';
import { openDatabase } from '../lib/sqlite.js';
import { getJson, silentLogger, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';
import { describeWithServer } from './servers/common.js';
import { type MosquittoServer, startMosquitto } from './servers/mosquitto.js';

const server = describeWithServer('mosquitto', 'apt-get install mosquitto');
const CLI = join(packageRoot(), 'dist', 'gateway', 'cli.js');

const config = (url: string, clientId: string) => `
sites: [{ id: north }]
mqtt: { embedded: { enabled: false } }
adapters:
  - protocol: mqtt
    id: plant
    url: ${url}
    clientId: ${clientId}
    reconnect: { min: 100ms, max: 500ms }
    subscriptions:
      - topic: plant/{site}/{device}/telemetry
rules: { files: [] }
`;

/** Sequence numbers found in spooled lines, and whether every duplicate is identical. */
function seqs(lines: string[]): { seen: Set<number>; identicalDuplicates: boolean } {
  const bySeq = new Map<number, string>();
  let identicalDuplicates = true;
  for (const l of lines) {
    const m = /[ ,]seq=(\d+)[ ,]/.exec(l);
    if (!m) continue;
    const n = Number(m[1]);
    const prev = bySeq.get(n);
    if (prev !== undefined && prev !== l) identicalDuplicates = false;
    bySeq.set(n, l);
  }
  return { seen: new Set(bySeq.keys()), identicalDuplicates };
}

async function spooledLines(log: SqliteTelemetryLog): Promise<string[]> {
  return (await log.read(0, 1_000_000)).flatMap((b) => b.lines.split('\n'));
}

/** Times of the published series: an hour ago, one millisecond apart (within ingest.timestamps). */
const T0 = Date.now() - 3_600_000;

/** A device with a persistent session publishing QoS 1 readings seq=0..n-1 one after another. */
async function publishSeries(
  url: string,
  n: number,
  onProgress?: (i: number) => Promise<void>,
): Promise<void> {
  const dev: MqttClient = await mqtt.connectAsync(url, {
    clientId: `dev-${Math.random()}`,
    clean: false,
    reconnectPeriod: 100,
  });
  try {
    for (let i = 0; i < n; i++) {
      await dev.publishAsync('plant/north/press-1/telemetry', JSON.stringify({ ts: T0 + i, seq: i }), {
        qos: 1,
      });
      if (onProgress) await onProgress(i);
    }
  } finally {
    await dev.endAsync();
  }
}

server.describe(`MQTT client mode against Mosquitto (real server)${server.label}`, () => {
  let broker: MosquittoServer;
  const tmp = tempDir();
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.cleanup();
    tmp.cleanup();
  });

  it('subscribes with a topic template and spools readings with tags; the device lands in its site', async () => {
    writeFiles(tmp.dir, { 'basic.yaml': config(broker.url, 'fl-basic') });
    const gw = await startFromFile(join(tmp.dir, 'basic.yaml'), join(tmp.dir, 'basic-data'));
    try {
      await waitFor(
        async () => (gw.adapters[0]?.status().state === 'running' ? true : undefined),
        5_000,
        'connected',
      );
      await publishSeries(broker.url, 20);
      await waitFor(
        async () => ((await spooledLines(gw.spool)).length >= 20 ? true : undefined),
        5_000,
        '20 readings',
      );
      const lines = await spooledLines(gw.spool);
      expect(lines[0]).toBe(`telemetry,device=press-1,site=north seq=0 ${T0}`);
      const dev = await getJson<{ site: string }>(`${gw.apiUrl}/api/v1/devices/press-1`);
      expect(dev.body.site).toBe('north');
      expect(gw.adapters[0]?.status().details).toMatchObject({ connected: true, readings: 20, rejected: 0 });
      const ingest = await getJson<{
        sources: { id: string; state: string; details: { readings: number } }[];
      }>(`${gw.apiUrl}/api/v1/ingest`);
      expect(ingest.body.sources).toMatchObject([
        { id: 'plant', state: 'running', details: { readings: 20 } },
      ]);
    } finally {
      await gw.stop();
    }
  });

  it('a message is not acknowledged before its reading is spooled: the broker delivers it again', async () => {
    const cfg = mqttClientSchema.parse({
      protocol: 'mqtt',
      id: 'held',
      url: broker.url,
      clientId: 'fl-held',
      reconnect: { min: '100ms', max: '200ms' },
      subscriptions: [{ topic: 'plant/{site}/{device}/telemetry' }],
    });
    // First connection: the spool never answers (a stalled disk), then the process dies.
    const held: Point[] = [];
    const stalled: ReadingSink = {
      accept: (p) => {
        held.push(...p);
        return new Promise<void>(() => undefined);
      },
      reject: () => undefined,
    };
    const first = new MqttClientAdapter(cfg);
    await first.start({ sink: stalled, logger: silentLogger, now: Date.now });
    await waitFor(async () => (first.status().state === 'running' ? true : undefined), 5_000, 'connected');
    await publishSeries(broker.url, 1);
    await waitFor(async () => (held.length === 1 ? true : undefined), 5_000, 'message received');
    // Die without acknowledging: drop the socket as a crash would.
    (
      first as unknown as { client: { stream: { destroy(): void }; end(force: boolean): void } }
    ).client.stream.destroy();
    (first as unknown as { client: { end(force: boolean): void } }).client.end(true);
    // Second connection, same session: the unacknowledged message arrives again.
    const spooled: Point[] = [];
    const second = new MqttClientAdapter(cfg);
    await second.start({
      sink: { accept: async (p) => void spooled.push(...p), reject: () => undefined },
      logger: silentLogger,
      now: Date.now,
    });
    try {
      await waitFor(async () => (spooled.length >= 1 ? true : undefined), 10_000, 'redelivery');
      expect(spooled[0]?.fields).toEqual(held[0]?.fields);
    } finally {
      await second.stop();
    }
  });

  it('Mosquitto restarted mid-stream with QoS 1: no reading lost', async () => {
    writeFiles(tmp.dir, { 'restart.yaml': config(broker.url, 'fl-restart') });
    const gw = await startFromFile(join(tmp.dir, 'restart.yaml'), join(tmp.dir, 'restart-data'));
    const n = 600;
    try {
      await waitFor(
        async () => (gw.adapters[0]?.status().state === 'running' ? true : undefined),
        5_000,
        'connected',
      );
      await publishSeries(broker.url, n, async (i) => {
        if (i === 250) {
          await broker.stop();
          await new Promise((r) => setTimeout(r, 300));
          await broker.start();
        }
      });
      await waitFor(
        async () => (seqs(await spooledLines(gw.spool)).seen.size === n ? true : undefined),
        15_000,
        `${n} readings`,
      );
      const { seen, identicalDuplicates } = seqs(await spooledLines(gw.spool));
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(identicalDuplicates).toBe(true);
      expect(gw.adapters[0]?.status().details).toMatchObject({ connected: true });
      const details = gw.adapters[0]?.status().details as { connects: number } | undefined;
      expect(details?.connects).toBeGreaterThanOrEqual(2);
    } finally {
      await gw.stop();
    }
  });

  it('gateway SIGKILLed mid-stream and restarted: every reading spooled once or as identical duplicates', async () => {
    const cfg = join(tmp.dir, 'kill.yaml');
    writeFiles(tmp.dir, { 'kill.yaml': config(broker.url, 'fl-kill') });
    const dataDir = join(tmp.dir, 'kill-data');
    const start = async (): Promise<ChildProcess> => {
      const child = spawn(
        process.execPath,
        [CLI, 'start', '--config', cfg, '--data-dir', dataDir, '--api-port', '0'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      await new Promise<void>((resolve, reject) => {
        let buf = '';
        child.stdout?.on('data', (c: Buffer) => {
          buf += c.toString();
          // Subscribed, not just connected: a broker drops messages published before the first SUBSCRIBE.
          if (buf.includes('"msg":"subscribed"')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${buf}`)));
      });
      child.stdout?.resume();
      return child;
    };
    const t0 = Date.now();
    const phases: string[] = [];
    const mark = (what: string) => phases.push(`${what} +${Date.now() - t0}ms`);
    let gw = await start();
    mark('started');
    const n = 800;
    await publishSeries(broker.url, n, async (i) => {
      if (i === 300) {
        const killed = new Promise<void>((r) => gw.once('exit', () => r()));
        gw.kill('SIGKILL');
        await killed;
        mark('killed');
      }
      if (i === 500) {
        gw = await start();
        mark('restarted');
      }
    });
    mark('published');
    const db = openDatabase(join(dataDir, 'spool.db'));
    try {
      const log = new SqliteTelemetryLog(db);
      await waitFor(
        async () => (seqs(await spooledLines(log)).seen.size === n ? true : undefined),
        30_000,
        `${n} readings`,
      ).catch(async (err: Error) => {
        // Say what is missing, so that a lost reading can be told from a slow machine.
        const { seen } = seqs(await spooledLines(log));
        const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i));
        throw new Error(
          `${err.message}; missing ${missing.length}: ${missing.slice(0, 20).join(',')}; ${phases.join(', ')}`,
        );
      });
      const { seen, identicalDuplicates } = seqs(await spooledLines(log));
      expect(seen.size).toBe(n);
      expect(identicalDuplicates).toBe(true);
      mark('all spooled');
      if (Date.now() - t0 > 10_000) process.stderr.write(`slow SIGKILL test: ${phases.join(', ')}\n`);
    } finally {
      db.close();
      const exited = new Promise<number | null>((r) => gw.once('exit', (code) => r(code)));
      gw.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 120_000);
});
