import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './common.js';

export interface InfluxServer {
  url: string;
  port: number;
  database: string;
  /** InfluxQL through /query; returns the first result's series. */
  query(q: string): Promise<{ name: string; columns: string[]; values: unknown[][] }[]>;
  /** Number of points in a measurement. */
  count(measurement: string): Promise<number>;
  stop(): Promise<void>;
  /** Starts again on the same port with the same data. */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * A private InfluxDB 1.x (Debian's `influxdb`) in a temp dir, on a free loopback port found by the
 * server itself (bind-address 127.0.0.1:0, port read from its log), with one database created.
 */
export async function startInfluxDB(database = 'faultline'): Promise<InfluxServer> {
  const influxd = findBinary('influxd');
  if (!influxd) throw new Error('influxd not found (apt-get install influxdb)');
  const dir = mkdtempSync(join(tmpdir(), 'faultline-influx-'));
  let child: ChildProcess | undefined;
  let port = 0;

  const launch = async (): Promise<void> => {
    const conf = join(dir, 'influxdb.conf');
    writeFileSync(
      conf,
      `reporting-disabled = true
bind-address = "127.0.0.1:0"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`,
    );
    const proc = spawn(influxd, ['run', '-config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    port = await new Promise<number>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`influxd did not start:\n${log}`)), 20_000);
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        const m = /Listening on HTTP.*addr=127\.0\.0\.1:(\d+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`influxd exited with ${code}:\n${log}`));
      });
    });
    // Keep draining its output so that it never blocks on a full pipe.
    proc.stdout?.resume();
    proc.stderr?.resume();
    await post(`CREATE DATABASE "${database}"`);
  };

  const post = async (q: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/query?epoch=ms&db=${encodeURIComponent(database)}`, {
      method: 'POST',
      body: new URLSearchParams({ q }),
    });
    const body = (await res.json()) as {
      results?: { series?: { name: string; columns: string[]; values: unknown[][] }[]; error?: string }[];
      error?: string;
    };
    if (!res.ok || body.error || body.results?.[0]?.error)
      throw new Error(`InfluxQL ${q}: ${JSON.stringify(body)}`);
    return body.results?.[0]?.series ?? [];
  };

  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    await exited;
    child = undefined;
  };

  await launch();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    database,
    query: post,
    async count(measurement: string) {
      const series = await post(`SELECT COUNT(*) FROM "${measurement}"`);
      const row = series[0]?.values[0];
      if (!row) return 0;
      return Math.max(...(row.slice(1) as number[]));
    },
    stop,
    start: launch,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
