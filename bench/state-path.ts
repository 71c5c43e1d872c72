import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../gateway/config/load.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import { createLogger } from '../gateway/logger.js';
import type { Point } from '../ingest/point.js';
import { prng } from '../simulators/mqtt/model.js';
import type { Row } from './spool-influx.js';

const DEVICES = 100;

/**
 * The state path in process, without a broker or InfluxDB in the way (issue 19): the plant's 100
 * devices, temperature uniformly random 60–95, fed to `Ingest.accept` one reading per device per
 * call: with no rules, with a threshold rule that never fires (above 1000), and with the flapping
 * `threshold: {above: 90}` rule that opens tickets. The difference in CPU between the last two (the
 * same rule evaluated on every reading), over the alert transitions, is what one transition costs.
 */
export async function runStatePathBench(dir: string, readings: number): Promise<Row[]> {
  const rows: Row[] = [];
  const cost: Record<string, { cpuUs: number; transitions: number }> = {};
  for (const rule of ['none', 'quiet', 'flapping'] as const) {
    const gw = await start(join(dir, rule), rule);
    try {
      const random = prng(7);
      const batch = (round: number): Point[] => {
        const at = Date.now() - readings / DEVICES + round;
        return Array.from({ length: DEVICES }, (_, d) => ({
          deviceId: `press-${d}`,
          ts: at,
          receivedAt: at,
          source: 'bench',
          fields: {
            temperature: 60 + random() * 35,
            vibration: 2 + random(),
            pressure: 5 + random() * 0.5,
          },
        }));
      };
      await gw.ingest.accept(batch(0)); // devices registered and online
      await gw.alerts.idle();
      const transitionsBefore = gw.engine.transitions;
      const t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const rounds = Math.ceil(readings / DEVICES);
      for (let r = 1; r <= rounds; r++) {
        await gw.ingest.accept(batch(r));
        // Let the turn's state changes commit, as between the socket reads of a broker.
        if (r % 4 === 0) await new Promise((ok) => setImmediate(ok));
      }
      await gw.alerts.idle();
      await new Promise((ok) => setImmediate(ok));
      const cpu = process.cpuUsage(cpu0);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const n = rounds * DEVICES;
      const transitions = gw.engine.transitions - transitionsBefore;
      const cpuUs = cpu.user + cpu.system;
      cost[rule] = { cpuUs, transitions };
      rows.push({
        case: `state path (in process): 100 devices, ${CASES[rule]}`,
        points: n,
        seconds,
        pointsPerSecond: n / seconds,
        note: `${(cpuUs / n).toFixed(1)} µs CPU/reading${transitions ? `, ${transitions} alert transitions` : ''}`,
      });
    } finally {
      await gw.stop();
    }
  }
  // The same rule evaluated on every reading but never firing: what is left is the transitions.
  const base = cost.quiet;
  const flap = cost.flapping;
  if (base && flap && flap.transitions > 0) {
    const last = rows[rows.length - 1] as Row;
    last.note += `; ≈ ${((flap.cpuUs - base.cpuUs) / flap.transitions).toFixed(0)} µs CPU per transition`;
  }
  return rows;
}

const CASES = {
  none: 'no rules',
  quiet: 'threshold rule that never fires',
  flapping: 'flapping threshold rule',
} as const;

async function start(dir: string, rule: keyof typeof CASES): Promise<RunningGateway> {
  const file = join(dir, 'faultline.yaml');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'rules.yaml'),
    rule === 'none'
      ? 'rules: []\n'
      : `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: ${rule === 'quiet' ? 1000 : 90} }
    ticket: { priority: general, faultType: thermal }
`,
  );
  writeFileSync(
    file,
    `rules:\n  files: [rules.yaml]\nmqtt:\n  embedded: { enabled: false }\napi:\n  worker: false\n`,
  );
  const loaded = await loadConfig(file, { apiPort: 0, dataDir: join(dir, 'data') });
  if (loaded.issues.length) throw new Error(JSON.stringify(loaded.issues));
  loaded.config.api.adminKey = 'bench-state-path-key-0123456789';
  return startGateway(loaded.config, createLogger('error', false));
}
