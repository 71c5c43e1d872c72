import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newDevice } from '../ingest/devices.js';
import { openDatabase } from '../lib/sqlite.js';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { silentLogger, tempDir } from '../test/helpers.js';
import {
  forecastDue,
  nextDueValue,
  nextVisit,
  PreventivePlanner,
  preventiveScheduleSchema,
} from './preventive.js';
import { TicketService } from './service.js';
import { slaSchema } from './sla-policy.js';
import { SqlitePreventiveStore } from './sqlite-preventive-store.js';
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
    expect(issues({})).toEqual(['every: give exactly one of every (with from), cron and usage']);
    expect(issues({ cron: '0 8 1 * *', usage: { metric: 'h', every: 5 } })).toEqual([
      'every: give exactly one of every (with from), cron and usage',
    ]);
    expect(issues({ usage: { metric: 'h', every: 0 } })?.[0]).toMatch(/^usage\.every: /);
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
        store: new SqlitePreventiveStore(db),
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
    await p.start();
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
    await again.start();
    expect(opened).toHaveLength(1);
    again.stop();

    // A month on: the next visit's ticket, three days ahead again.
    const later = new ManualScheduler(t('2026-12-27T00:00:00Z'));
    const p3 = planner(later);
    await p3.start();
    later.advanceTo(t('2026-12-28T08:00:00Z'));
    await p3.idle();
    expect(opened).toEqual(['T-1 2026-12-01T08:00:00.000Z', 'T-2 2026-12-31T08:00:00.000Z']);
    expect((await store.get('T-2'))?.reportedAt).toBe(t('2026-12-28T08:00:00Z'));
    p3.stop();
    db.close();
  });

  it('usage counters: due values on a grid, the visit forecast from the rate since the last service', () => {
    expect(nextDueValue({ every: 500 }, 0)).toBe(500);
    expect(nextDueValue({ every: 500 }, 500)).toBe(1_000);
    expect(nextDueValue({ every: 500, first: 100 }, 730)).toBe(1_100);
    const H = 3_600_000;
    // 10 cycles per hour since the baseline: 1,000 is 50 hours after the 500 of the last reading.
    expect(forecastDue({ value: 0, at: 0 }, { value: 500, at: 50 * H }, 1_000)).toBe(100 * H);
    expect(forecastDue({ value: 0, at: 0 }, { value: 10, at: 60_000 }, 1_000)).toBeNull(); // watched 1 min
    expect(forecastDue({ value: 7, at: 0 }, { value: 7, at: 5 * H }, 1_000)).toBeNull(); // standing still
  });

  it('a usage schedule opens one ticket per service, across restarts; a reset counter starts a new baseline', async () => {
    const H = 3_600_000;
    const db = openDatabase(join(tmp.dir, 'usage.db'));
    const store = new SqliteTicketStore(db);
    const sched = new ManualScheduler(t('2026-11-20T00:00:00Z'));
    const tickets = new TicketService({
      store,
      policy: slaSchema.parse({}),
      logger: silentLogger,
      site: (id) => ({ id, name: id, area: 'local', timezone: 'UTC' }),
      now: () => sched.now(),
    });
    const s = preventiveScheduleSchema.parse({
      id: 'bearing',
      title: 'Bearing service',
      devices: ['m-*'],
      usage: { metric: 'cycles', every: 1_000 },
      notice: '1d',
    });
    const device = newDevice('m-1', { name: 'Mill 1', configured: true });
    const opened: string[] = [];
    const planner = () =>
      new PreventivePlanner({
        schedules: [s],
        devices: () => [device],
        notice: 3 * D,
        store: new SqlitePreventiveStore(db),
        scheduler: sched,
        logger: silentLogger,
        open: async (sc, d, visitAt, usage) => {
          const x = await tickets.openPreventive(sc, d, visitAt, usage);
          if (x) opened.push(`${x.ruleId} visit ${new Date(visitAt).toISOString()}`);
          return x?.id ?? null;
        },
      });
    let p = planner();
    await p.start();
    const start = sched.now();
    const at = (h: number) => start + h * H;
    /** A reading arriving `h` hours in. */
    const read = (h: number, cycles: number) => {
      sched.advanceTo(at(h));
      p.observe({ cycles }, device, at(h));
    };
    // 10 cycles per hour from 200: 1,000 is reached after 80 h; the ticket opens 24 h before that.
    read(0, 200);
    read(20, 400);
    read(55, 750); // 25 h left: not yet
    await p.idle();
    expect(opened).toEqual([]);
    read(60, 800); // 20 h left: inside the notice
    read(60.1, 801); // while it opens: not twice
    await p.idle();
    expect(opened).toEqual([`preventive:bearing:cycles=1000 visit ${new Date(at(80)).toISOString()}`]);
    p.stop();

    // Restarted: the state is read back; the next service is at 2,000.
    p = planner();
    await p.start();
    read(70, 900);
    await p.idle();
    expect(opened).toHaveLength(1);
    // The service was done; then the counter was replaced (back to 5): a new baseline, and the next
    // service at 1,000 of the new counter. (While the old ticket is open, the same key is not reopened.)
    await tickets.transition('T-1', 'cancelled', { actor: 'ana', note: 'done with the overhaul' });
    read(100, 5);
    read(200, 1_005); // already past 1,000: visit proposed notice from now
    await p.idle();
    expect(opened[1]).toBe(`preventive:bearing:cycles=1000 visit ${new Date(sched.now() + D).toISOString()}`);
    p.stop();
    db.close();
  });
});
