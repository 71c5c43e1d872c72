import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Forwarder } from '../ingest/forwarder.js';
import { influxSchema } from '../ingest/influx/config.js';
import { createWriter } from '../ingest/influx/writer.js';
import { SqliteDeadLetterStore } from '../ingest/sqlite-dead-letter-store.js';
import { SqliteTelemetryLog } from '../ingest/sqlite-telemetry-log.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { silentLogger, tempDir, waitFor } from './helpers.js';
import { describeWithServer } from './servers/common.js';
import { startV2Shim } from './servers/influx-v2-shim.js';
import { type InfluxServer, startInfluxDB } from './servers/influxdb.js';

const server = describeWithServer('influxd', 'apt-get install influxdb');

server.describe(`spool → InfluxDB (real server)${server.label}`, () => {
  let influx: InfluxServer;
  const tmp = tempDir();
  let db: SqliteDatabase;
  let forwarder: Forwarder | undefined;

  beforeAll(async () => {
    influx = await startInfluxDB('fl');
  });
  afterAll(async () => {
    await influx?.cleanup();
    tmp.cleanup();
  });
  afterEach(async () => {
    await forwarder?.stop();
    forwarder = undefined;
    db?.close();
  });

  function pipeline(cfg: Record<string, unknown>, name: string) {
    db = openDatabase(join(tmp.dir, `${name}.db`));
    const log = new SqliteTelemetryLog(db);
    const deadLetters = new SqliteDeadLetterStore(db);
    const config = influxSchema.parse({
      flushInterval: '50ms',
      retry: { min: '50ms', max: '200ms' },
      ...cfg,
    });
    const f = new Forwarder({
      log,
      writer: createWriter(config),
      deadLetters,
      logger: silentLogger,
      batchLines: config.batchLines,
      flushIntervalMs: config.flushInterval,
      retryMinMs: config.retry.min,
      retryMaxMs: config.retry.max,
    });
    log.onCommit(() => f.notify());
    forwarder = f;
    f.start();
    return { log, deadLetters, forwarder: f };
  }

  const lines = (measurement: string, n: number, t0 = 1_790_000_000_000) =>
    Array.from(
      { length: n },
      (_, i) =>
        `${measurement},device=d${i % 7},site=s temperature=${20 + (i % 50) / 10},running=true ${t0 + i}`,
    );

  it('v1 /write: every spooled line arrives as sent, and the spool empties', async () => {
    const { log } = pipeline({ api: 'v1', url: influx.url, database: 'fl' }, 'v1');
    const sent = lines('v1_points', 1_200);
    await log.append(sent.slice(0, 700).join('\n'), 700);
    await log.append(sent.slice(700).join('\n'), 500);
    await waitFor(
      async () => ((await influx.count('v1_points')) === 1_200 ? true : undefined),
      15_000,
      '1200 points',
    );
    await waitFor(async () => ((await log.stats()).batches === 0 ? true : undefined), 5_000, 'empty spool');
    const rows = await influx.query(
      'SELECT temperature, running, device FROM v1_points WHERE time = 1790000000003ms',
    );
    expect(rows[0]?.values).toEqual([[1_790_000_000_003, 20.3, true, 'd3']]);
  });

  it('v2 /api/v2/write through the official client (1.8-style bucket db/rp)', async () => {
    const shim = await startV2Shim(influx.url);
    try {
      const { log } = pipeline(
        { api: 'v2', url: shim.url, token: 'test', org: 'x', bucket: 'fl/autogen', batchLines: 100 },
        'v2',
      );
      await log.append(lines('v2_points', 250).join('\n'), 250);
      await waitFor(
        async () => ((await influx.count('v2_points')) === 250 ? true : undefined),
        15_000,
        '250 points',
      );
      expect(shim.requests).toBe(3); // 250 lines in requests of at most 100
    } finally {
      await shim.close();
    }
  });

  it('a line InfluxDB refuses is dead-lettered with the server message; the others arrive', async () => {
    const { log, deadLetters } = pipeline({ api: 'v1', url: influx.url, database: 'fl' }, 'bad');
    const good = lines('mixed_points', 40);
    const bad = 'mixed_points,device=broken temperature=1,temperature="x" 1790000000999';
    await log.append([...good.slice(0, 17), bad, ...good.slice(17)].join('\n'), 41);
    await waitFor(async () => ((await log.stats()).batches === 0 ? true : undefined), 15_000, 'empty spool');
    expect(await influx.count('mixed_points')).toBe(40);
    const dl = await deadLetters.list(10);
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({ source: 'influx', deviceId: 'broken' });
    expect(dl[0]?.reason).toMatch(/^400: /);
    expect(dl[0]?.payload.toString()).toBe(bad);
  });

  it('outage: readings spooled while InfluxDB is down all arrive once it is back, exactly once each', async () => {
    const { log, forwarder: f } = pipeline({ api: 'v1', url: influx.url, database: 'fl' }, 'outage');
    await influx.stop();
    const n = 3_000;
    const sent = lines('outage_points', n);
    for (let i = 0; i < n; i += 500) await log.append(sent.slice(i, i + 500).join('\n'), 500);
    await waitFor(async () => (f.counters.retries >= 2 ? true : undefined), 10_000, 'retries while down');
    expect((await log.stats()).points).toBe(n);
    await influx.start();
    await waitFor(async () => ((await log.stats()).batches === 0 ? true : undefined), 20_000, 'empty spool');
    expect(await influx.count('outage_points')).toBe(n);
    expect(f.counters.failingFor).toBe(0);
  });
});
