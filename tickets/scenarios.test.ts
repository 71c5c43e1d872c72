import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../lib/sqlite.js';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { silentLogger, tempDir } from '../test/helpers.js';
import { teamSchema } from './routing.js';
import { TicketService } from './service.js';
import { firstWarningAt, slaSchema } from './sla-policy.js';
import { type Notice, SlaWatcher } from './sla-watcher.js';
import { SqliteTicketStore } from './sqlite-store.js';

const M = 60_000;
const H = 60 * M;
const T0 = Date.parse('2026-11-24T08:00:00Z');
const iso = (t: number) => new Date(t).toISOString();

/**
 * The response process of the plan, walked end to end on a manual clock: every deadline, clock
 * state, notification and timeline entry is checked.
 */
describe('ticket scenarios (the plan, end to end)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  function setup(file: string) {
    const policy = slaSchema.parse({});
    const db = openDatabase(join(tmp.dir, file));
    const store = new SqliteTicketStore(db, (c) => firstWarningAt(policy, c));
    const clock = new ManualScheduler(T0);
    const teams = [
      teamSchema.parse({
        id: 'own',
        skills: ['mechanical'],
        areas: ['local'],
        lead: 'ana',
        supervisor: 'sam',
        technicians: [{ id: 'ben' }],
      }),
      teamSchema.parse({
        id: 'partner',
        skills: ['mechanical'],
        areas: ['remote'],
        partner: true,
        lead: 'pia',
        supervisor: 'sam',
        technicians: [{ id: 'fox' }],
      }),
    ];
    const service = new TicketService({
      store,
      policy,
      logger: silentLogger,
      site: (id) => ({ id, name: id, area: id === 'far' ? 'remote' : 'local', timezone: 'UTC' }),
      teams,
      routing: { autoAssign: true },
      now: clock.now,
    });
    const notices: Notice[] = [];
    const watcher = new SlaWatcher({
      store,
      policy,
      teams,
      supervisors: { own: 'sam', partner: 'sam' },
      scheduler: clock,
      logger: silentLogger,
      onNotice: (n) => notices.push(n),
    });
    service.onChange(({ kind, ticket }) => void watcher.changed(ticket, kind === 'created'));
    /** Moves time on, letting the watcher announce what falls due on the way. */
    const until = async (t: number) => {
      for (let step = clock.now(); step < t; ) {
        step = Math.min(t, step + 30 * M);
        clock.advanceTo(step);
        await watcher.idle();
      }
    };
    return { db, store, service, watcher, notices, clock, until };
  }

  it('an emergency in a remote area: partner team, lead told at once, on-site within 24 h, report, review, close', async () => {
    const { db, store, service, watcher, notices, until } = setup('emergency.db');
    await watcher.start();
    const t = await service.createManual({
      title: 'Safety door circuit open on press 9',
      description: 'Press stopped, operators waiting',
      priority: 'emergency',
      source: 'phone',
      reporter: { name: 'Shift lead', takenBy: 'hotline-1' },
      faultType: 'mechanical',
      site: 'far',
      actor: 'hotline-1',
    });
    await watcher.idle();
    expect(t).toMatchObject({ team: 'partner', assignees: ['fox'], area: 'remote' });
    expect(t.sla.response?.dueAt).toBe(T0 + H);
    expect(t.sla.onsite?.dueAt).toBe(T0 + 24 * H);
    expect(notices.map((n) => `${n.stage}:${n.recipients.map((r) => r.who).join('+')}`)).toEqual([
      'created:pia',
    ]);

    await until(T0 + 20 * M);
    await service.transition(t.id, 'acknowledged', { actor: 'fox', note: 'called back, assessing remotely' });
    await service.transition(t.id, 'diagnosing', { actor: 'fox' });
    await until(T0 + H);
    const dispatched = await service.transition(t.id, 'dispatched', {
      actor: 'pia',
      note: 'technician on the way, ETA tomorrow morning',
      dispatch: {
        appointmentAt: T0 + 18 * H,
        tools: ['multimeter', 'interlock tester'],
        parts: [{ part: 'interlock switch S-7', quantity: 1 }],
      },
    });
    // The partner team goes (the ticket's team is a partner); its technician is the assignee.
    expect(dispatched.dispatch).toMatchObject({
      by: 'partner',
      team: 'partner',
      technicians: ['fox'],
      appointmentAt: T0 + 18 * H,
      plannedBy: 'pia',
    });
    await service.comment(t.id, 'guided the operator through a manual door reset meanwhile', 'fox');
    await until(T0 + 10 * H);
    // The customer cannot open the site before 20 h: another time is agreed, still within the target.
    const moved = await service.agreeVisit(t.id, T0 + 20 * H, 'pia', 'site opens at 06:00');
    expect(moved.dispatch?.appointmentAt).toBe(T0 + 20 * H);
    await until(T0 + 20 * H);
    await service.transition(t.id, 'on_site', { actor: 'fox' });
    await until(T0 + 22 * H);
    await service.transition(t.id, 'resolved', {
      actor: 'fox',
      note: 'door switch replaced',
      report: {
        cause: 'failed door interlock switch',
        actions: 'switch replaced, circuit tested',
        partsUsed: [{ part: 'interlock switch S-7', quantity: 1 }],
        prevention: 'check interlocks at each quarterly service',
      },
    });
    await service.reviewReport(t.id, true, null, 'pia');
    await service.transition(t.id, 'closed', { actor: 'pia' });
    await watcher.idle();

    const final = await store.get(t.id);
    const view = service.view(final as NonNullable<typeof final>);
    expect(view.sla).toEqual({
      response: {
        dueAt: iso(T0 + H),
        state: 'met',
        metAt: iso(T0 + 20 * M),
        pausedAt: null,
        targetMs: H,
        elapsedMs: 20 * M,
      },
      onsite: {
        dueAt: iso(T0 + 24 * H),
        state: 'met',
        metAt: iso(T0 + 20 * H),
        pausedAt: null,
        targetMs: 24 * H,
        elapsedMs: 20 * H,
      },
    });
    // On-site warnings at 12 h and 18 h (50 %, 75 %) went to the assignee and the lead; nothing was breached.
    expect(notices.map((n) => `${n.stage}:${n.target ?? ''}:${n.level ?? ''}@${(n.at - T0) / H}h`)).toEqual([
      'created::@0h',
      'warning:onsite:50@12h',
      'warning:onsite:75@18h',
    ]);
    expect(notices[1]?.recipients).toEqual([
      { role: 'assignee', who: 'fox' },
      { role: 'lead', who: 'pia' },
    ]);
    const timeline = (await store.timeline(t.id)).map(
      (e) => `${e.type}${e.to ? `:${e.to}` : ''}@${Math.round((e.at - T0) / M)}m`,
    );
    expect(timeline).toEqual([
      'created:open@0m',
      'routed@0m',
      'notification@0m',
      'status:acknowledged@20m',
      'status:diagnosing@20m',
      'status:dispatched@60m',
      'dispatch@60m',
      'comment@60m',
      'visit_agreed@600m',
      'sla_warning@720m',
      'sla_warning@1080m',
      'status:on_site@1200m',
      'report@1320m',
      'status:resolved@1320m',
      'review@1320m',
      'status:closed@1320m',
    ]);
    watcher.stop();
    db.close();
  });

  it('a general fault fixed remotely: response and remote fix met, the on-site target dropped, a breach announced when late', async () => {
    const { db, store, service, watcher, notices, until } = setup('general.db');
    await watcher.start();
    const t = await service.createManual({
      title: 'Spindle temperature drifting',
      description: '',
      priority: 'general',
      source: 'portal',
      reporter: { name: 'Maintenance planner' },
      faultType: 'mechanical',
      site: 'near',
      actor: 'portal',
    });
    expect(t).toMatchObject({ team: 'own', assignees: ['ben'] });
    expect([t.sla.response?.dueAt, t.sla.remoteFix?.dueAt, t.sla.onsite?.dueAt]).toEqual([
      T0 + 4 * H,
      T0 + 8 * H,
      T0 + 48 * H,
    ]);
    await until(T0 + 5 * H); // the response is late: breached at 4 h, the supervisor hears of it
    await service.transition(t.id, 'acknowledged', { actor: 'ben' });
    await service.transition(t.id, 'diagnosing', { actor: 'ben' });
    await service.transition(t.id, 'waiting', {
      actor: 'ben',
      waitingOn: 'customer',
      note: 'the customer sends a log',
    });
    await until(T0 + 7 * H); // two paused hours: the remote-fix deadline moves from 8 h to 10 h
    await service.transition(t.id, 'diagnosing', { actor: 'ben', note: 'log received' });
    const moved = await store.get(t.id);
    expect(moved?.sla.remoteFix?.dueAt).toBe(T0 + 10 * H);
    await until(T0 + 9 * H);
    await service.transition(t.id, 'resolved', {
      actor: 'ben',
      note: 'parameter corrected remotely',
      report: {
        cause: 'wrong compensation parameter',
        actions: 'parameter corrected via remote session',
        partsUsed: [],
        prevention: 'parameter set locked',
      },
    });
    await watcher.idle();
    const view = service.view((await store.get(t.id)) as NonNullable<Awaited<ReturnType<typeof store.get>>>);
    expect(view.sla).toEqual({
      response: {
        dueAt: iso(T0 + 4 * H),
        state: 'breached',
        metAt: iso(T0 + 5 * H),
        pausedAt: null,
        targetMs: 4 * H,
        elapsedMs: 5 * H,
      },
      remoteFix: {
        dueAt: iso(T0 + 10 * H),
        state: 'met',
        metAt: iso(T0 + 9 * H),
        pausedAt: null,
        // An 8 h target, of which the two paused hours did not count.
        targetMs: 8 * H,
        elapsedMs: 7 * H,
      },
    });
    expect(
      notices.map(
        (n) =>
          `${n.stage}:${n.target}:${n.level}@${(n.at - T0) / H}h:${n.recipients.map((r) => r.who).join('+')}`,
      ),
    ).toEqual([
      'warning:response:50@2h:ben+ana',
      'warning:response:75@3h:ben+ana',
      // Both at 4 h: the warning as the hour strikes, the breach just after the deadline passes.
      'warning:remoteFix:50@4h:ben+ana',
      'breach:response:100@4h:sam',
      // 6 of 8 working hours used at 8 h: 5 before the pause, 1 after it.
      'warning:remoteFix:75@8h:ben+ana',
    ]);
    const types = (await store.timeline(t.id)).map((e) => e.type);
    expect(types.filter((x) => x === 'status')).toHaveLength(5);
    const waiting = (await store.timeline(t.id)).find((e) => e.to === 'waiting');
    expect(waiting?.note).toBe('waiting on customer: the customer sends a log');
    expect(types).toContain('sla_breach');
    watcher.stop();
    db.close();
  });
});
