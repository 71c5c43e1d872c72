import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { silentLogger } from '../test/helpers.js';
import { type DeviceConfig, deviceSchema, type SiteConfig, siteSchema } from './config.js';
import { DeviceRegistry } from './devices.js';
import { Ingest } from './ingest.js';
import type { Point } from './point.js';
import { SqliteDeadLetterStore } from './sqlite-dead-letter-store.js';
import { SqliteDeviceStore } from './sqlite-device-store.js';
import { SqliteTelemetryLog } from './sqlite-telemetry-log.js';

const NOW = Date.now();

describe('Ingest: the line protocol of readings', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());

  /** Ingest over a fresh in-memory database, with these sites and configured devices. */
  async function setup(sites: SiteConfig[], devices: DeviceConfig[]) {
    db = openDatabase(':memory:');
    const registry = new DeviceRegistry(new SqliteDeviceStore(db), sites, devices);
    await registry.load();
    const log = new SqliteTelemetryLog(db);
    const ingest = new Ingest({
      log,
      registry,
      deadLetters: new SqliteDeadLetterStore(db),
      logger: silentLogger,
      now: () => NOW,
    });
    return { registry, log, ingest };
  }

  it("keeps each reading's series right while reusing it: other tags, another site, other fields", async () => {
    const { registry, log, ingest } = await setup(
      [siteSchema.parse({ id: 'north' }), siteSchema.parse({ id: 'south' })],
      [deviceSchema.parse({ id: 'press-1', site: 'north', model: 'p-400', tags: { line: 'l2' } })],
    );
    const reading = (i: number, o: Partial<Point> = {}): Point => ({
      deviceId: 'press-1',
      ts: NOW - 1_000 + i,
      receivedAt: NOW,
      source: 'test',
      fields: { temperature: 70 + i, 'odd key,=': 1 },
      ...o,
    });
    await ingest.accept([
      reading(0),
      reading(1, { tags: { cell: 'c1' } }),
      reading(2, { tags: { cell: 'c1' } }),
    ]);
    await ingest.accept([
      reading(3, { tags: { cell: 'c2' } }),
      reading(4, { fields: { on: true, mode: 'a "b"' } }),
    ]);
    // A device registering itself in the site its topic names; then a reading of it without tags.
    await ingest.accept([
      reading(5, { deviceId: 'mill-9', tags: { site: 'south' } }),
      reading(6, { deviceId: 'mill-9' }),
    ]);
    await log.flush();
    const lines = (await log.read(0, 10)).flatMap((b) => b.lines.split('\n'));
    const t = (i: number) => NOW - 1_000 + i;
    expect(lines).toEqual([
      `telemetry,device=press-1,line=l2,model=p-400,site=north temperature=70,odd\\ key\\,\\==1 ${t(0)}`,
      `telemetry,cell=c1,device=press-1,line=l2,model=p-400,site=north temperature=71,odd\\ key\\,\\==1 ${t(1)}`,
      `telemetry,cell=c1,device=press-1,line=l2,model=p-400,site=north temperature=72,odd\\ key\\,\\==1 ${t(2)}`,
      `telemetry,cell=c2,device=press-1,line=l2,model=p-400,site=north temperature=73,odd\\ key\\,\\==1 ${t(3)}`,
      `telemetry,device=press-1,line=l2,model=p-400,site=north on=true,mode="a \\"b\\"" ${t(4)}`,
      `telemetry,device=mill-9,site=south temperature=75,odd\\ key\\,\\==1 ${t(5)}`,
      `telemetry,device=mill-9,site=south temperature=76,odd\\ key\\,\\==1 ${t(6)}`,
    ]);
    expect(registry.get('press-1')?.lastValues.temperature).toEqual({ value: 73, ts: t(3) });
  });

  it('delivers the readings of one spool commit together, in arrival order, after it; a failed commit delivers none', async () => {
    const { log, ingest } = await setup([], []);
    const heard: string[] = [];
    ingest.onReading((p) => heard.push(`${p.deviceId}:${p.fields.v}`));
    const reading = (d: string, v: number): Point => ({
      deviceId: d,
      ts: NOW,
      receivedAt: NOW,
      source: 'test',
      fields: { v },
    });
    // Three messages in one turn: one commit, one promise, heard only once durable.
    const a = ingest.accept([reading('m1', 1)]);
    const b = ingest.accept([reading('m2', 2), reading('m1', 3)]);
    const c = ingest.accept([reading('m3', 4)]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(heard).toEqual([]);
    await c;
    expect(heard).toEqual(['m1:1', 'm2:2', 'm1:3', 'm3:4']);
    expect(ingest.counters.accepted).toBe(4);
    // A commit that fails: every message of it is refused and no listener hears of it…
    db.exec(
      "CREATE TRIGGER full BEFORE INSERT ON telemetry_batches BEGIN SELECT RAISE(FAIL, 'disk full'); END",
    );
    const lost = [ingest.accept([reading('m1', 5)]), ingest.accept([reading('m2', 6)])];
    for (const p of lost) await expect(p).rejects.toThrow(/disk full/);
    expect(heard).toHaveLength(4);
    expect(ingest.counters.accepted).toBe(4);
    // …and the next commit goes through as before.
    db.exec('DROP TRIGGER full');
    await ingest.accept([reading('m1', 7)]);
    expect(heard).toEqual(['m1:1', 'm2:2', 'm1:3', 'm3:4', 'm1:7']);
    expect((await log.stats()).points).toBe(5);
  });
});
