import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packageRoot } from '../lib/package-root.js';
import { auth, getJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';
import { describeWithServer } from './servers/common.js';
import { type InfluxServer, startInfluxDB } from './servers/influxdb.js';

const server = describeWithServer('influxd', 'apt-get install influxdb');
const CLI = join(packageRoot(), 'dist', 'gateway', 'cli.js');

const config = (influxUrl: string) => `
sites: [{ id: north, area: local }]
devices:
  - { id: press-1, name: Press 1, model: press-400t, site: north, tags: { line: l2 } }
influx:
  api: v1
  url: ${influxUrl}
  database: fl
  flushInterval: 100ms
  retry: { min: 100ms, max: 500ms }
rules:
  files: []
`;

server.describe(`gateway → InfluxDB (real server)${server.label}`, () => {
  let influx: InfluxServer;
  const tmp = tempDir();
  beforeAll(async () => {
    influx = await startInfluxDB('fl');
  });
  afterAll(async () => {
    await influx?.cleanup();
    tmp.cleanup();
  });

  it('writes readings with the documented schema; /ingest accounts for every one', async () => {
    writeFiles(tmp.dir, { 'schema.yaml': config(influx.url) });
    const gw = await startFromFile(join(tmp.dir, 'schema.yaml'), join(tmp.dir, 'data-schema'));
    const client = await mqtt.connectAsync(gw.mqttUrl as string, { clientId: 'schema', reconnectPeriod: 0 });
    try {
      // An hour ago: readings are checked against their receipt (ingest.timestamps, 7 days back).
      const ts = Date.now() - 3_600_000;
      await client.publishAsync(
        'devices/press-1/telemetry',
        JSON.stringify({ ts, pressure: 6, mode: 'auto', ok: true, errorCode: ['E-7', 'E-9'] }),
        { qos: 1 },
      );
      await client.publishAsync('devices/press-1/telemetry', JSON.stringify({ ts: ts + 1, pressure: 6.5 }), {
        qos: 1,
      });
      await waitFor(
        async () => ((await influx.count('telemetry')) === 2 ? true : undefined),
        10_000,
        '2 points',
      );
      const rows = await influx.query('SELECT * FROM telemetry ORDER BY time');
      // The first reading also records the device coming online (same series and time: one point).
      expect(rows[0]?.columns).toEqual([
        'time',
        'device',
        'line',
        'mode',
        'model',
        'ok',
        'online',
        'pressure',
        'site',
      ]);
      expect(rows[0]?.values).toEqual([
        [ts, 'press-1', 'l2', 'auto', 'press-400t', true, true, 6, 'north'],
        [ts + 1, 'press-1', 'l2', null, 'press-400t', null, null, 6.5, 'north'],
      ]);
      // An integer then a fraction in one field: both float, no type conflict.
      const types = await influx.query('SHOW FIELD KEYS FROM telemetry');
      expect(types[0]?.values).toEqual(
        expect.arrayContaining([
          ['pressure', 'float'],
          ['mode', 'string'],
          ['ok', 'boolean'],
        ]),
      );
      const events = await influx.query('SELECT value, code, kind, device, site, reason FROM device_events');
      expect(events[0]?.values).toHaveLength(3);
      expect(events[0]?.values).toEqual(
        expect.arrayContaining([
          [ts, true, 'E-7', 'error_code', 'press-1', 'north', null],
          [ts, true, 'E-9', 'error_code', 'press-1', 'north', null],
          [ts, true, null, 'online', 'press-1', 'north', 'first reading'],
        ]),
      );
      const status = await getJson<{
        readings: { accepted: number };
        spool: { points: number };
        influx: { linesWritten: number; state: string };
      }>(`${gw.apiUrl}/api/v1/ingest`);
      await waitFor(
        async () => ((await gw.spool.stats()).points === 0 ? true : undefined),
        5_000,
        'spool drained',
      );
      expect(status.body.readings.accepted).toBe(3); // 2 readings + the online transition
      expect(status.body.influx).toMatchObject({ linesWritten: 6, state: 'ok' });
      const metrics = await (await fetch(`${gw.apiUrl}/metrics`, { headers: auth() })).text();
      expect(metrics).toMatch(/^faultline_readings_accepted_total 3$/m);
      expect(metrics).toMatch(/^faultline_influx_lines_written_total 6$/m);
      expect(metrics).toMatch(/^faultline_spool_points 0$/m);
      expect(metrics).toMatch(/^faultline_influx_write_duration_seconds_count\{outcome="ok"\} [1-9]/m);
    } finally {
      await client.endAsync();
      await gw.stop();
    }
  });

  it("answers a metric's history for the console's charts from InfluxDB, older than the local rollups keep", async () => {
    writeFiles(tmp.dir, { 'charts.yaml': config(influx.url) });
    const gw = await startFromFile(join(tmp.dir, 'charts.yaml'), join(tmp.dir, 'data-charts'));
    const client = await mqtt.connectAsync(gw.mqttUrl as string, { clientId: 'charts', reconnectPeriod: 0 });
    try {
      // Three readings two and a half days ago, 20 minutes apart; and one now.
      const t0 = Math.floor((Date.now() - 2.5 * 86_400_000) / 3_600_000) * 3_600_000;
      for (const [i, v] of [4, 6, 8].entries())
        await client.publishAsync(
          'devices/press-1/telemetry',
          JSON.stringify({ ts: t0 + i * 1_200_000, pressure: v }),
          {
            qos: 1,
          },
        );
      await client.publishAsync(
        'devices/press-1/telemetry',
        JSON.stringify({ ts: Date.now(), pressure: 7 }),
        { qos: 1 },
      );
      await waitFor(
        async () => ((await influx.count('telemetry')) >= 4 ? true : undefined),
        10_000,
        'in InfluxDB',
      );
      const q = `metric=pressure&from=${t0 - 3_600_000}&to=${t0 + 7_200_000}&step=60m`;
      type Answer = {
        source: string;
        fallback?: string;
        points: { t: string; min: number; max: number; mean: number; last: number; count: number }[];
      };
      const r = await getJson<Answer>(`${gw.apiUrl}/api/v1/devices/press-1/telemetry?${q}`);
      expect(r.status).toBe(200);
      expect(r.body.source).toBe('influxdb');
      expect(r.body.points).toEqual([
        { t: new Date(t0).toISOString(), min: 4, max: 8, mean: 6, last: 8, count: 3 },
      ]);
      // The rollups, asked for by name, have the same hour (the gateway rolled these readings up too).
      const local = await getJson<Answer>(
        `${gw.apiUrl}/api/v1/devices/press-1/telemetry?${q}&source=rollups`,
      );
      expect(local.body.source).toBe('rollups');
      // InfluxDB unreachable: the rollups answer, saying why; asked for InfluxDB by name: 503.
      await influx.stop();
      try {
        const down = await getJson<Answer>(`${gw.apiUrl}/api/v1/devices/press-1/telemetry?${q}`);
        expect(down.status).toBe(200);
        expect(down.body.source).toBe('rollups');
        expect(down.body.fallback).toMatch(/^InfluxDB could not answer/);
        const named = await getJson<{ code: string }>(
          `${gw.apiUrl}/api/v1/devices/press-1/telemetry?${q}&source=influxdb`,
        );
        expect(named.status).toBe(503);
      } finally {
        await influx.start();
      }
    } finally {
      await client.endAsync();
      await gw.stop();
    }
  });

  it('crash: every acknowledged reading reaches InfluxDB after SIGKILL and restart', async () => {
    await influx.stop(); // a backlog builds up in the spool
    const cfg = join(tmp.dir, 'crash.yaml');
    writeFiles(tmp.dir, { 'crash.yaml': config(influx.url) });
    const dataDir = join(tmp.dir, 'data-crash');
    const start = async (): Promise<{ child: ChildProcess; mqttUrl: string }> => {
      const child = spawn(
        process.execPath,
        [CLI, 'start', '--config', cfg, '--data-dir', dataDir, '--api-port', '0', '--mqtt-port', '0'],
        {
          env: { ...process.env, FAULTLINE_MQTT_HOST: '127.0.0.1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const mqttUrl = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout?.on('data', (c: Buffer) => {
          buf += c.toString();
          const m = /"mqtt":"(mqtt:\/\/[^"]+)".*"msg":"listening"/.exec(buf);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${buf}`)));
      });
      return { child, mqttUrl };
    };
    const first = await start();
    const client = await mqtt.connectAsync(first.mqttUrl, { clientId: 'crash', reconnectPeriod: 0 });
    const n = 500;
    const t0 = Date.now() - 7_200_000;
    for (let i = 0; i < n; i++) {
      // Awaiting each publish: resolved = PUBACK received = acknowledged by the gateway.
      await client.publishAsync('devices/press-1/telemetry', JSON.stringify({ ts: t0 + i, crashTest: i }), {
        qos: 1,
      });
    }
    const killed = new Promise<void>((r) => first.child.once('exit', () => r()));
    first.child.kill('SIGKILL');
    await killed;
    await client.endAsync(true);

    await influx.start();
    const second = await start();
    try {
      await waitFor(
        async () => {
          const rows = await influx.query(`SELECT COUNT(crashTest) FROM telemetry WHERE time >= ${t0}ms`);
          return rows[0]?.values[0]?.[1] === n ? true : undefined;
        },
        20_000,
        `${n} acknowledged readings in InfluxDB`,
      );
    } finally {
      const exited = new Promise<number | null>((r) => second.child.once('exit', (code) => r(code)));
      second.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
