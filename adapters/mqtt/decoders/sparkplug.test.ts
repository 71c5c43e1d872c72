import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { TopicRouter } from '../router.js';
import { topicSchema } from './index.js';

const require = createRequire(import.meta.url);
const sp = (
  require('sparkplug-payload') as { get(ns: string): { encodePayload(p: object): Uint8Array } }
).get('spBv1.0');
const enc = (p: object) => Buffer.from(sp.encodePayload(p));
const NOW = 1_790_000_000_000;

describe('Sparkplug B decoder', () => {
  const make = () => new TopicRouter([topicSchema.parse({ topic: 'spBv1.0/#', payload: 'sparkplug' })]);
  const route = (r: TopicRouter, topic: string, payload: Buffer) => r.route(topic, payload, NOW, 'test');

  it('births bring nodes and devices online with their metrics; data by alias; deaths take them offline', () => {
    const r = make();
    const nbirth = route(
      r,
      'spBv1.0/plant/NBIRTH/edge1',
      enc({
        timestamp: NOW - 10,
        seq: 0,
        metrics: [
          { name: 'bdSeq', type: 'Int64', value: 0 },
          { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
          { name: 'Uptime', alias: 1, type: 'Int64', value: 3600 },
        ],
      }),
    );
    expect(nbirth?.points.map((p) => [p.deviceId, p.fields, p.connectivity?.state])).toEqual([
      ['edge1', { online: true }, 'online'],
      ['edge1', { Uptime: 3600 }, undefined],
    ]);
    const dbirth = route(
      r,
      'spBv1.0/plant/DBIRTH/edge1/press7',
      enc({
        timestamp: NOW - 5,
        seq: 1,
        metrics: [
          { name: 'Motor/Temperature', alias: 10, type: 'Double', value: 61.5 },
          { name: 'Running', alias: 11, type: 'Boolean', value: true },
          { name: 'Mode', alias: 12, type: 'String', value: 'AUTO' },
        ],
      }),
    );
    expect(dbirth?.points.map((p) => [p.deviceId, p.fields, p.ts])).toEqual([
      ['edge1.press7', { online: true }, NOW - 5],
      ['edge1.press7', { 'Motor/Temperature': 61.5, Running: true, Mode: 'AUTO' }, NOW - 5],
    ]);
    const ddata = route(
      r,
      'spBv1.0/plant/DDATA/edge1/press7',
      enc({ timestamp: NOW, seq: 2, metrics: [{ alias: 10, type: 'Double', value: 95.2 }] }),
    );
    expect(ddata?.points.map((p) => p.fields)).toEqual([{ 'Motor/Temperature': 95.2 }]);
    expect(ddata?.warnings).toEqual([]);
    const ndeath = route(
      r,
      'spBv1.0/plant/NDEATH/edge1',
      enc({ metrics: [{ name: 'bdSeq', type: 'Int64', value: 0 }] }),
    );
    expect(ndeath?.points.map((p) => [p.deviceId, p.connectivity?.state, p.connectivity?.reason])).toEqual([
      ['edge1', 'offline', 'Sparkplug NDEATH'],
      ['edge1.press7', 'offline', 'Sparkplug NDEATH of its edge node'],
    ]);
  });

  it('reports sequence gaps and data before a birth, and a device death', () => {
    const r = make();
    route(r, 'spBv1.0/g/NBIRTH/n', enc({ seq: 0, metrics: [] }));
    route(
      r,
      'spBv1.0/g/DBIRTH/n/d',
      enc({ seq: 1, metrics: [{ name: 'T', alias: 1, type: 'Float', value: 1 }] }),
    );
    const gap = route(
      r,
      'spBv1.0/g/DDATA/n/d',
      enc({ seq: 5, metrics: [{ alias: 1, type: 'Float', value: 2 }] }),
    );
    expect(gap?.warnings).toEqual(['sequence gap from g/n: expected 2, got 5']);
    const wrap = route(r, 'spBv1.0/g/DDEATH/n/d', enc({ seq: 6 }));
    expect(wrap?.points[0]?.connectivity).toEqual({ state: 'offline', reason: 'Sparkplug DDEATH' });
    const early = route(
      make(),
      'spBv1.0/g/DDATA/n2/d',
      enc({ seq: 3, metrics: [{ alias: 9, type: 'Float', value: 1 }] }),
    );
    expect(early?.warnings).toEqual(['DDATA from g/n2 before its NBIRTH: aliases unknown']);
    expect(early?.problems).toEqual([
      { deviceId: 'n2.d', reason: 'metric with unknown alias 9 (no birth seen)', partial: false },
    ]);
  });

  it('malformed payloads and unsupported types are problems, never thrown; commands are ignored', () => {
    const r = make();
    expect(route(r, 'spBv1.0/g/NDATA/n', Buffer.from([0xff, 0xff, 0xff]))?.problems[0]?.reason).toMatch(
      /^not a Sparkplug B payload/,
    );
    expect(route(r, 'spBv1.0/g/DDATA/n', enc({ seq: 0 }))?.problems[0]?.reason).toBe(
      'DDATA without a device id in "spBv1.0/g/DDATA/n"',
    );
    expect(route(r, 'spBv1.0/g/NCMD/n', enc({ metrics: [] }))).toEqual({ points: [], problems: [] });
    const mixed = route(
      r,
      'spBv1.0/g/NBIRTH/n',
      enc({
        seq: 0,
        metrics: [
          { name: 'Blob', type: 'Bytes', value: Buffer.from([1, 2]) },
          { name: '__proto__', type: 'Double', value: 5 },
          { name: 'T', type: 'Double', value: 3 },
        ],
      }),
    );
    expect(mixed?.points.map((p) => p.fields)).toEqual([{ online: true }, { T: 3 }]);
    expect(mixed?.problems).toEqual([
      { deviceId: 'n', reason: 'Blob: Sparkplug type Bytes is not read', partial: true },
      { deviceId: 'n', reason: '"__proto__" cannot be a name', partial: true },
    ]);
  });
});
