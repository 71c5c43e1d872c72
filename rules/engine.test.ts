import { describe, expect, it } from 'vitest';
import { type Device, newDevice } from '../ingest/devices.js';
import type { Point } from '../ingest/point.js';
import { type AlertTransition, MAX_TIMER_MS, RuleEngine } from './engine.js';
import { sampleCount } from './evaluate.js';
import { ManualScheduler } from './manual-scheduler.js';
import { type Rule, type RuleInput, ruleFrom } from './schema.js';

const device = (id: string, model: string | null = 'cnc-5x'): Device =>
  newDevice(id, { model, site: 'north', tags: { line: 'l1' }, configured: true });
const point = (deviceId: string, ts: number, fields: Point['fields']): Point => ({
  deviceId,
  ts,
  receivedAt: ts,
  fields,
  source: 't',
});
const hot = (threshold: RuleInput['threshold'] = { above: 90, for: '1s' }): Rule =>
  ruleFrom({
    id: 'hot',
    match: { metric: 't', model: 'cnc-*' },
    threshold,
    ticket: { priority: 'emergency', faultType: 'm' },
  });

function engineWith(rules: Rule[], start = 0) {
  const sched = new ManualScheduler(start);
  const engine = new RuleEngine(rules, sched);
  const seen: string[] = [];
  engine.onTransition((t: AlertTransition) => seen.push(`${t.alertId} ${t.event.type}@${t.event.at}`));
  return { sched, engine, seen };
}

describe('RuleEngine', () => {
  it('a rule that throws on one series is counted and told; the other rules of the reading still run (issue 18)', () => {
    const good = hot({ above: 90 });
    const broken = ruleFrom({
      id: 'broken',
      match: { metric: 't' },
      threshold: { above: 1 },
      ticket: { priority: 'general', faultType: 'm' },
    });
    // Its evaluation fails (as a bug in one rule kind would); compiling and matching it does not.
    let armed = false;
    const cond = broken.condition as unknown as Record<string, unknown>;
    const trap = new Proxy(cond, {
      get: (t, p) => {
        if (armed && p !== 'kind' && p !== 'metric') throw new Error('evaluation bug');
        return t[p as string];
      },
    });
    const { engine, seen } = engineWith([{ ...broken, condition: trap } as unknown as Rule, good]);
    const errors: string[] = [];
    engine.onError((id, err) => errors.push(`${id}: ${(err as Error).message}`));
    armed = true;
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    expect(errors).toEqual(['broken@m1: evaluation bug']);
    expect(engine.evaluationErrors).toBe(1);
    expect(seen).toEqual(['hot@m1 firing@0']);
  });

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
    const { engine, seen } = engineWith([hot({ above: 90 })]);
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    engine.onReading(point('p1', 0, { t: 95 }), device('p1', 'pump'));
    engine.onReading(point('m2', 0, { t: 95 }), device('m2'));
    expect(seen).toEqual(['hot@m1 firing@0', 'hot@m2 firing@0']);
  });

  it('restore() continues a firing alert; setRules() keeps state of kept rules and drops removed ones', () => {
    const rule = hot({ above: 90 });
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
    const { sched, engine, seen } = engineWith([hot()], 400);
    engine.restore({ ruleId: 'hot', state: 'pending', activeAt: 0, firedAt: null, value: 95 }, device('m1'));
    sched.advance(600);
    expect(seen).toEqual(['hot@m1 firing@1000']);
  });

  it('one timer for every series: each deadline still comes at its own time', () => {
    const avg = ruleFrom({
      id: 'avg',
      match: { metric: 't' },
      window: { fn: 'avg', over: '10s', above: 90 },
      ticket: { priority: 'general', faultType: 'm' },
    });
    const { sched, engine, seen } = engineWith([hot(), avg]);
    // 50 devices, 10 ms apart: 80 then 100 (average 90, not above); `hot` pending from the 100.
    for (let i = 0; i < 50; i++) engine.onReading(point(`m${i}`, i * 10, { t: 80 }), device(`m${i}`));
    for (let i = 0; i < 50; i++)
      engine.onReading(point(`m${i}`, 5_000 + i * 10, { t: 100 }), device(`m${i}`));
    expect(sched.pending).toBe(1);
    sched.advanceTo(6_245);
    // Each `for` ran out at its own deadline.
    expect(seen.filter((e) => e.startsWith('hot@') && e.includes('firing'))).toHaveLength(25);
    expect(seen).toContain('hot@m24 firing@6240');
    expect(sched.pending).toBe(1);
    // The 80 leaves each window 10 s after it came: the average is 100, the alert fires then.
    sched.advanceTo(20_000);
    const fired = seen.filter((e) => e.startsWith('avg@'));
    expect(fired).toHaveLength(50);
    expect(fired.slice(0, 3)).toEqual(['avg@m0 firing@10001', 'avg@m1 firing@10011', 'avg@m2 firing@10021']);
    expect(seen).toContain('hot@m49 firing@6490');
    expect(sched.pending).toBe(0);
  });

  it('re-arms timers longer than setTimeout can hold instead of firing early', () => {
    const long = 40 * 86_400_000; // 40 days
    const { sched, engine, seen } = engineWith([hot({ above: 90, for: `${long / 86_400_000}d` })]);
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    sched.advance(MAX_TIMER_MS);
    expect(seen).toEqual(['hot@m1 pending@0']);
    expect(sched.pending).toBe(1);
    sched.advance(long - 1 - MAX_TIMER_MS);
    expect(seen).toEqual(['hot@m1 pending@0']);
    sched.advance(1);
    expect(seen).toEqual(['hot@m1 pending@0', `hot@m1 firing@${long}`]);
  });

  it("index: only rules for the reading's metrics and device are evaluated", () => {
    const rules = [
      hot({ above: 90 }),
      ruleFrom({
        id: 'p',
        match: { metric: 'p', devices: ['m2'] },
        threshold: { below: 1 },
        ticket: { priority: 'general' },
      }),
    ];
    const { engine } = engineWith(rules);
    engine.onReading(point('m1', 0, { x: 1 }), device('m1'));
    expect(engine.size().series).toBe(0);
    engine.onReading(point('m1', 0, { p: 0 }), device('m1'));
    expect(engine.size().series).toBe(0); // rule "p" is for m2 only
    engine.onReading(point('m2', 0, { p: 0, t: 1 }), device('m2'));
    expect(engine.size().series).toBe(2);
  });

  it('devices matching the same rules share one plan; a device whose model changes moves to another', () => {
    const pump = ruleFrom({
      id: 'dry',
      match: { metric: 't', model: 'pump' },
      threshold: { above: 50 },
      ticket: { priority: 'general', faultType: 'm' },
    });
    const { engine, seen } = engineWith([hot({ above: 90 }), pump]);
    for (let i = 0; i < 30; i++) engine.onReading(point(`m${i}`, 0, { t: 95 }), device(`m${i}`));
    for (let i = 0; i < 20; i++) engine.onReading(point(`p${i}`, 0, { t: 95 }), device(`p${i}`, 'pump'));
    expect(engine.size()).toMatchObject({ series: 50, plans: 2 });
    expect(seen.filter((e) => e.startsWith('hot@'))).toHaveLength(30);
    expect(seen.filter((e) => e.startsWith('dry@'))).toHaveLength(20);
    // m0 becomes a pump: the pump rule now, its `hot` series left as it was.
    engine.onReading(point('m0', 10, { t: 60 }), device('m0', 'pump'));
    expect(seen.at(-1)).toBe('dry@m0 firing@10');
    expect(engine.size()).toMatchObject({ series: 51, plans: 2 });
  });

  it('watch(): a configured device that never sends anything fires its no-data rule', () => {
    const silent = ruleFrom({ id: 'silent', noData: { for: '1m' }, ticket: { priority: 'general' } });
    const { sched, engine, seen } = engineWith([silent], 1_000);
    engine.watch([device('m1'), { ...device('m2'), lastSeenAt: 30_000 }], 1_000);
    sched.advance(60_000);
    expect(seen).toEqual(['silent@m1 firing@61000']);
    sched.advance(30_000);
    expect(seen).toEqual(['silent@m1 firing@61000', 'silent@m2 firing@90000']);
    engine.onReading(point('m1', 95_000, { t: 1 }), device('m1'));
    expect(seen.at(-1)).toBe('silent@m1 resolved@95000');
  });

  it('state survives a restart: takeChanges() → load() continues a pending `for` and drops changed rules', () => {
    const first = engineWith([hot({ above: 90, for: '10s' })]);
    first.engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    const saved = first.engine.takeChanges();
    expect(saved).toHaveLength(1);
    first.engine.stop();

    const again = engineWith([hot({ above: 90, for: '10s' })], 4_000);
    const stored = saved.map((e) => ({ ...e, state: JSON.parse(JSON.stringify(e.state)) }));
    expect(again.engine.load(stored, (id) => device(id))).toEqual({ restored: 1, dropped: 0 });
    again.sched.advance(6_000);
    expect(again.seen).toEqual(['hot@m1 firing@10000']);

    const changed = engineWith([hot({ above: 80, for: '10s' })], 4_000);
    expect(changed.engine.load(stored, (id) => device(id))).toEqual({ restored: 0, dropped: 1 });
    expect(changed.engine.takeChanges()).toMatchObject([{ alertId: 'hot@m1', state: null }]);
  });

  it('saved states that cannot be read (damaged rows) are dropped alone: the others are restored, the engine goes on', () => {
    const first = engineWith([hot({ above: 90, for: '10s' })]);
    for (const id of ['m1', 'm2', 'm3', 'm4']) first.engine.onReading(point(id, 0, { t: 95 }), device(id));
    const saved = first.engine
      .takeChanges()
      .map((e) => ({ ...e, state: JSON.parse(JSON.stringify(e.state)) }));
    first.engine.stop();
    const [m1, m2, m3, m4] = saved as [
      (typeof saved)[0],
      (typeof saved)[0],
      (typeof saved)[0],
      (typeof saved)[0],
    ];
    const damaged = [
      m1,
      { ...m2, state: null }, // the SQLite store's reading of unparsable text
      { ...m3, state: 'not a state' },
      { ...m4, state: { ...m4.state, values: { t: null } } },
    ];
    const again = engineWith([hot({ above: 90, for: '10s' })], 4_000);
    expect(again.engine.load(damaged, (id) => device(id))).toEqual({ restored: 1, dropped: 3 });
    expect(
      again.engine.takeChanges().map((x) => `${x.alertId} ${x.state === null ? 'deleted' : 'kept'}`),
    ).toEqual(['hot@m2 deleted', 'hot@m3 deleted', 'hot@m4 deleted']);
    again.sched.advance(6_000);
    expect(again.seen).toEqual(['hot@m1 firing@10000']);
    // The dropped series start afresh with their next readings.
    again.engine.onReading(point('m2', 10_000, { t: 95 }), device('m2'));
    again.sched.advance(10_000);
    expect(again.seen).toEqual(['hot@m1 firing@10000', 'hot@m2 pending@10000', 'hot@m2 firing@20000']);
  });

  it('a saved series fed from a clock in the future is started afresh, not kept deaf to real readings (issue 18)', () => {
    const first = engineWith([hot({ above: 90 })]);
    first.engine.onReading(point('m1', Date.UTC(2200, 0, 1), { t: 50 }), device('m1'));
    const stored = first.engine
      .takeChanges()
      .map((e) => ({ ...e, state: JSON.parse(JSON.stringify(e.state)) }));
    first.engine.stop();
    const now = Date.UTC(2026, 11, 7);
    const again = engineWith([hot({ above: 90 })], now);
    expect(again.engine.load(stored, (id) => device(id))).toEqual({ restored: 0, dropped: 1 });
    again.engine.onReading(point('m1', now, { t: 95 }), device('m1'));
    expect(again.seen).toEqual([`hot@m1 firing@${now}`]);
  });

  it('changes are taken in slices of at most `max`: removed series first, nothing lost or repeated', () => {
    const { engine } = engineWith([hot({ above: 90, for: '10s' })]);
    for (let i = 0; i < 5; i++) engine.onReading(point(`m${i}`, 0, { t: 95 }), device(`m${i}`));
    engine.takeChanges();
    for (let i = 0; i < 5; i++) engine.onReading(point(`m${i}`, 1_000, { t: 96 }), device(`m${i}`));
    // The rule changes: its five series are dropped (saved as deletions).
    engine.setRules([hot({ above: 80, for: '10s' })]);
    engine.onReading(point('m9', 2_000, { t: 95 }), device('m9'));
    expect(engine.pendingChanges).toBe(6);
    const slices = [engine.takeChanges(4), engine.takeChanges(4), engine.takeChanges(4)];
    expect(slices.map((x) => x.length)).toEqual([4, 2, 0]);
    expect(slices.flat().map((x) => `${x.alertId} ${x.state === null ? 'deleted' : x.state.state}`)).toEqual([
      'hot@m0 deleted',
      'hot@m1 deleted',
      'hot@m2 deleted',
      'hot@m3 deleted',
      'hot@m4 deleted',
      'hot@m9 pending',
    ]);
    expect(engine.pendingChanges).toBe(0);
  });

  it('the queue of series due for saving: each once, across slices; forgotten ones leave it', () => {
    const { engine } = engineWith([hot({ above: 90, for: '10s' })]);
    // Each series changes twice before it is taken: queued once.
    for (const ts of [0, 500])
      for (let i = 0; i < 6; i++) engine.onReading(point(`m${i}`, ts, { t: 95 }), device(`m${i}`));
    expect(engine.pendingChanges).toBe(6);
    expect(engine.takeChanges(2).map((x) => x.alertId)).toEqual(['hot@m0', 'hot@m1']);
    // Another instance takes m2 and m4 over: their series leave the queue, returned for saving.
    expect(engine.forget(new Set(['m2', 'm4'])).map((x) => x.alertId)).toEqual(['hot@m2', 'hot@m4']);
    expect(engine.pendingChanges).toBe(2);
    // m0 is due again (it fires) while the queue is being taken: it comes after the others.
    engine.onReading(point('m0', 11_000, { t: 95 }), device('m0'));
    expect(engine.pendingChanges).toBe(3);
    const rest = engine.takeChanges();
    expect(rest.map((x) => `${x.alertId} ${x.state?.state}`)).toEqual([
      'hot@m3 pending',
      'hot@m5 pending',
      'hot@m0 firing',
    ]);
    expect(engine.pendingChanges).toBe(0);
    expect(engine.takeChanges()).toEqual([]);
  });

  it('running memory is due for saving once per checkpoint, a transition at once, everything on flushAll', () => {
    const sched = new ManualScheduler(0);
    const avg = ruleFrom({
      id: 'avg',
      match: { metric: 't' },
      window: { fn: 'avg', over: '5m', above: 90 },
      ticket: { priority: 'general' },
    });
    const engine = new RuleEngine([avg], sched, 60_000);
    const at = (ts: number, t: number) => {
      sched.advanceTo(ts);
      engine.onReading(point('m1', ts, { t }), device('m1'));
    };
    at(0, 50); // the first series: checkpoint phase 0, a minute from now
    at(1_000, 51);
    at(2_000, 52);
    expect(engine.takeChanges()).toEqual([]);
    at(60_000, 53);
    expect(engine.takeChanges()).toHaveLength(1); // a minute after it began
    at(61_000, 500); // the average crosses 90: firing
    const [saved] = engine.takeChanges();
    expect(saved?.state?.state).toBe('firing');
    at(62_000, 500);
    expect(engine.pendingChanges).toBe(0);
    engine.flushAll();
    expect(engine.takeChanges().map((x) => x.state && sampleCount(x.state))).toEqual([6]);
    engine.flushAll();
    expect(engine.takeChanges()).toEqual([]);
    // Series that begin together fall due spread over the minute, not all at once.
    const all = (ts: number) => {
      sched.advanceTo(ts);
      for (let i = 2; i <= 65; i++) engine.onReading(point(`m${i}`, ts, { t: 50 }), device(`m${i}`));
    };
    all(62_000);
    expect(engine.takeChanges()).toEqual([]);
    all(92_000); // half a minute on: the half whose phase is past half a minute
    expect(engine.takeChanges()).toHaveLength(32);
    all(122_000); // the other half
    expect(engine.takeChanges()).toHaveLength(32);
  });

  it('a device whose model changes is matched again, and keeps the state of rules that still match', () => {
    const { engine, seen } = engineWith([hot({ above: 90, for: '10s' })]);
    engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    engine.onReading(point('m1', 1_000, { t: 95 }), device('m1', 'lathe'));
    engine.onReading(point('m1', 10_000, { t: 95 }), device('m1', 'cnc-6x'));
    expect(seen).toEqual(['hot@m1 pending@0', 'hot@m1 firing@10000']);
  });

  it('a deadline that passed while the gateway was down is handled at once, at its own time', () => {
    const first = engineWith([hot({ above: 90, for: '10s' })]);
    first.engine.onReading(point('m1', 0, { t: 95 }), device('m1'));
    const saved = first.engine
      .takeChanges()
      .map((e) => ({ ...e, state: e.state as NonNullable<typeof e.state> }));
    const later = engineWith([hot({ above: 90, for: '10s' })], 3_600_000);
    later.engine.load(saved, (id) => device(id));
    later.sched.advance(0);
    expect(later.seen).toEqual(['hot@m1 firing@10000']);
  });

  it('expr rules see the device (id, model, site, tags)', () => {
    const r = ruleFrom({
      id: 'line',
      expr: 'device.tags.line == "l1" && t > 5.0',
      ticket: { priority: 'general' },
    });
    const { engine, seen } = engineWith([r]);
    engine.onReading(point('m1', 0, { t: 6 }), device('m1'));
    expect(seen).toEqual(['line@m1 firing@0']);
  });
});
