import { afterAll, describe, expect, it } from 'vitest';
import { type Device, newDevice } from '../ingest/devices.js';
import { openDatabase } from '../lib/sqlite.js';
import { tempDir } from '../test/helpers.js';
import { occurrence, recurringWindowSchema, Silences } from './silences.js';
import { SqliteSilenceStore } from './sqlite-silence-store.js';

const device = (id: string, site = 'north'): Device => newDevice(id, { site });

describe('maintenance windows', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  const weekly = recurringWindowSchema.parse({
    id: 'sunday-night',
    sites: ['north'],
    every: '0 22 * * 0',
    timezone: 'Europe/Berlin',
    duration: '6h',
    reason: 'weekly maintenance shift',
  });

  it('a recurring window follows its time zone across a DST change', () => {
    // Sunday 2026-10-18 22:00 CEST = 20:00Z; Sunday 2026-10-25 22:00 CET = 21:00Z (DST ended that morning).
    expect(occurrence(weekly, Date.parse('2026-10-18T23:00:00Z'))).toEqual({
      from: Date.parse('2026-10-18T20:00:00Z'),
      to: Date.parse('2026-10-19T02:00:00Z'),
      covering: true,
    });
    expect(occurrence(weekly, Date.parse('2026-10-25T20:30:00Z'))).toMatchObject({
      from: Date.parse('2026-10-25T21:00:00Z'),
      covering: false,
    });
    expect(occurrence(weekly, Date.parse('2026-10-25T21:00:00Z')).covering).toBe(true);
    expect(occurrence(weekly, Date.parse('2026-10-26T03:00:00Z')).covering).toBe(false); // 6 h are over
  });

  it('configuration errors name the key: cron, time zone, what is covered', () => {
    const issues = (o: Record<string, unknown>) =>
      recurringWindowSchema
        .safeParse({ id: 'w', sites: ['x'], every: '0 22 * * 0', duration: '1h', reason: 'r', ...o })
        .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ every: '61 22 * * 0' })?.[0]).toMatch(/^every: not a cron expression: Constraint error/);
    expect(issues({ every: '0 22 * *' })).toEqual([
      'every: not a cron expression: expected 5 fields: minute hour day-of-month month day-of-week',
    ]);
    expect(issues({ timezone: 'Mars/Olympus' })).toEqual(['timezone: unknown time zone "Mars/Olympus"']);
    expect(issues({ sites: [] })).toEqual(['devices: give devices (ids or globs) and/or sites']);
  });

  it('covering(): stored windows by device glob, recurring ones by site; the longer-running wins', async () => {
    let now = Date.parse('2026-11-22T22:30:00Z'); // a Sunday, inside the weekly window (23:30 CET)
    const store = new Silences(new SqliteSilenceStore(openDatabase(`${tmp.dir}/s.db`)), () => now, [weekly]);
    await store.refresh();
    expect(store.covering(device('press-1'), now)?.id).toBe('maintenance:sunday-night');
    expect(store.covering(device('press-1', 'south'), now)).toBeUndefined();
    const s = await store.create({
      devices: ['press-*'],
      sites: [],
      from: now,
      to: now + 86_400_000,
      reason: 'overhaul',
      createdBy: 't',
      ticketId: 'T-7',
    });
    expect(store.covering(device('press-1', 'south'), now)?.id).toBe(s.id);
    expect(store.covering(device('press-1'), now)?.id).toBe(s.id); // ends later than tonight's shift
    expect((await store.list()).map((x) => x.id)).toEqual(['maintenance:sunday-night', s.id]);
    now += 3_600_000;
    await store.end(s.id);
    expect(store.covering(device('press-1', 'south'), now)).toBeUndefined();
    expect((await store.list()).map((x) => x.id)).toEqual(['maintenance:sunday-night']);
    expect((await store.list({ all: true })).map((x) => x.id)).toEqual(['maintenance:sunday-night', s.id]);
  });
});
