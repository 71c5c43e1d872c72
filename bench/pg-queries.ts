import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../gateway/config/load.js';
import { startGateway } from '../gateway/gateway.js';
import { startPostgres } from '../test/servers/postgres.js';

/**
 * `node dist-bench/bench/pg-queries.js [devices]`: how many queries an alert transition costs on
 * PostgreSQL (issue 20). A gateway in this process on a private PostgreSQL; every device's temperature
 * crosses its threshold 40 times; every query the `pg` client sends meanwhile is counted by its text.
 */
async function main(): Promise<void> {
  const devices = Number(process.argv[2] ?? 10);
  const counts = new Map<string, number>();
  let counting = false;
  const query = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (counting) {
      const q = args[0] as string | { text?: string };
      const text = (typeof q === 'string' ? q : (q.text ?? '')).replace(/\s+/g, ' ').slice(0, 70);
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
  const server = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'faultline-pg-queries-'));
  try {
    const url = await server.createDatabase('queries');
    writeFileSync(
      join(dir, 'rules.yaml'),
      'rules:\n  - id: hot\n    match: { metric: temperature }\n    threshold: { above: 90 }\n    ticket: { priority: general, faultType: thermal }\n',
    );
    writeFileSync(
      join(dir, 'faultline.yaml'),
      `rules:\n  files: [rules.yaml]\nstorage:\n  postgres: { url: "${url}" }\n`,
    );
    const loaded = await loadConfig(join(dir, 'faultline.yaml'), {
      apiPort: 0,
      mqttPort: 0,
      mqttHost: '127.0.0.1',
      dataDir: join(dir, 'data'),
    });
    loaded.config.api.adminKey = 'flk_bench-pg-queries-0123456789';
    const gw = await startGateway(loaded.config, pino({ level: 'silent' }));
    const client = await mqtt.connectAsync(gw.mqttUrl as string);
    const send = (d: number, temperature: number) =>
      client.publishAsync(`devices/dev${d}/telemetry`, JSON.stringify({ temperature }), { qos: 1 });
    for (let d = 0; d < devices; d++) await send(d, 50);
    await new Promise((r) => setTimeout(r, 1_500));
    counting = true;
    for (let i = 0; i < 40; i++) for (let d = 0; d < devices; d++) await send(d, i % 2 ? 50 : 95);
    await gw.alerts.idle();
    await new Promise((r) => setTimeout(r, 3_000));
    counting = false;
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const transitions = 40 * devices;
    process.stdout.write(
      `${transitions} transitions, ${total} queries: ${(total / transitions).toFixed(1)} per transition\n`,
    );
    for (const [text, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 15))
      process.stdout.write(`${String(n).padStart(6)}  ${text}\n`);
    await client.endAsync();
    await gw.stop();
  } finally {
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`pg-queries failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
