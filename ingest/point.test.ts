import { describe, expect, it } from 'vitest';
import { decodeTelemetryJson } from './point.js';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const decode = (payload: string, device = 'dev-1') => decodeTelemetryJson(payload, device, NOW, 'test');

describe('telemetry convention (JSON)', () => {
  it('keeps numbers, booleans and strings; ts in epoch ms; receipt time otherwise', () => {
    const r = decode('{"temperature": 71.5, "running": true, "mode": "auto", "ts": 1790000000000}');
    expect(r).toEqual({
      ok: true,
      rejected: [],
      point: {
        deviceId: 'dev-1',
        ts: 1_790_000_000_000,
        receivedAt: NOW,
        source: 'test',
        fields: { temperature: 71.5, running: true, mode: 'auto' },
      },
    });
    const noTs = decode('{"t": 1}');
    expect(noTs.ok && noTs.point.ts).toBe(NOW);
  });

  it('NUL characters (which PostgreSQL text and the line protocol cannot carry) drop that key only', () => {
    const r = decode('{"t": 1, "mode": "a\\u0000b", "x\\u0000y": 2, "errorCode": "E\\u0000"}');
    expect(r.ok && r.point.fields).toEqual({ t: 1 });
    expect(r.ok && r.rejected.map((k) => k.key).sort()).toEqual(['errorCode', 'mode', 'x\u0000y']);
    expect(r.ok && r.point.errorCodes).toBeUndefined();
  });

  it('accepts ts as ISO 8601', () => {
    const r = decode('{"t": 1, "ts": "2026-11-24T10:00:00.250Z"}');
    expect(r.ok && r.point.ts).toBe(Date.UTC(2026, 10, 24, 10, 0, 0, 250));
  });

  it('errorCode: a string or a list; an empty list reports "no codes active"', () => {
    const one = decode('{"errorCode": "E-1"}');
    expect(one.ok && one.point.errorCodes).toEqual(['E-1']);
    const many = decode('{"t": 1, "errorCode": ["E-1", "E-2", "E-1", 7]}');
    expect(many.ok && many.point.errorCodes).toEqual(['E-1', 'E-2', '7']);
    const none = decode('{"t": 1, "errorCode": []}');
    expect(none.ok && none.point.errorCodes).toEqual([]);
    const absent = decode('{"t": 1}');
    expect(absent.ok && absent.point.errorCodes).toBeUndefined();
  });

  it('rejects an object or list value for that key only', () => {
    const r = decode('{"t": 1, "nested": {"a": 1}, "list": [1], "nothing": null, "time": 3}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.point.fields).toEqual({ t: 1 });
    expect(r.rejected.map((x) => x.key)).toEqual(['nested', 'list', 'nothing', 'time']);
    expect(r.rejected[0]?.reason).toBe('an object is not a metric value');
  });

  it.each([
    ['not json', 'payload is not JSON'],
    ['[1, 2]', 'payload must be a JSON object'],
    ['42', 'payload must be a JSON object'],
    ['null', 'payload must be a JSON object'],
    ['{}', 'payload has no metrics'],
    ['{"a": {"b": 1}}', 'no usable metric in payload'],
    ['{"t": 1, "ts": 1790000000}', 'ts looks like seconds, not milliseconds'],
    ['{"t": 1, "ts": "yesterday"}', 'ts must be epoch milliseconds or an ISO 8601 time'],
    ['{"t": 1, "ts": true}', 'ts must be a number or a string'],
  ])('rejects %j whole', (payload, reason) => {
    const r = decode(payload);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
  });

  it('a "__proto__" key is refused by name, not lost: alone, the payload has no usable metric', () => {
    const both = decode('{"__proto__": 5, "t": 1}');
    expect(both).toMatchObject({ ok: true, point: { fields: { t: 1 } } });
    expect(both.ok && both.rejected).toEqual([{ key: '__proto__', reason: '"__proto__" cannot be a name' }]);
    expect(decode('{"__proto__": 5}')).toEqual({ ok: false, reason: 'no usable metric in payload' });
  });

  it('rejects device ids that cannot be a series tag', () => {
    expect(decode('{"t": 1}', 'bad id').ok).toBe(false);
    expect(decode('{"t": 1}', '').ok).toBe(false);
    expect(decode('{"t": 1}', 'plant.line-1:press_7').ok).toBe(true);
  });
});
