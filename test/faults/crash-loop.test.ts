import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auth, startCli, tempDir, waitFor, writeFiles } from '../helpers.js';
import { describeWithServer } from '../servers/common.js';
import { type InfluxServer, startInfluxDB } from '../servers/influxdb.js';

/**
 * Issue 11's fault test: the gateway is SIGKILLed three times during a QoS 1 stream, with InfluxDB
 * down for part of it. Every reading the gateway acknowledged (PUBACK) must end up in InfluxDB, and
 * the fault the stream keeps reporting must have exactly one open ticket.
 */
const server = describeWithServer('influxd', 'apt-get install influxdb');

const config = (influxUrl: string) => `
sites: [{ id: north, area: local }]
devices:
  - { id: press-1, site: north }
influx:
  api: v1
  url: ${influxUrl}
  database: faults
  flushInterval: 100ms
  retry: { min: 100ms, max: 500ms }
rules:
  files: [rules.yaml]
  watch: false
`;

const RULES = `rules:
  - id: jam
    errorCode: [E-JAM]
    ticket: { priority: general, faultType: mechanical }
`;

server.describe(
  `faults: SIGKILL loop during a QoS 1 stream, InfluxDB down part of the time${server.label}`,
  () => {
    let influx: InfluxServer;
    const tmp = tempDir();
    beforeAll(async () => {
      influx = await startInfluxDB('faults');
    });
    afterAll(async () => {
      await influx?.cleanup();
      tmp.cleanup();
    });

    const start = () =>
      startCli(['--config', join(tmp.dir, 'faultline.yaml'), '--data-dir', join(tmp.dir, 'data')]);

    it('every acknowledged reading reaches InfluxDB; the fault has one open ticket', async () => {
      writeFiles(tmp.dir, { 'faultline.yaml': config(influx.url), 'rules.yaml': RULES });
      const t0 = Date.now() - 3_600_000; // unique, recent times (ingest.timestamps)
      let acknowledged = 0;
      let seq = 0;
      for (let round = 0; round < 3; round++) {
        if (round === 1) await influx.stop(); // the second round runs with InfluxDB down
        if (round === 2) await influx.start();
        const gw = await start();
        const client = await mqtt.connectAsync(gw.mqttUrl, {
          clientId: `crash-${round}`,
          reconnectPeriod: 0,
        });
        const killed = new Promise<void>((r) => gw.child.once('exit', () => r()));
        // Publish until the kill cuts the stream; count what was acknowledged (PUBACK received).
        const stream = (async () => {
          for (;;) {
            const i = seq++;
            const body = { ts: t0 + i, n: i, ...(i % 50 === 0 ? { errorCode: 'E-JAM' } : {}) };
            try {
              await client.publishAsync('devices/press-1/telemetry', JSON.stringify(body), { qos: 1 });
              acknowledged++;
            } catch {
              return;
            }
          }
        })();
        await waitFor(async () => (acknowledged >= (round + 1) * 300 ? true : undefined), 20_000, 'acks');
        gw.child.kill('SIGKILL');
        await killed;
        client.end(true);
        await stream;
      }
      const gw = await start();
      try {
        await waitFor(
          async () => {
            const rows = await influx.query('SELECT COUNT(n) FROM telemetry');
            const count = rows[0]?.values[0]?.[1];
            return typeof count === 'number' && count >= acknowledged ? count : undefined;
          },
          30_000,
          `${acknowledged} acknowledged readings in InfluxDB`,
        );
        // Readings are unique by time: replays after a crash overwrite, they do not add.
        const rows = await influx.query('SELECT COUNT(n) FROM telemetry');
        expect(rows[0]?.values[0]?.[1]).toBeLessThanOrEqual(seq);
        const open = await fetch(
          `${gw.apiUrl}/api/v1/tickets?ruleId=jam&status=open,acknowledged,diagnosing,dispatched,on_site,waiting`,
          {
            headers: auth(),
          },
        );
        const body = (await open.json()) as { items: { occurrences: number }[] };
        expect(body.items).toHaveLength(1);
      } finally {
        const exited = new Promise<number | null>((r) => gw.child.once('exit', (code) => r(code)));
        gw.child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    }, 120_000);
  },
);
