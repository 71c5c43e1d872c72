import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newDevice } from '../ingest/devices.js';
import { openDatabase } from '../lib/sqlite.js';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { silentLogger, tempDir } from '../test/helpers.js';
import { nextVisit, PreventivePlanner, preventiveScheduleSchema } from './preventive.js';
import { TicketService } from './service.js';
import { slaSchema } from './sla-policy.js';
import { SqliteTicketStore } from './sqlite-store.js';

const D = 86_400_000;
const t = (iso: string) => Date.parse(iso);

describe('preventive maintenance schedules', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('every N months from a local date-time keeps the local hour across DST; cron rules too', () => {
    const s = preventiveScheduleSchema.parse({
      id: 'q',
      title: 'Quarterly service',
      model: 'press-*',
      every: { months: 3 },
      from: '2026-01-05T08:00',
      timezone: 'Europe/Berlin',
    });
    expect(nextVisit(s, t('2026-01-01T00:00:00Z'))).toBe(t('2026-01-05T07:00:00Z')); // 08:00 CET
    expect(nextVisit(s, t('2026-02-01T00:00:00Z'))).toBe(t('2026-04-05T06:00:00Z')); // 08:00 CEST
    expect(nextVisit(s, t('2026-04-05T06:00:00Z'))).toBe(t('2026-07-05T06:00:00Z'));
    const c = preventiveScheduleSchema.parse({ id: 'c', title: 'x', devices: ['a'], cron: '0 8 1 * *' });
    expect(nextVisit(c, t('2026-11-24T00:00:00Z'))).toBe(t('2026-12-01T08:00:00Z'));
  });

  it('configuration errors name the key', () => {
    const issues = (o: Record<string, unknown>) =>
      preventiveScheduleSchema
        .safeParse({ id: 's', title: 't', devices: ['a'], ...o })
        .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ every: { months: 3 } })).toEqual(['from: every needs from (the first visit)']);
    expect(issues({})).toEqual(['every: give exactly one of every (with from) and cron']);
    expect(issues({ cron: '0 8 * *' })?.[0]).toMatch(/^cron: not a cron expression/);
    expect(issues({ every: { days: 1, weeks: 1 }, from: '2026-01-01T00:00' })).toEqual([
      'every: give one of days, weeks or months',
    ]);
  });

  it('opens the ticket `notice` before the visit, with the visit as deadline, once per visit — also after a restart', async () => {
    const db = openDatabase(join(tmp.dir, 'p.db'));
    const store = new SqliteTicketStore(db);
    const policy = slaSchema.parse({});
    const sched = new ManualScheduler(t('2026-11-20T00:00:00Z'));
    let clock = sched; // the gateway's clock: a restart below brings a new one
    const tickets = new TicketService({
      store,
      policy,
      logger: silentLogger,
      site: (id) => ({ id, name: id, area: 'local', timezone: 'UTC' }),
      now: () => clock.now(),
    });
    const schedule = preventiveScheduleSchema.parse({
      id: 'lube',
      title: 'Lubrication service',
      devices: ['press-1'],
      every: { days: 30 },
      from: '2026-12-01T08:00',
    });
    const device = newDevice('press-1', { name: 'Press 1', configured: true });
    const opened: string[] = [];
    const planner = (s = sched) => {
      clock = s;
      return new PreventivePlanner({
        schedules: [schedule],
        devices: () => [device],
        notice: policy.preventive.notice,
        db,
        scheduler: s,
        logger: silentLogger,
        open: async (sc, d, visitAt) => {
          const x = await tickets.openPreventive(sc, d, visitAt);
          if (x) opened.push(`${x.id} ${new Date(visitAt).toISOString()}`);
          return x?.id ?? null;
        },
      });
    };
    const p = planner();
    await p.run();
    expect(opened).toEqual([]);
    sched.advanceTo(t('2026-11-28T08:00:00Z')); // three days before the visit
    await p.idle();
    expect(opened).toEqual(['T-1 2026-12-01T08:00:00.000Z']);
    const first = await store.get('T-1');
    expect(first).toMatchObject({ priority: 'preventive', source: 'preventive', deviceId: 'press-1' });
    expect(first?.sla.visit?.dueAt).toBe(t('2026-12-01T08:00:00Z'));
    p.stop();

    // A restart on 29 November: the visit of 1 December already has its ticket.
    const again = planner(new ManualScheduler(t('2026-11-29T00:00:00Z')));
    await again.run();
    expect(opened).toHaveLength(1);
    again.stop();

    // A month on: the next visit's ticket, three days ahead again.
    const later = new ManualScheduler(t('2026-12-27T00:00:00Z'));
    const p3 = planner(later);
    await p3.run();
    later.advanceTo(t('2026-12-28T08:00:00Z'));
    await p3.idle();
    expect(opened).toEqual(['T-1 2026-12-01T08:00:00.000Z', 'T-2 2026-12-31T08:00:00.000Z']);
    expect((await store.get('T-2'))?.reportedAt).toBe(t('2026-12-28T08:00:00Z'));
    p3.stop();
    db.close();
  });
});
