import { describe, expect, it } from 'vitest';
import type { Device } from '../ingest/devices.js';
import type { Point } from '../ingest/point.js';
import { type AlertTransition, MAX_TIMER_MS, RuleEngine, type Scheduler } from './engine.js';
import type { Rule } from './schema.js';

/** A scheduler whose time moves only when the test says so. */
class ManualScheduler implements Scheduler {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    if (ms > MAX_TIMER_MS) throw new Error(`setTimeout(${ms}) would fire at once in Node`);
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers.delete(h as number);
  };
  advance(ms: number): void {
    this.t += ms;
    for (const [id, timer] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > this.t) continue;
      this.timers.delete(id);
      timer.fn();
    }
  }
  get pending(): number {
    return this.timers.size;
  }
}

const device = (id: string, model: string | null = 'cnc-5x'): Device => ({
  id,
  name: id,
  model,
  site: 'north',
  customer: null,
  tags: { line: 'l1' },
  configured: true,
  firstSeenAt: null,
  lastSeenAt: null,
  lastValues: {},
  activeErrorCodes: [],
  connectivity: { state: 'unknown', since: null, reason: null },
});
const point = (deviceId: string, ts: number, fields: Point['fields']): Point => ({
  deviceId,
  ts,
  receivedAt: ts,
  fields,
  source: 't',
});
const hot = (over: Partial<Rule> = {}): Rule => ({
  id: 'hot',
  description: '',
  enabled: true,
  match: { metric: 't', model: 'cnc-*' },
  condition: { kind: 'threshold', metric: 't', above: 90, forMs: 1_000 },
  ticket: { priority: 'emergency', faultType: 'm', labels: {} },
  source: 'x:1:1',
  ...over,
});

function engineWith(rules: Rule[]) {
  const sched = new ManualScheduler();
  const engine = new RuleEngine(rules, sched);
  const seen: string[] = [];
  engine.onTransition((t: AlertTransition) => seen.push(`${t.alertId} ${t.event.type}@${t.event.at}`));
  return { sched, engine, seen };
}

describe('RuleEngine', () => {
  it('fires a pending alert from its timer at the end of `for`, without another reading', () => {
    const { sched, engine, seen } = engineWith([hot()]);
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    expect(seen).toEqual(['hot@m1 pending@0']);
    sched.advance(999);
    expect(seen).toHaveLength(1);
    sched.advance(1);
    expect(seen).toEqual(['hot@m1 pending@0', 'hot@m1 firing@1000']);
    expect(sched.pending).toBe(0);
  });

  it('a reading that ends the condition disarms the timer', () => {
    const { sched, engine, seen } = engineWith([hot()]);
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    engine.onReading(point('m1', 500, { t: 50 }), device('m1'));
    sched.advance(5_000);
    expect(seen).toEqual(['hot@m1 pending@0', 'hot@m1 inactive@500']);
  });

  it('applies only to matching devices, per device', () => {
    const { engine, seen } = engineWith([
      hot({ condition: { kind: 'threshold', metric: 't', above: 90, forMs: 0 } }),
    ]);
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    engine.onReading(point('p1', 0, { t: 95 }), device('p1', 'pump'));
    engine.onReading(point('m2', 0, { t: 95 }), device('m2'));
    expect(seen).toEqual(['hot@m1 firing@0', 'hot@m2 firing@0']);
  });

  it('restore() continues a firing alert; setRules() keeps state of kept rules and drops removed ones', () => {
    const rule = hot({ condition: { kind: 'threshold', metric: 't', above: 90, forMs: 0 } });
    const { engine, seen } = engineWith([rule]);
    engine.restore({ ruleId: 'hot', state: 'firing', activeAt: 0, firedAt: 0, value: 95 }, device('m1'));
    engine.onReading(point('m1', 10, { t: 96 }), device('m1'));
    expect(seen).toEqual([]);
    engine.setRules([rule]);
    engine.onReading(point('m1', 20, { t: 80 }), device('m1'));
    expect(seen).toEqual(['hot@m1 resolved@20']);
    engine.setRules([]);
    expect(engine.state('hot@m1')).toBeUndefined();
  });

  it('restore() of a pending alert re-arms its timer', () => {
    const { sched, engine, seen } = engineWith([hot()]);
    sched.t = 400;
    engine.restore({ ruleId: 'hot', state: 'pending', activeAt: 0, firedAt: null, value: 95 }, device('m1'));
    sched.advance(600);
    expect(seen).toEqual(['hot@m1 firing@1000']);
  });

  it('re-arms timers longer than setTimeout can hold instead of firing early', () => {
    const long = 40 * 86_400_000; // 40 days
    const { sched, engine, seen } = engineWith([
      hot({ condition: { kind: 'threshold', metric: 't', above: 90, forMs: long } }),
    ]);
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    sched.advance(MAX_TIMER_MS);
    expect(seen).toEqual(['hot@m1 pending@0']);
    expect(sched.pending).toBe(1);
    sched.advance(long - 1 - MAX_TIMER_MS);
    expect(seen).toEqual(['hot@m1 pending@0']);
    sched.advance(1);
    expect(seen).toEqual(['hot@m1 pending@0', `hot@m1 firing@${long}`]);
  });
});
