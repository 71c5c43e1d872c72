import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../ingest/devices.js';
import { History } from '../ingest/history.js';
import { SqliteDeviceStore } from '../ingest/sqlite-device-store.js';
import { SqliteHistoryStore } from '../ingest/sqlite-history-store.js';
import { SqliteTelemetryLog } from '../ingest/sqlite-telemetry-log.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { Housekeeping } from './housekeeping.js';

describe('Housekeeping', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());

  it('drops spool batches past the age bound, counts them and says so in the log', async () => {
    db = openDatabase(':memory:');
    let now = 1_000_000;
    const log = new SqliteTelemetryLog(db, () => now);
    await log.append('m v=1 1\nm v=2 2', 2);
    now += 10_000;
    await log.append('m v=3 3', 1);
    const lines: { msg: string; dropped?: number }[] = [];
    const hk = new Housekeeping({
      registry: new DeviceRegistry(new SqliteDeviceStore(db), [], []),
      history: new History(new SqliteHistoryStore(db)),
      historyStore: new SqliteHistoryStore(db),
      historyRetentionMs: 86_400_000,
      log,
      spoolMaxBytes: 1_000_000,
      spoolMaxAgeMs: 5_000,
      logger: pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) }),
    });
    expect(await hk.enforceSpoolBounds(now)).toBe(2);
    expect(hk.spoolDropped).toBe(2);
    expect(lines).toMatchObject([{ msg: 'spool bound reached: oldest readings dropped', dropped: 2 }]);
    expect((await log.stats()).points).toBe(1);
    expect(await hk.enforceSpoolBounds(now)).toBe(0);
    expect(lines).toHaveLength(1);
  });
});
