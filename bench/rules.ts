import { type Device, newDevice } from '../ingest/devices.js';
import type { Point } from '../ingest/point.js';
import { RuleEngine } from '../rules/engine.js';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { type Rule, type RuleInput, ruleFrom } from '../rules/schema.js';
import type { Row } from './spool-influx.js';

const KINDS: ((metric: string, i: number) => Partial<RuleInput>)[] = [
  (metric, i) => ({ match: { metric }, threshold: { above: 90 + (i % 10), for: '30s', clear: 85 } }),
  (metric) => ({ match: { metric }, window: { fn: 'avg', over: '5m', above: 95 } }),
  (metric) => ({ match: { metric }, rate: { over: '5m', per: '1m', above: 5 } }),
  (metric) => ({ match: { metric }, outlier: { method: 'ewma', sigmas: 4, minSamples: 20 } }),
  (metric) => ({ expr: `${metric} > 99.0 && ${metric} < 1000.0` }),
];

/** `n` rules of every kind in turn; `spread`: each on its own metric, else all on `m0`. */
function makeRules(n: number, spread: boolean): Rule[] {
  return Array.from({ length: n }, (_, i) => {
    const metric = spread ? `m${i}` : 'm0';
    const kind = KINDS[i % KINDS.length] as (metric: string, i: number) => Partial<RuleInput>;
    return ruleFrom({ id: `r-${i}`, ticket: { priority: 'general' }, ...kind(metric, i) } as RuleInput);
  });
}

const device = (id: string): Device => newDevice(id, { model: 'bench', configured: true });

/**
 * Evaluation throughput: readings of 5 metrics (m0…m4) from 200 devices, one per device per
 * second, through the engine with `n` rules. "Matching" rules = those on the metrics a reading
 * carries; the index keeps the others out of the loop.
 */
export function runRulesBench(maxReadings: number): Row[] {
  const rows: Row[] = [];
  const devices = Array.from({ length: 200 }, (_, i) => device(`dev-${i}`));
  for (const spread of [true, false]) {
    for (const n of [10, 100, 1_000]) {
      const rules = makeRules(n, spread);
      // With every rule on one metric each reading costs n evaluations: keep the run to ~2M of them.
      const readings = spread ? maxReadings : Math.min(maxReadings, Math.ceil(2_000_000 / n));
      const engine = new RuleEngine(rules, new ManualScheduler(0));
      let transitions = 0;
      engine.onTransition(() => transitions++);
      const points: Point[] = Array.from({ length: readings }, (_, i) => {
        const d = i % devices.length;
        const ts = Math.floor(i / devices.length) * 1_000;
        const v = 50 + ((i * 7919) % 55); // 50…104: thresholds fire and resolve now and then
        return {
          deviceId: `dev-${d}`,
          ts,
          receivedAt: ts,
          source: 'bench',
          fields: { m0: v, m1: v + 1, m2: v + 2, m3: v + 3, m4: v + 4, m_extra: 1 },
        };
      });
      const matching = rules.filter((r) => {
        const m =
          'metric' in r.condition
            ? r.condition.metric
            : r.condition.kind === 'expr'
              ? r.condition.cel.variables[0]
              : '';
        return ['m0', 'm1', 'm2', 'm3', 'm4'].includes(m ?? '');
      }).length;
      const t0 = process.hrtime.bigint();
      for (const p of points) engine.onReading(p, devices[Number(p.deviceId.slice(4))] as Device);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const size = engine.size();
      rows.push({
        case: `rules: ${n} rules, ${spread ? 'each on its own metric' : 'all on one metric'}`,
        points: readings,
        seconds,
        pointsPerSecond: readings / seconds,
        note: `${matching} rule(s) match each reading → ${Math.round((readings * matching) / seconds).toLocaleString('en-US')} evaluations/s; ${size.series.toLocaleString('en-US')} series, ${size.samples.toLocaleString('en-US')} samples held; ${transitions} transitions`,
      });
    }
  }
  return rows;
}
