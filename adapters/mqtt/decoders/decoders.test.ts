import { describe, expect, it } from 'vitest';
import { TopicRouter } from '../router.js';
import { topicSchema } from './index.js';
import { parseLine } from './line-protocol.js';

const NOW = 1_790_000_000_000;
const router = (cfg: Record<string, unknown>) => new TopicRouter([topicSchema.parse(cfg)]);
const route = (r: TopicRouter, topic: string, payload: string) =>
  r.route(topic, Buffer.from(payload), NOW, 'test');

describe('json decoder', () => {
  it('flat convention with topic tags and static tags', () => {
    const r = router({ topic: 'plant/{site}/{line}/{device}/data', tags: { source: 'plc' } });
    expect(route(r, 'plant/north/l2/press-7/data', '{"t": 1, "ts": 1790000000500}')).toEqual({
      points: [
        {
          deviceId: 'press-7',
          ts: 1_790_000_000_500,
          receivedAt: NOW,
          fields: { t: 1 },
          source: 'test',
          tags: { site: 'north', line: 'l2', source: 'plc' },
        },
      ],
      problems: [],
    });
    expect(route(r, 'other/topic', '{}')).toBeUndefined();
  });

  it('a list of readings, devices named by a key; a bad element is rejected alone', () => {
    const r = router({ topic: 'gw/{gateway}/batch', json: { deviceKey: 'id' } });
    const out = route(r, 'gw/g1/batch', '[{"id": "a", "t": 1}, {"id": "b", "t": 2}, {"id": "c"}, 5]');
    expect(out?.points.map((p) => [p.deviceId, p.fields])).toEqual([
      ['a', { t: 1 }],
      ['b', { t: 2 }],
    ]);
    expect(out?.problems.map((p) => p.reason)).toEqual([
      '[2] payload has no metrics',
      '[3] no device id (topic has no {device} and no deviceKey)',
    ]);
  });

  it('field mapping by path with scale, offset and unit', () => {
    const r = router({
      topic: 'meters/{device}',
      json: {
        readingsPath: 'payload',
        timestampPath: 'meta.time',
        fields: [
          { path: 'payload.regs[0]', metric: 'temperature', scale: 0.1, unit: '°C' },
          { path: 'payload.state.run', metric: 'running' },
          { path: 'payload.missing', metric: 'absent' },
        ],
      },
    });
    // readingsPath points at the object the mapping paths start from.
    const r2 = router({
      topic: 'meters/{device}',
      json: {
        timestampPath: 'meta.time',
        fields: [
          { path: 'data.regs[0]', metric: 'temperature', scale: 0.1, offset: -2, unit: '°C' },
          { path: 'data.run', metric: 'running' },
        ],
      },
    });
    const out = route(
      r2,
      'meters/m1',
      '{"meta": {"time": "2026-11-24T10:00:00Z"}, "data": {"regs": [253, 9], "run": true}}',
    );
    expect(out?.problems).toEqual([]);
    expect(out?.points[0]).toMatchObject({
      deviceId: 'm1',
      ts: Date.parse('2026-11-24T10:00:00Z'),
      fields: { temperature: 23.3, running: true },
      units: { temperature: '°C' },
    });
    expect(route(r, 'meters/m1', '{"payload": {"other": 1}}')?.problems.map((p) => p.reason)).toEqual([
      'no mapped field in payload',
    ]);
  });

  it.each([
    ['not json', 'payload is not JSON'],
    ['"text"', 'payload must be a JSON object'],
    ['{"t": 1, "ts": "nope"}', 'ts must be epoch milliseconds or an ISO 8601 time'],
  ])('malformed %j is rejected with its reason, never thrown', (payload, reason) => {
    const out = route(router({ topic: 'd/{device}' }), 'd/x', payload);
    expect(out?.points).toEqual([]);
    expect(out?.problems[0]?.reason).toContain(reason);
    expect(out?.problems[0]?.partial).toBe(false);
  });
});

describe('value decoder', () => {
  it('reads a number, a boolean or a string; the metric from the topic', () => {
    const r = router({ topic: 'sensors/{device}/{metric}', payload: 'value' });
    expect(route(r, 'sensors/s1/temperature', ' 21.5\n')?.points[0]?.fields).toEqual({ temperature: 21.5 });
    expect(route(r, 'sensors/s1/running', 'true')?.points[0]?.fields).toEqual({ running: true });
    expect(route(r, 'sensors/s1/mode', 'AUTO')?.points[0]?.fields).toEqual({ mode: 'AUTO' });
    expect(route(r, 'sensors/s1/count', '1')?.points[0]?.fields).toEqual({ count: 1 });
  });

  it('a configured metric, type, scale and unit', () => {
    const r = router({
      topic: 'tanks/{device}/level',
      payload: 'value',
      value: { metric: 'level', type: 'number', scale: 0.01, unit: 'm' },
    });
    expect(route(r, 'tanks/t1/level', '250')?.points[0]).toMatchObject({
      fields: { level: 2.5 },
      units: { level: 'm' },
    });
    expect(route(r, 'tanks/t1/level', 'full')?.problems[0]?.reason).toBe('"full" is not a number');
    expect(route(r, 'tanks/t1/level', '')?.problems[0]?.reason).toBe('"" is not a number');
  });

  it('without a metric name it says so', () => {
    const r = router({ topic: 'x/{device}', payload: 'value' });
    expect(route(r, 'x/d', '1')?.problems[0]?.reason).toContain('no metric');
  });
});

describe('line protocol decoder', () => {
  it('parses per the reference: escapes, types, timestamps', () => {
    expect(
      parseLine(
        'my\\ m,tag\\=k=v\\,1,host=a f\\ 1=1.5,i=-3i,u=7u,s="a \\"q\\" \\\\ b",b=T,e=1e3 1790000000000000000',
      ),
    ).toEqual({
      measurement: 'my m',
      tags: { 'tag=k': 'v,1', host: 'a' },
      fields: { 'f 1': 1.5, i: -3, u: 7, s: 'a "q" \\ b', b: true, e: 1000 },
      timestamp: 1_790_000_000_000_000_000n,
    });
    expect(parseLine('m v=false').timestamp).toBeUndefined();
  });

  it('one reading per line; the device from a tag; ns precision by default', () => {
    const r = router({ topic: 'lp/{plant}', payload: 'line' });
    const out = route(
      r,
      'lp/p1',
      'machine,device=m1,zone=z temp=20 1790000000123456789\n# comment\n\nmachine,device=m2 temp=21i',
    );
    expect(out?.problems).toEqual([]);
    expect(out?.points).toEqual([
      {
        deviceId: 'm1',
        ts: 1_790_000_000_123,
        receivedAt: NOW,
        fields: { temp: 20 },
        source: 'test',
        tags: { plant: 'p1', zone: 'z' },
      },
      {
        deviceId: 'm2',
        ts: NOW,
        receivedAt: NOW,
        fields: { temp: 21 },
        source: 'test',
        tags: { plant: 'p1' },
      },
    ]);
  });

  it('options: precision, device tag, measurement prefix', () => {
    const r = router({
      topic: 'lp',
      payload: 'line',
      line: { precision: 's', deviceTag: 'host', prefixMeasurement: true },
    });
    expect(route(r, 'lp', 'cpu,host=h1 load=0.5 1790000000')?.points[0]).toMatchObject({
      deviceId: 'h1',
      ts: 1_790_000_000_000,
      fields: { cpu_load: 0.5 },
    });
  });

  it.each([
    ['m', 'expected a space before the fields'],
    ['m v=', 'invalid field value ""'],
    ['m v=1.5i', 'invalid field value "1.5i"'],
    ['m v="open', 'expected closing quote'],
    ['m,t v=1', '"=" after tag key'],
    ['m v=1 12:00', 'invalid timestamp'],
    [',t=1 v=1', 'empty measurement'],
  ])('rejects %j with a clear reason', (line, reason) => {
    const out = route(router({ topic: 'd/{device}', payload: 'line' }), 'd/x', line);
    expect(out?.points).toEqual([]);
    expect(out?.problems[0]?.reason).toContain(reason);
  });

  it('a bad line among good ones is rejected alone', () => {
    const out = route(
      router({ topic: 'd/{device}', payload: 'line' }),
      'd/x',
      'm v=1 1000000\nm v=oops\nm v=2 2000000',
    );
    expect(out?.points.map((p) => p.fields.v)).toEqual([1, 2]);
    expect(out?.problems).toEqual([
      { deviceId: 'x', reason: 'line 2: invalid field value "oops" at column 5', partial: true },
    ]);
  });
});

describe('line protocol: names that cannot be keys', () => {
  it('a "__proto__" field or tag key refuses its line with the reason; the other lines stay', () => {
    const out = route(
      router({ topic: 'd/{device}', payload: 'line' }),
      'd/x',
      'm __proto__=5 1000000\nm,__proto__=a v=1 1000000\nm v=2 2000000',
    );
    expect(out?.points.map((p) => p.fields)).toEqual([{ v: 2 }]);
    expect(out?.problems).toEqual([
      { deviceId: 'x', reason: 'line 1: field key: "__proto__" cannot be a name', partial: true },
      { deviceId: 'x', reason: 'line 2: tag key: "__proto__" cannot be a name', partial: true },
    ]);
  });
});

describe('status decoder', () => {
  const r = router({ topic: 'devices/{device}/status', payload: 'status' });
  it.each([
    ['offline', 'offline'],
    ['ONLINE', 'online'],
    ['{"online": false}', 'offline'],
    ['{"status": "connected"}', 'online'],
    ['0', 'offline'],
  ])('%j → %s, as a connectivity reading with the online metric', (payload, state) => {
    const p = route(r, 'devices/d1/status', payload)?.points[0];
    expect(p?.connectivity?.state).toBe(state);
    expect(p?.fields).toEqual({ online: state === 'online' });
  });

  it.each([
    ['maybe', 'is neither an online nor an offline status'],
    ['{"online": ', 'status payload is not valid JSON'],
  ])('rejects %j', (payload, reason) => {
    expect(route(r, 'devices/d1/status', payload)?.problems[0]?.reason).toContain(reason);
  });
});

describe('topic configuration', () => {
  it('rejects a broken template with its reason', () => {
    const r = topicSchema.safeParse({ topic: 'a/#/b' });
    expect(r.error?.issues[0]?.message).toContain('"#" must be the last level');
  });
});
