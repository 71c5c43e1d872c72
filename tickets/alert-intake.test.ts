import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newDevice } from '../ingest/devices.js';
import { openDatabase } from '../lib/sqlite.js';
import type { Alert } from '../rules/alerts.js';
import type { AlertTransition } from '../rules/engine.js';
import { ManualScheduler } from '../rules/manual-scheduler.js';
import { ruleFrom } from '../rules/schema.js';
import { silentLogger, tempDir } from '../test/helpers.js';
import { AlertIntake, NOTE_WINDOW_MS, NOTES_PER_WINDOW } from './alert-intake.js';
import type { TicketEvent } from './model.js';
import { TicketService } from './service.js';
import { slaSchema } from './sla-policy.js';
import { SqliteTicketStore } from './sqlite-store.js';

const T0 = Date.parse('2026-12-07T08:00:00Z');
const rule = ruleFrom({
  id: 'hot',
  match: { metric: 'temperature' },
  threshold: { above: 90 },
  ticket: { priority: 'general', faultType: 'thermal' },
});
const device = newDevice('press-1', { model: null, site: 'default', tags: {}, configured: true });

/** An amount a timeline entry stands for: 1, or the N of a summary ("N more …"). */
const amount = (e: TicketEvent) => Number(/(\d+) more /.exec(e.note ?? '')?.[1] ?? 1);

describe('AlertIntake: the changes of a flapping alert on its ticket', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  function setup(file: string) {
    const store = new SqliteTicketStore(openDatabase(join(tmp.dir, file)));
    const clock = new ManualScheduler(T0);
    const tickets = new TicketService({
      store,
      policy: slaSchema.parse({}),
      logger: silentLogger,
      site: (id) => ({ id, name: id, area: 'local', timezone: 'UTC' }),
      now: clock.now,
    });
    const events: string[] = [];
    tickets.onChange(({ kind, ticket }) => events.push(`${kind} ${ticket.occurrences}`));
    const intake = new AlertIntake(tickets, { ticketOf: async () => undefined }, silentLogger, clock);
    const alert = (state: 'firing' | 'resolved'): Alert => ({
      id: 'hot@press-1',
      ruleId: 'hot',
      deviceId: 'press-1',
      state,
      priority: 'general',
      faultType: 'thermal',
      value: 95,
      activeAt: clock.now(),
      firedAt: clock.now(),
      resolvedAt: state === 'resolved' ? clock.now() : null,
      fireCount: 1,
      flapping: false,
      silencedBy: null,
      updatedAt: clock.now(),
    });
    const transition = (): AlertTransition => ({
      alertId: 'hot@press-1',
      rule,
      device,
      event: { type: 'firing', at: clock.now(), value: 95 },
    });
    /** `n` fire/clear cycles, one second apart. */
    const flap = async (n: number) => {
      for (let i = 0; i < n; i++) {
        clock.advanceTo(clock.now() + 500);
        await intake.firing(alert('firing'), transition());
        clock.advanceTo(clock.now() + 500);
        await intake.resolved(alert('resolved'));
      }
    };
    const ticketOf = async () => {
      const page = await tickets.list({ ruleId: 'hot', deviceId: 'press-1' }, 'urgency', 10);
      expect(page.items).toHaveLength(1);
      const t = page.items[0];
      if (!t) throw new Error('no ticket');
      return { ticket: t, timeline: await tickets.timeline(t.id) };
    };
    return { store, clock, tickets, intake, flap, ticketOf, events };
  }

  it('notes the first changes of a window one by one, then sums the rest when the window ends', async () => {
    const s = setup('flap.db');
    await s.flap(50); // one ticket, 49 occurrences, 50 recoveries in 50 s
    let { ticket, timeline } = await s.ticketOf();
    expect(ticket.occurrences).toBe(49);
    expect(ticket.lastOccurrenceAt).toBe(T0 + 49_500);
    // Created, then occurrences and recoveries one by one up to the window's budget.
    expect(timeline).toHaveLength(NOTES_PER_WINDOW);
    expect(timeline.map((e) => e.type)).toEqual([
      'created',
      'alert_resolved',
      'occurrence',
      'alert_resolved',
      'occurrence',
      'alert_resolved',
    ]);
    // The window ends: one entry per kind sums the rest, in the order they ended; one event.
    const eventsBefore = s.events.length;
    s.clock.advanceTo(T0 + 500 + NOTE_WINDOW_MS);
    await s.intake.flush();
    ({ ticket, timeline } = await s.ticketOf());
    const summary = timeline.slice(NOTES_PER_WINDOW);
    expect(summary.map((e) => [e.type, e.at])).toEqual([
      ['occurrence', T0 + 49_500],
      ['alert_resolved', T0 + 50_000],
    ]);
    expect(summary[0]?.note).toBe(
      `47 more occurrences since ${new Date(T0 + 3_500).toISOString()}, the last at ${new Date(T0 + 49_500).toISOString()}`,
    );
    const sum = (type: string) => timeline.filter((e) => e.type === type).reduce((n, e) => n + amount(e), 0);
    expect(sum('occurrence')).toBe(49);
    expect(sum('alert_resolved')).toBe(50);
    expect(s.events.slice(eventsBefore)).toEqual(['occurrence 49']);
    // Nothing pending: another flush writes nothing.
    await s.intake.flush();
    expect((await s.ticketOf()).timeline).toHaveLength(NOTES_PER_WINDOW + 2);
  });

  it('writes the summary by itself when the window ends, and notes changes one by one again after a quiet window', async () => {
    const s = setup('timer.db');
    await s.flap(10);
    expect((await s.ticketOf()).timeline).toHaveLength(NOTES_PER_WINDOW);
    s.clock.advanceTo(s.clock.now() + NOTE_WINDOW_MS); // the timer armed by the first summed change
    await s.intake.flush(); // waits for the timer's flush in progress, if any
    let { timeline } = await s.ticketOf();
    expect(timeline).toHaveLength(NOTES_PER_WINDOW + 2);
    // Quiet for a window: the next change has its own entry again.
    s.clock.advanceTo(s.clock.now() + NOTE_WINDOW_MS);
    await s.flap(1);
    ({ timeline } = await s.ticketOf());
    expect(timeline.slice(-2).map((e) => [e.type, e.note === null || !e.note.includes('more')])).toEqual([
      ['occurrence', true],
      ['alert_resolved', true],
    ]);
  });

  it('a ticket resolved by a person mid-flap keeps what was counted on it; the next firing opens a new one', async () => {
    const s = setup('reopen.db');
    await s.flap(10);
    const first = (await s.ticketOf()).ticket;
    await s.store.update(first.id, (t) => ({
      ticket: { ...t, status: 'closed', finalAt: s.clock.now() },
      events: [],
    }));
    await s.flap(1);
    const page = await s.tickets.list({ ruleId: 'hot', deviceId: 'press-1' }, '-createdAt', 10);
    expect(page.items).toHaveLength(2);
    const old = await s.tickets.get(first.id);
    const sum = (timeline: TicketEvent[], type: string) =>
      timeline.filter((e) => e.type === type).reduce((n, e) => n + amount(e), 0);
    const oldTimeline = await s.tickets.timeline(first.id);
    expect(old.occurrences).toBe(9);
    expect(sum(oldTimeline, 'occurrence')).toBe(9); // summarised when the new ticket took the pair
    await s.intake.flush();
    expect(sum(await s.tickets.timeline(first.id), 'alert_resolved')).toBe(10);
  });
});
