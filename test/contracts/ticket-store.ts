import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Calendar } from '../../tickets/calendar.js';
import { fixedClock, pauseClock } from '../../tickets/clock.js';
import type { NewTicketEvent, Ticket } from '../../tickets/model.js';
import type { NewTicket, TicketStore } from '../../tickets/store.js';

/**
 * The behaviour every TicketStore implementation must have. Each implementation's test file calls
 * this with a factory that gives a fresh, empty store (and a cleanup).
 */
export function ticketStoreContract(
  name: string,
  make: () => Promise<{ store: TicketStore; cleanup: () => Promise<void> }>,
) {
  describe(`TicketStore contract: ${name}`, () => {
    let store: TicketStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    const monitoring = (over: Partial<NewTicket> = {}): NewTicket & { ruleId: string; deviceId: string } =>
      ({
        title: 'Overheat',
        description: 'too hot',
        priority: 'emergency',
        status: 'open',
        source: 'monitoring',
        deviceId: 'd1',
        site: 'north',
        area: 'local',
        customer: 'ACME',
        equipmentModel: 'm',
        ruleId: 'r1',
        alertId: 'r1@d1',
        faultType: 'mechanical',
        reportedAt: 1_000,
        createdAt: 2_000,
        updatedAt: 2_000,
        assignees: [],
        team: null,
        labels: {},
        reporter: null,
        sla: { response: fixedClock(1_000, 3_601_000) },
        ...over,
      }) as NewTicket & { ruleId: string; deviceId: string };

    it('opens a ticket and reads it back as stored', async () => {
      const { ticket, created } = await store.openOrRecur(monitoring(), 2_000);
      expect(created).toBe(true);
      expect(ticket.id).toMatch(/^T-\d+$/);
      expect(await store.get(ticket.id)).toEqual(ticket);
      expect(ticket.occurrences).toBe(0);
      expect(await store.get('T-999999')).toBeUndefined();
      expect(await store.get('nonsense')).toBeUndefined();
    });

    it('keeps clock times in whole milliseconds (a fraction from arithmetic on an odd span is rounded, not refused)', async () => {
      const { ticket } = await store.openOrRecur(
        monitoring({ sla: { response: fixedClock(1_000.4, 3_601_000.5) } }),
        2_000,
      );
      const clock = (await store.get(ticket.id))?.sla.response;
      expect(clock).toMatchObject({ startAt: 1_000, dueAt: 3_601_001, targetMs: 3_600_000 });
    });

    it('never holds two open tickets for one (rule, device), even under concurrent intake', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.openOrRecur(monitoring(), 3_000 + i)),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const ids = new Set(results.map((r) => r.ticket.id));
      expect(ids.size).toBe(1);
      const t = (await store.get([...ids][0] as string)) as Ticket;
      expect(t.occurrences).toBe(19);
      expect(t.lastOccurrenceAt).toBe(3_019);
      const timeline = await store.timeline(t.id);
      expect(timeline.filter((e) => e.type === 'occurrence')).toHaveLength(19);
    });

    it('recur counts an occurrence on the open ticket only; clocks and the rest stay as stored', async () => {
      expect(await store.recur('r1', 'd1', 2_500)).toBeUndefined();
      const { ticket } = await store.openOrRecur(monitoring(), 2_000);
      const again = await store.recur('r1', 'd1', 4_000);
      expect(again).toEqual({ ...ticket, occurrences: 1, lastOccurrenceAt: 4_000, updatedAt: 4_000 });
      expect(await store.get(ticket.id)).toEqual(again);
      expect((await store.recur('r1', 'd1', 5_000))?.occurrences).toBe(2);
      expect(await store.recur('r1', 'other-device', 5_000)).toBeUndefined();
      const timeline = await store.timeline(ticket.id);
      expect(timeline.filter((e) => e.type === 'occurrence').map((e) => e.at)).toEqual([4_000, 5_000]);
      // A final ticket takes no more occurrences.
      await store.update(ticket.id, (t) => ({
        ticket: { ...t, status: 'closed', finalAt: 6_000 },
        events: [],
      }));
      expect(await store.recur('r1', 'd1', 7_000)).toBeUndefined();
    });

    it("count adds to the open ticket's counter with no timeline entry and returns its id", async () => {
      expect(await store.count('r1', 'd1', 2_500)).toBeUndefined();
      const { ticket } = await store.openOrRecur(monitoring(), 2_000);
      expect(await store.count('r1', 'd1', 4_000)).toBe(ticket.id);
      expect(await store.count('r1', 'd1', 5_000)).toBe(ticket.id);
      expect(await store.count('r1', 'other-device', 5_000)).toBeUndefined();
      expect(await store.get(ticket.id)).toEqual({
        ...ticket,
        occurrences: 2,
        lastOccurrenceAt: 5_000,
        updatedAt: 5_000,
      });
      expect((await store.timeline(ticket.id)).map((e) => e.type)).toEqual(['created']);
      await store.update(ticket.id, (t) => ({
        ticket: { ...t, status: 'closed', finalAt: 6_000 },
        events: [],
      }));
      expect(await store.count('r1', 'd1', 7_000)).toBeUndefined();
      expect((await store.get(ticket.id))?.occurrences).toBe(2);
    });

    it('noteOnOpen adds a timeline entry to the open ticket of the pair and changes nothing else', async () => {
      const note = {
        at: 3_000,
        type: 'alert_resolved',
        actor: 'monitoring',
        from: null,
        to: null,
        note: 'ok',
      };
      expect(await store.noteOnOpen('r1', 'd1', note as NewTicketEvent)).toBeUndefined();
      const { ticket } = await store.openOrRecur(monitoring(), 2_000);
      expect(await store.noteOnOpen('r1', 'd1', note as NewTicketEvent)).toBe(ticket.id);
      expect(await store.get(ticket.id)).toEqual(ticket);
      const entries = (await store.timeline(ticket.id)).filter((e) => e.type === 'alert_resolved');
      expect(entries).toMatchObject([{ at: 3_000, actor: 'monitoring', note: 'ok' }]);
    });

    it('a final ticket no longer de-duplicates: the next firing opens a new one', async () => {
      const first = await store.openOrRecur(monitoring(), 2_000);
      await store.update(first.ticket.id, (t) => ({
        ticket: { ...t, status: 'resolved', finalAt: 5_000 },
        events: [],
      }));
      const second = await store.openOrRecur(monitoring(), 6_000);
      expect(second.created).toBe(true);
      expect(second.ticket.id).not.toBe(first.ticket.id);
      const other = await store.openOrRecur(monitoring({ deviceId: 'd2' }), 6_000);
      expect(other.created).toBe(true);
    });

    it('update is read-modify-write; a throwing mutator changes nothing', async () => {
      const { ticket } = await store.openOrRecur(monitoring(), 2_000);
      await expect(
        store.update(ticket.id, () => {
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect(await store.get(ticket.id)).toEqual(ticket);
      const updated = await store.update(ticket.id, (t) => ({
        ticket: {
          ...t,
          status: 'dispatched',
          assignees: ['ana'],
          sla: { response: { ...t.sla.response!, metAt: 2_500 } },
          dispatch: {
            by: 'partner',
            team: 'south',
            technicians: ['ana'],
            appointmentAt: 9_000,
            tools: ['torque wrench'],
            parts: [{ part: 'seal', quantity: 2 }],
            note: null,
            plannedAt: 2_500,
            plannedBy: 'pia',
          },
        },
        events: [{ at: 2_500, type: 'status', actor: 'ana', from: 'open', to: 'dispatched', note: 'called' }],
      }));
      expect(await store.get(ticket.id)).toEqual(updated);
      expect((await store.timeline(ticket.id)).map((e) => e.type)).toEqual(['created', 'status']);
      const waiting = await store.update(ticket.id, (t) => ({
        ticket: { ...t, status: 'waiting', waitingOn: 'parts' },
        events: [],
      }));
      expect(waiting?.waitingOn).toBe('parts');
      expect(await store.get(ticket.id)).toEqual(waiting);
      expect(await store.update('T-424242', (t) => ({ ticket: t, events: [] }))).toBeUndefined();
    });

    it('update returning the ticket it got adds the timeline entries only; the ticket stays as stored', async () => {
      const { ticket } = await store.openOrRecur(monitoring(), 2_000);
      const note = { at: 2_100, type: 'routed', actor: 'routing', from: null, to: null, note: 'nearest' };
      const same = await store.update(ticket.id, (t) => ({ ticket: t, events: [note as NewTicketEvent] }));
      expect(same).toEqual(ticket);
      expect(await store.get(ticket.id)).toEqual(ticket);
      expect((await store.timeline(ticket.id)).map((e) => e.type)).toEqual(['created', 'routed']);
      // A changed ticket after it is still written whole.
      const changed = await store.update(ticket.id, (t) => ({
        ticket: { ...t, title: 'renamed' },
        events: [],
      }));
      expect(await store.get(ticket.id)).toEqual(changed);
      expect(changed?.title).toBe('renamed');
    });

    it('lists by urgency: open first, then class, then nearest unmet deadline; cursors page through', async () => {
      const mk = (rule: string, priority: Ticket['priority'], due: number) =>
        store.openOrRecur(monitoring({ ruleId: rule, priority, sla: { response: fixedClock(0, due) } }), 1);
      const g1 = (await mk('g1', 'general', 500)).ticket;
      const e2 = (await mk('e2', 'emergency', 900)).ticket;
      const e1 = (await mk('e1', 'emergency', 100)).ticket;
      const g2 = (await mk('g2', 'general', 50)).ticket;
      await store.update(g2.id, (t) => ({ ticket: { ...t, status: 'resolved', finalAt: 60 }, events: [] }));
      const q = { filter: {}, sort: 'urgency' as const, limit: 2, now: 0 };
      const p1 = await store.list(q);
      expect(p1.items.map((t) => t.id)).toEqual([e1.id, e2.id]);
      const p2 = await store.list({ ...q, cursor: p1.nextCursor as string });
      expect(p2.items.map((t) => t.id)).toEqual([g1.id, g2.id]);
      expect(p2.nextCursor).toBeNull();
      const newest = await store.list({ ...q, sort: '-createdAt', limit: 10 });
      expect(newest.items.map((t) => t.id)).toEqual([g2.id, e1.id, e2.id, g1.id]);
    });

    it('counts open tickets per assignee (final tickets and unassigned ones do not count)', async () => {
      await store.openOrRecur(monitoring({ assignees: ['ana', 'ben'] }), 1);
      await store.openOrRecur(monitoring({ ruleId: 'r2', assignees: ['ana'] }), 1);
      await store.openOrRecur(monitoring({ ruleId: 'r3' }), 1);
      const done = (await store.openOrRecur(monitoring({ ruleId: 'r4', assignees: ['ben'] }), 1)).ticket;
      await store.update(done.id, (t) => ({ ticket: { ...t, status: 'closed', finalAt: 5 }, events: [] }));
      expect(Object.fromEntries(await store.openCounts())).toEqual({ ana: 2, ben: 1 });
    });

    it('names the newest ticket of each alert', async () => {
      const first = (await store.openOrRecur(monitoring(), 1)).ticket;
      await store.update(first.id, (t) => ({ ticket: { ...t, status: 'closed', finalAt: 5 }, events: [] }));
      const second = (await store.openOrRecur(monitoring(), 6)).ticket;
      const other = (await store.openOrRecur(monitoring({ ruleId: 'r2', alertId: 'r2@d1' }), 6)).ticket;
      const m = await store.ticketsOfAlerts(['r1@d1', 'r2@d1', 'r9@d1']);
      expect(Object.fromEntries(m)).toEqual({ 'r1@d1': second.id, 'r2@d1': other.id });
      expect((await store.ticketsOfAlerts([])).size).toBe(0);
      expect(await store.openByPriority()).toEqual({ emergency: 2 }); // the closed one does not count
    });

    it('filters by status, priority, device, text and SLA state', async () => {
      const a = (await store.openOrRecur(monitoring({ title: 'Spindle overheat' }), 1)).ticket;
      const b = (
        await store.openOrRecur(
          monitoring({
            ruleId: 'r2',
            deviceId: 'd2',
            priority: 'general',
            title: 'Oil 50%_low',
            sla: { response: fixedClock(0, 10) },
          }),
          1,
        )
      ).ticket;
      const base = { sort: 'urgency' as const, limit: 50, now: 100 };
      const ids = async (filter: object) => (await store.list({ ...base, filter })).items.map((t) => t.id);
      expect(await ids({ priority: ['general'] })).toEqual([b.id]);
      expect(await ids({ deviceId: 'd1' })).toEqual([a.id]);
      expect(await ids({ status: ['open'] })).toEqual([a.id, b.id]);
      expect(await ids({ q: 'spindle' })).toEqual([a.id]);
      expect(await ids({ q: '50%_' })).toEqual([b.id]);
      expect(await ids({ q: '%' })).toEqual([b.id]);
      expect(await ids({ slaState: ['breached'] })).toEqual([b.id]);
      expect(await ids({ slaState: ['running'] })).toEqual([a.id]);
      expect(await ids({ slaState: ['met'] })).toEqual([]);
      // A paused clock keeps its fields through the store and is found as paused, not breached.
      const paused = pauseClock(new Calendar('24x7'), fixedClock(0, 50), 20);
      await store.update(a.id, (t) => ({ ticket: { ...t, sla: { response: paused } }, events: [] }));
      expect((await store.get(a.id))?.sla.response).toEqual(paused);
      expect(await ids({ slaState: ['paused'] })).toEqual([a.id]);
      expect(await ids({ slaState: ['breached'] })).toEqual([b.id]);
    });
  });
}
