import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { silentLogger } from '../test/helpers.js';
import { DEFAULT_INGEST, type IngestConfig, ingestSchema, timeProblem } from './admission.js';
import { DeviceRegistry } from './devices.js';
import { Ingest } from './ingest.js';
import { decodeTelemetryJson, type Point } from './point.js';
import { SqliteDeadLetterStore } from './sqlite-dead-letter-store.js';
import { SqliteDeviceStore } from './sqlite-device-store.js';
import { SqliteTelemetryLog } from './sqlite-telemetry-log.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const MIN = 60_000;
const DAY = 86_400_000;

describe('time sanity at the edge (issue 18)', () => {
  const t = DEFAULT_INGEST.timestamps;

  it('defaults: at most 5 minutes ahead, 7 days behind the receipt', () => {
    expect(t).toEqual({ maxFuture: 5 * MIN, maxPast: 7 * DAY, outOfRange: 'reject' });
    expect(timeProblem({ ts: NOW + 4 * MIN, receivedAt: NOW }, t)).toBeNull();
    expect(timeProblem({ ts: NOW - 6 * DAY, receivedAt: NOW }, t)).toBeNull();
    expect(timeProblem({ ts: NOW + 6 * MIN, receivedAt: NOW }, t)).toMatch(/6m ahead of its receipt/);
    expect(timeProblem({ ts: NOW - 8 * DAY, receivedAt: NOW }, t)).toMatch(/8d before its receipt/);
    expect(timeProblem({ ts: Number.NaN, receivedAt: NOW }, t)).toMatch(/not a time/);
  });

  it('names the unit mistake of a timestamp in nanoseconds or microseconds', () => {
    const ns = decodeTelemetryJson(JSON.stringify({ ts: NOW * 1e6, v: 1 }), 'd', NOW, 't');
    expect(ns).toMatchObject({ ok: false, reason: expect.stringMatching(/nanoseconds/) });
    const us = decodeTelemetryJson(JSON.stringify({ ts: NOW * 1e3, v: 1 }), 'd', NOW, 't');
    expect(us).toMatchObject({ ok: false, reason: expect.stringMatching(/microseconds/) });
    const huge = decodeTelemetryJson('{"ts": 1e20, "v": 1}', 'd', NOW, 't');
    expect(huge.ok).toBe(false);
  });

  it('an unknown outOfRange mode is a config error', () => {
    expect(ingestSchema.safeParse({ timestamps: { outOfRange: 'keep' } }).success).toBe(false);
  });
});

describe('Ingest admission', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());

  async function setup(admission: Partial<IngestConfig> = {}, configured: string[] = ['known']) {
    db = openDatabase(':memory:');
    const registry = new DeviceRegistry(
      new SqliteDeviceStore(db),
      [],
      configured.map((id) => ({ id, tags: {} })),
    );
    await registry.load();
    const log = new SqliteTelemetryLog(db);
    const deadLetters = new SqliteDeadLetterStore(db);
    const ingest = new Ingest({
      log,
      registry,
      deadLetters,
      logger: silentLogger,
      admission: ingestSchema.parse(admission),
      knownDevices: new Set(['plc-1']),
    });
    const seen: Point[] = [];
    ingest.onReading((p) => seen.push(p));
    const lines = async () => (await log.read(0, 100)).flatMap((b) => b.lines.split('\n'));
    return { ingest, registry, deadLetters, seen, lines };
  }
  const reading = (deviceId: string, ts: number, fields: Point['fields'] = { v: 1 }): Point => ({
    deviceId,
    ts,
    receivedAt: NOW,
    fields,
    source: 'test',
  });

  it('dead-letters a reading outside the bounds with the reason; the others of the batch pass', async () => {
    const s = await setup();
    await s.ingest.accept([
      reading('known', NOW - 1000),
      reading('known', Date.UTC(2200, 0, 1)),
      reading('known', Date.UTC(1980, 0, 1)),
      reading('known', NOW + 1000),
    ]);
    expect(s.seen.map((p) => p.ts)).toEqual([NOW - 1000, NOW + 1000]);
    expect(await s.lines()).toHaveLength(2);
    const dead = await s.deadLetters.list(10);
    expect(dead.map((d) => d.reason)).toEqual([
      expect.stringMatching(/^ts 1980-01-01T00:00:00.000Z is \d+d before its receipt/),
      expect.stringMatching(/^ts 2200-01-01T00:00:00.000Z is \d+d ahead of its receipt/),
    ]);
    expect(s.ingest.counters).toMatchObject({ accepted: 2, rejected: 2, timeRejected: 2 });
    // The device's last values stay at the real time: a reading from 2200 cannot freeze them.
    expect(s.registry.get('known')?.lastValues.v?.ts).toBe(NOW + 1000);
  });

  it('outOfRange: receipt keeps the reading at its receipt time and records its own time', async () => {
    const s = await setup({ timestamps: { outOfRange: 'receipt' } } as Partial<IngestConfig>);
    const future = Date.UTC(2200, 0, 1);
    await s.ingest.accept([reading('known', future)]);
    expect(s.seen[0]).toMatchObject({ ts: NOW, originalTs: future });
    expect(await s.lines()).toEqual([`telemetry,device=known,site=default v=1,ts_original=${future} ${NOW}`]);
    expect(s.ingest.counters).toMatchObject({ accepted: 1, timeRestamped: 1, rejected: 0 });
  });

  it('autoRegister: false refuses unknown devices, not configured ones or those of adapters', async () => {
    const s = await setup({ autoRegister: false });
    await s.ingest.accept([reading('known', NOW), reading('plc-1', NOW), reading('stranger', NOW)]);
    expect(s.seen.map((p) => p.deviceId)).toEqual(['known', 'plc-1']);
    expect(s.registry.get('stranger')).toBeUndefined();
    expect((await s.deadLetters.list(1))[0]?.reason).toMatch(/unknown device "stranger".*autoRegister/);
    expect(s.ingest.counters.unknownDeviceRejected).toBe(1);
  });

  it('maxMetricsPerDevice: new metric names beyond it are dropped with the reason; a reading of only new ones is refused', async () => {
    const s = await setup({ maxMetricsPerDevice: 3 });
    await s.ingest.accept([reading('known', NOW, { a: 1, b: 2 })]);
    await s.ingest.accept([reading('known', NOW + 1, { a: 3, c: 4, d: 5, e: 6 })]); // room for one more
    expect(s.seen[1]?.fields).toEqual({ a: 3, c: 4 });
    await s.ingest.accept([reading('known', NOW + 2, { x: 1, y: 2 })]);
    expect(s.seen).toHaveLength(2);
    await s.ingest.accept([reading('known', NOW + 3, { a: 7, b: 8, c: 9 })]); // known ones always pass
    expect(s.seen[2]?.fields).toEqual({ a: 7, b: 8, c: 9 });
    expect(Object.keys(s.registry.get('known')?.lastValues ?? {}).sort()).toEqual(['a', 'b', 'c']);
    expect(s.ingest.counters).toMatchObject({ metricsDropped: 4, partiallyRejected: 1, rejected: 1 });
    expect((await s.deadLetters.list(2)).map((d) => d.reason)).toEqual([
      'no metric left: device "known" has ingest.maxMetricsPerDevice (3) metrics',
      '2 new metric(s) dropped: device "known" has ingest.maxMetricsPerDevice (3) metrics',
    ]);
  });

  it('maxAutoRegistered caps the devices that register themselves, within one batch too', async () => {
    const s = await setup({ maxAutoRegistered: 3 });
    const ids = Array.from({ length: 6 }, (_, i) => `made-up-${i}`);
    await s.ingest.accept(ids.map((id) => reading(id, NOW)));
    await s.ingest.accept([reading('made-up-0', NOW), reading('known', NOW)]);
    expect(s.registry.autoRegisteredCount()).toBe(3);
    expect(
      s.registry
        .list()
        .map((d) => d.id)
        .sort(),
    ).toEqual(['known', 'made-up-0', 'made-up-1', 'made-up-2']);
    expect(s.ingest.counters).toMatchObject({ accepted: 5, unknownDeviceRejected: 3 });
    expect((await s.deadLetters.list(1))[0]?.reason).toMatch(/3 devices registered themselves already/);
  });
});
