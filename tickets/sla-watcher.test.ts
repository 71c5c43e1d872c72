import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { silentLogger, tempDir } from '../test/helpers.js';
import type { Ticket } from './model.js';
import { teamSchema } from './routing.js';
import { computeClocks, slaSchema } from './sla-policy.js';
import { type Notice, SlaWatcher } from './sla-watcher.js';
import { SqliteTicketStore } from './sqlite-store.js';
import type { NewTicket } from './store.js';

const H = 3_600_000;
const policy = slaSchema.parse({});
const teams = [
  teamSchema.parse({ id: 'mech', skills: ['mechanical'], lead: 'ana', technicians: [{ id: 'ben' }] }),
];

function newTicket(priority: 'general' | 'emergency', at: number): NewTicket {
  return {
    title: 'Spindle overheat',
    description: '',
    priority,
    status: 'open',
    source: 'phone',
    deviceId: 'cnc-1',
    site: 'north',
    area: 'local',
    customer: null,
    equipmentModel: null,
    ruleId: null,
    alertId: null,
    faultType: 'mechanical',
    reportedAt: at,
    createdAt: at,
    updatedAt: at,
    assignees: ['ben'],
    team: 'mech',
    labels: {},
    reporter: null,
    sla: computeClocks(policy, priority, 'local', at),
  };
}

/** Files a ticket reported at 0 straight into the store. */
const file = (store: SqliteTicketStore, priority: 'general' | 'emergency'): Promise<Ticket> =>
  store.create(newTicket(priority, 0), {
    at: 0,
    type: 'created',
    actor: 'ops',
    from: null,
    to: 'open',
    note: null,
  });

describe('SLA watcher: warnings and breaches at their moments, escalated along the chain', () => {
  const tmp = tempDir();
  let db: SqliteDatabase | undefined;
  afterEach(() => {
    db?.close();
  });
  afterAll(() => tmp.cleanup());

  const setup = (start: number, file = 'a.db') => {
    db = openDatabase(join(tmp.dir, file));
    const store = new SqliteTicketStore(db);
    const sched = new ManualScheduler(start);
    const notices: Notice[] = [];
    const watcher = new SlaWatcher({
      store,
      policy,
      teams,
      supervisors: { '*': 'sam' },
      scheduler: sched,
      logger: silentLogger,
      onNotice: (n) => notices.push(n),
    });
    return { store, sched, notices, watcher };
  };
  const texts = async (store: SqliteTicketStore, id: string) =>
    (await store.timeline(id))
      .filter((e) => e.actor === 'sla')
      .map((e) => `${e.type}@${e.at / H}h: ${e.note}`);

  it('general ticket: 50 % and 75 % warnings to assignee and lead, the breach to the supervisor', async () => {
    const { store, sched, watcher } = setup(0);
    const t = await file(store, 'general');
    await watcher.start();
    sched.advanceTo(2 * H);
    await watcher.idle();
    expect(await texts(store, t.id)).toEqual([
      'sla_warning@2h: response: 50 % of the time used, due 1970-01-01T04:00:00.000Z → ben (assignee), ana (lead)',
    ]);
    sched.advanceTo(4 * H + 1);
    await watcher.idle();
    sched.advanceTo(4 * H + 1);
    await watcher.idle();
    const all = await texts(store, t.id);
    expect(all).toContain(
      'sla_warning@3h: response: 75 % of the time used, due 1970-01-01T04:00:00.000Z → ben (assignee), ana (lead)',
    );
    expect(all).toContain(
      'sla_breach@4h: response deadline 1970-01-01T04:00:00.000Z missed → sam (supervisor)',
    );
    expect(all).toContain(
      'sla_warning@4h: remoteFix: 50 % of the time used, due 1970-01-01T08:00:00.000Z → ben (assignee), ana (lead)',
    );
    watcher.stop();
  });

  it('after a restart, what fell due while down is announced at once, and nothing twice', async () => {
    const first = setup(0, 'b.db');
    const t = await file(first.store, 'general');
    await first.watcher.start();
    first.sched.advanceTo(2 * H);
    await first.watcher.idle();
    first.watcher.stop();
    first.store.close();
    db?.close();

    // Down from 2 h to 10 h: response (4 h) and remote fix (8 h) were missed meanwhile.
    const again = setup(10 * H, 'b.db');
    await again.watcher.start();
    await again.watcher.idle();
    const all = await texts(again.store, t.id);
    expect(all.filter((x) => x.startsWith('sla_warning@2h: response: 50'))).toHaveLength(1);
    expect(all).toContain(
      'sla_breach@4h: response deadline 1970-01-01T04:00:00.000Z missed → sam (supervisor)',
    );
    expect(all).toContain(
      'sla_breach@8h: remoteFix deadline 1970-01-01T08:00:00.000Z missed → sam (supervisor)',
    );
    const before = all.length;
    const third = new SlaWatcher({
      store: again.store,
      policy,
      teams,
      supervisors: { '*': 'sam' },
      scheduler: again.sched,
      logger: silentLogger,
    });
    await third.start();
    expect((await texts(again.store, t.id)).length).toBe(before);
    again.watcher.stop();
    third.stop();
  });

  it('an emergency tells the lead when it is created; a met clock raises nothing', async () => {
    const { store, sched, watcher, notices } = setup(0, 'c.db');
    const t: Ticket = await file(store, 'emergency');
    await watcher.start();
    await watcher.changed(t, true);
    expect(notices.map((n) => [n.stage, n.recipients])).toEqual([
      ['created', [{ role: 'lead', who: 'ana' }]],
    ]);
    await store.update(t.id, (x) => ({
      ticket: {
        ...x,
        sla: {
          ...x.sla,
          response: {
            ...(x.sla.response as NonNullable<Ticket['sla']['response']>),
            metAt: 10 * 60_000,
            runningSince: null,
            workedMs: 10 * 60_000,
          },
        },
      },
      events: [],
    }));
    await watcher.changed(t);
    sched.advanceTo(H + 1);
    await watcher.idle();
    expect(notices.filter((n) => n.target === 'response')).toEqual([]);
    watcher.stop();
  });
});
