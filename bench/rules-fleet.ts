import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { newDevice } from '../ingest/devices.js';
import { RuleEngine } from '../rules/engine.js';
import { parseRuleSource } from '../rules/load.js';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { deviceId, payload, rulesYaml } from './e2e/workload.js';
import type { Row } from './spool-influx.js';

const DEVICES = 10_000;
/** Readings per second of data time: each device every 2 s, as in the soak. */
const RATE = 5_000;
/** How late a reading reaches the engine after its own time (a window's deadline comes first, as live). */
const ARRIVAL_MS = 5;
/** 320 s of data time first: the 5-minute windows are full when the measured readings start. */
const WARM_READINGS = 1_600_000;

/**
 * The rule engine alone with the bench fleet's rules (100 rules, 10 per device: 100,000 series)
 * and its telemetry, steady: CPU per reading and what the young generation costs (issue 19, where
 * state fields boxed on every write were promoted and collected by full collections). Readings
 * are decoded points (no JSON), the scheduler manual.
 */
export async function runFleetRulesBench(measured: number): Promise<Row> {
  const { rules, issues } = parseRuleSource('bench-fleet.yaml', rulesYaml(100));
  if (issues.length) throw new Error(`bench rules: ${issues.map((i) => i.message).join('; ')}`);
  const t0 = 1_700_000_000_000;
  const clock = new ManualScheduler(t0);
  const engine = new RuleEngine(rules, clock, 60_000);
  let transitions = 0;
  engine.onTransition(() => transitions++);
  const devices = Array.from({ length: DEVICES }, (_, i) => newDevice(deviceId(i)));
  const feed = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const d = devices[i % DEVICES] as (typeof devices)[number];
      const ts = t0 + Math.floor((i * 1_000) / RATE);
      clock.advanceTo(Math.max(clock.now(), ts + ARRIVAL_MS));
      const fields = JSON.parse(payload(i, ts, false)) as Record<string, number | boolean>;
      delete fields.ts;
      engine.onReading({ deviceId: d.id, ts, receivedAt: ts, source: 'bench', fields }, d);
      if (i % 50_000 === 0) engine.takeChanges();
    }
  };
  feed(0, WARM_READINGS);
  await nextTurn();
  const gcs = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === 1) {
        gcs.minor++;
        gcs.minorMs += e.duration;
      } else if (kind === 4) {
        gcs.major++;
        gcs.majorMs += e.duration;
      }
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const started = process.hrtime.bigint();
  feed(WARM_READINGS, WARM_READINGS + measured);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await sleep(100); // the collections' entries are delivered after the synchronous run
  obs.disconnect();
  const size = engine.size();
  const ms = (x: number) => x.toFixed(1);
  return {
    case: 'rules: the bench fleet, steady (10,000 devices, 100 rules, windows full)',
    points: measured,
    seconds,
    pointsPerSecond: measured / seconds,
    note: `${((seconds * 1e6) / measured).toFixed(2)} µs per reading (JSON.parse of the payload included); ${gcs.minor} scavenges, ${ms(gcs.minorMs / Math.max(1, gcs.minor))} ms each; ${gcs.major} full collections (${ms(gcs.majorMs)} ms); ${size.series.toLocaleString('en-US')} series, ${size.samples.toLocaleString('en-US')} samples; ${transitions} transitions`,
  };
}
