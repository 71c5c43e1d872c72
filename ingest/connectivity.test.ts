import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { silentLogger } from '../test/helpers.js';
import { ConnectivityMonitor } from './connectivity.js';
import { DeviceRegistry } from './devices.js';
import { Ingest } from './ingest.js';
import type { Point } from './point.js';
import { SqliteDeadLetterStore } from './sqlite-dead-letter-store.js';
import { SqliteDeviceStore } from './sqlite-device-store.js';
import { SqliteTelemetryLog } from './sqlite-telemetry-log.js';

describe('ConnectivityMonitor', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());

  async function setup(devices: { id: string; tags: Record<string, string>; offlineAfter?: number }[] = []) {
    db = openDatabase(':memory:');
    let now = 1_000_000;
    const registry = new DeviceRegistry(new SqliteDeviceStore(db), [], devices);
    await registry.load();
    const ingest = new Ingest({
      log: new SqliteTelemetryLog(db),
      registry,
      deadLetters: new SqliteDeadLetterStore(db),
      logger: silentLogger,
    });
    const monitor = new ConnectivityMonitor({
      sink: ingest,
      registry,
      logger: silentLogger,
      offlineAfterMs: 60_000,
      now: () => now,
    });
    const seen: Point[] = [];
    ingest.onReading((p, d) => {
      seen.push(p);
      monitor.onReading(p, d);
    });
    const reading = (deviceId: string) =>
      ingest.accept([{ deviceId, ts: now, receivedAt: now, fields: { t: 1 }, source: 'test' }]);
    const settle = () => new Promise((r) => setTimeout(r, 20));
    return {
      registry,
      monitor,
      seen,
      reading,
      settle,
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  it('online with the first reading, offline after silence (once), online again with the next reading', async () => {
    const t = await setup();
    await t.reading('d1');
    await t.settle();
    expect(t.registry.get('d1')?.connectivity).toMatchObject({ state: 'online', reason: 'first reading' });
    t.advance(59_000);
    expect(t.monitor.check()).toBe(0);
    t.advance(2_000);
    expect(t.monitor.check()).toBe(1);
    await t.settle();
    expect(t.monitor.check()).toBe(0); // already offline: no second change
    expect(t.registry.get('d1')?.connectivity).toMatchObject({
      state: 'offline',
      reason: 'no reading for 61 s',
    });
    // The gateway's offline reading does not count as the device being seen.
    expect(t.registry.get('d1')?.lastSeenAt).toBe(1_000_000);
    t.advance(10_000);
    await t.reading('d1');
    await t.settle();
    expect(t.registry.get('d1')?.connectivity).toMatchObject({ state: 'online', reason: 'readings resumed' });
    const changes = t.seen.filter((p) => p.connectivity).map((p) => [p.connectivity?.state, p.fields.online]);
    expect(changes).toEqual([
      ['online', true],
      ['offline', false],
      ['online', true],
    ]);
  });

  it('a device can have its own silence limit', async () => {
    const t = await setup([{ id: 'hourly', tags: {}, offlineAfter: 3_600_000 }]);
    await t.reading('hourly');
    await t.reading('fast');
    await t.settle();
    t.advance(120_000);
    expect(t.monitor.check()).toBe(1);
    await t.settle();
    expect(t.registry.get('hourly')?.connectivity.state).toBe('online');
    expect(t.registry.get('fast')?.connectivity.state).toBe('offline');
  });
});
