import { describe, expect, it } from 'vitest';
import { auth, gatewayFixture, getJson, postJson, stream, TWO_TEAMS, waitFor } from './helpers.js';

const CONFIG = `
sites:
  - { id: north, area: local }
devices:
  - { id: press-1, site: north, model: press-x }
${TWO_TEAMS}
parts:
  locations:
    - { id: central, kind: store }
    - { id: van-ben, kind: van, technician: ben }
  catalogue:
    - number: S-7
      name: Interlock switch
      category: electrical
      models: [press-*]
      critical: true
      minimum: 2
      reorderLevel: 3
      suppliers: [{ id: acme, leadTime: 5d, price: 42.5 }]
    - { number: B-120, name: Drive belt, category: mechanical, suppliers: [{ id: a, leadTime: 2d }, { id: b, leadTime: 4d }] }
  stock:
    - { part: S-7, location: central, quantity: 4 }
    - { part: B-120, location: van-ben, quantity: 1, minimum: 1 }
`;

type Ticket = { id: string; timeline: { type: string; note: string }[] };
type Level = { part: string; location: string; onHand: number; reserved: number; available: number };

describe('spare parts through a ticket (gateway)', () => {
  const g = gatewayFixture(CONFIG);
  const api = g.api;
  const level = async (part: string, location: string) =>
    (await getJson<{ items: Level[] }>(api(`/stock?part=${part}&location=${location}`))).body.items[0];

  it('dispatch reserves, the repair report uses, the rest is released; all on the timeline and in the movements', async () => {
    const t = await postJson<{ id: string }>(api('/tickets'), {
      title: 'Door interlock fails',
      priority: 'general',
      source: 'phone',
      reporter: { name: 'Operator' },
      faultType: 'mechanical',
      deviceId: 'press-1',
    });
    const id = t.body.id;
    const go = (body: object) => postJson<{ detail?: string }>(api(`/tickets/${id}/transitions`), body);
    await go({ to: 'acknowledged' });
    // Too many switches: refused with where they are; nothing reserved, the ticket not dispatched.
    const appointmentAt = new Date(Date.now() + 3_600_000).toISOString();
    const short = await go({
      to: 'dispatched',
      dispatch: { appointmentAt, technicians: ['ben'], parts: [{ part: 'S-7', quantity: 5 }] },
    });
    expect(short.status).toBe(409);
    expect(short.body.detail).toBe(`not enough in stock for ticket ${id}: 5× S-7 (available: 4 at central)`);
    expect((await level('S-7', 'central'))?.reserved).toBe(0);
    const ok = await go({
      to: 'dispatched',
      dispatch: {
        appointmentAt,
        technicians: ['ben'],
        parts: [
          { part: 'S-7', quantity: 2 },
          { part: 'B-120', quantity: 1 },
        ],
      },
    });
    expect(ok.status).toBe(200);
    expect(await level('S-7', 'central')).toMatchObject({ onHand: 4, reserved: 2, available: 2 });
    // The van's kit: one belt is kept there; reserved, it is below that level.
    expect(await level('B-120', 'van-ben')).toMatchObject({
      onHand: 1,
      reserved: 1,
      minimum: 1,
      belowMinimum: true,
    });
    await go({ to: 'on_site' });
    const resolved = await go({
      to: 'resolved',
      report: {
        cause: 'switch worn',
        actions: 'switch replaced',
        partsUsed: [
          { part: 'S-7', quantity: 1 },
          { part: 'grease', quantity: 1 },
        ],
        prevention: 'check at service',
      },
    });
    expect(resolved.status).toBe(200);
    expect(await level('S-7', 'central')).toMatchObject({ onHand: 3, reserved: 0, available: 3 });
    expect(await level('B-120', 'van-ben')).toMatchObject({ onHand: 1, reserved: 0 });
    const full = (await getJson<Ticket>(api(`/tickets/${id}`))).body;
    expect(full.timeline.filter((e) => e.type === 'parts').map((e) => e.note)).toEqual([
      'reserved 2× S-7 at central, 1× B-120 at van-ben',
      'used 1× S-7 at central',
    ]);
    const moves = await getJson<{ items: { kind: string; quantity: number; part: string }[] }>(
      api(`/stock/movements?ticketId=${id}`),
    );
    expect(moves.body.items.map((m) => `${m.kind} ${m.quantity} ${m.part}`)).toEqual([
      'reserve 2 S-7',
      'reserve 1 B-120',
      'use -1 S-7',
      'release -1 S-7',
      'release -1 B-120',
    ]);
    // The catalogue flags: S-7 is critical with one supplier, and at its reorder level (3 available).
    const cat = await getJson<{
      items: { number: string; singleSource: boolean; belowReorderLevel: boolean }[];
    }>(api('/parts'));
    expect(cat.body.items.map((p) => [p.number, p.singleSource, p.belowReorderLevel])).toEqual([
      ['S-7', true, true],
      ['B-120', false, false],
    ]);
    expect(
      (await getJson<{ items: { number: string }[] }>(api('/parts?flag=singleSource'))).body.items,
    ).toHaveLength(1);
  });

  it('the next fault of that kind suggests the parts the last repair took, with where they are; forecast and reorder list', async () => {
    const t = await postJson<{ id: string }>(api('/tickets'), {
      title: 'Door interlock fails again',
      priority: 'general',
      source: 'phone',
      reporter: { name: 'Operator' },
      faultType: 'mechanical',
      deviceId: 'press-1',
    });
    const note = await waitFor(async () => {
      const full = (await getJson<Ticket>(api(`/tickets/${t.body.id}`))).body;
      return full.timeline.find((e) => e.type === 'parts')?.note;
    });
    expect(note).toBe(
      'likely parts: S-7 (Interlock switch): 100 % of repairs, 3 at central; grease: 100 % of repairs, not kept in stock',
    );
    const s = await getJson<{ likely: { part: string; share: number; available: unknown[] }[] }>(
      api(`/tickets/${t.body.id}/parts`),
    );
    expect(s.body.likely).toEqual([
      {
        part: 'S-7',
        name: 'Interlock switch',
        share: 1,
        meanQuantity: 1,
        source: 'reports',
        stocked: true,
        available: [{ location: 'central', quantity: 3 }],
      },
      {
        part: 'grease',
        name: null,
        share: 1,
        meanQuantity: 1,
        source: 'reports',
        stocked: false,
        available: [],
      },
    ]);
    const map = await getJson<{
      items: { model: string; faultType: string; tickets: number; repairs: number }[];
    }>(api('/parts/fault-map'));
    expect(map.body.items).toMatchObject([
      { model: 'press-x', faultType: 'mechanical', tickets: 2, repairs: 1 },
    ]);
    const f = await getJson<{ items: { part: string; quantity: number }[] }>(
      api('/parts/forecast?horizon=30d'),
    );
    expect(f.body.items.map((x) => x.part).sort()).toEqual(['S-7', 'grease']);
    expect(f.body.items[0]?.quantity).toBeGreaterThan(0);
    const r = await getJson<{ items: { part: string; orderQuantity: number; supplier: { id: string } }[] }>(
      api('/parts/reorder'),
    );
    // S-7: 3 available, reorder level 3 — order now, from its one supplier.
    expect(r.body.items.map((x) => [x.part, x.supplier.id])).toEqual([['S-7', 'acme']]);
  });

  it('the fault → parts map can be edited; parts statistics per part and model', async () => {
    const put = await postJson<{ parts: { part: string; source: string }[] }>(
      api('/parts/fault-map/press-x/mechanical'),
      { parts: [{ part: 'B-120', quantity: 1 }] },
      undefined,
      'PUT',
    );
    expect(put.status).toBe(200);
    expect(put.body.parts).toEqual([{ part: 'B-120', share: 1, meanQuantity: 1, source: 'configured' }]);
    const del = await fetch(api('/parts/fault-map/press-x/mechanical'), {
      method: 'DELETE',
      headers: auth(),
    });
    expect(del.status).toBe(204);
    const map = await getJson<{ items: { parts: { source: string }[] }[] }>(api('/parts/fault-map'));
    expect(map.body.items[0]?.parts[0]?.source).toBe('reports');
    const byPart = await getJson<{
      items: { key: string; quantity: number; tickets: number; value: number }[];
    }>(api('/stats/parts'));
    expect(byPart.body.items).toEqual([{ key: 'S-7', quantity: 1, tickets: 1, value: 42.5 }]);
    const byModel = await getJson<{ items: { key: string }[] }>(api('/stats/parts?groupBy=model'));
    expect(byModel.body.items.map((x) => x.key)).toEqual(['press-x']);
  });

  it('a part falling to its reorder level is a live event, once', async () => {
    const s = await stream(api('/events?types=parts.*&lastEventId=0'), auth());
    await waitFor(async () => (s.events.length ? true : undefined));
    s.close();
    expect(s.events.map((e) => `${e.event} ${e.data.subject}`)).toEqual(['parts.low_stock S-7']);
    // It fell when the dispatch reserved 2 of 4 (2 available ≤ 3); using one kept it low: no second event.
    expect(s.events[0]?.data.data).toMatchObject({ part: 'S-7', reorderLevel: 3, stock: { available: 2 } });
  });

  it('a cancelled ticket gives its parts back; goods in and counts are recorded', async () => {
    const t = await postJson<{ id: string }>(api('/tickets'), {
      title: 'Belt slips',
      priority: 'general',
      source: 'phone',
      reporter: { name: 'Operator' },
      faultType: 'mechanical',
      deviceId: 'press-1',
    });
    const appointmentAt = new Date(Date.now() + 3_600_000).toISOString();
    await postJson(api(`/tickets/${t.body.id}/transitions`), {
      to: 'dispatched',
      dispatch: {
        appointmentAt,
        technicians: ['ben'],
        parts: [{ part: 'S-7', quantity: 1, from: 'central' }],
      },
    });
    expect((await level('S-7', 'central'))?.reserved).toBe(1);
    // Waiting on a part: the ticket shows when it is expected (the supplier's 5 days).
    const before = Date.now();
    const waiting = await postJson<{ waitingFor: { part: string; quantity: number; expectedAt: string }[] }>(
      api(`/tickets/${t.body.id}/transitions`),
      { to: 'waiting', waitingOn: 'parts', waitingFor: [{ part: 'S-7', quantity: 2 }] },
    );
    expect(waiting.body.waitingFor).toMatchObject([{ part: 'S-7', quantity: 2 }]);
    const expected = Date.parse(waiting.body.waitingFor[0]?.expectedAt ?? '');
    expect(expected - before).toBeGreaterThanOrEqual(5 * 86_400_000);
    expect(expected - Date.now()).toBeLessThanOrEqual(5 * 86_400_000);
    const bad = await postJson(api(`/tickets/${t.body.id}/transitions`), {
      to: 'diagnosing',
      waitingFor: [{ part: 'S-7', quantity: 1 }],
    });
    expect(bad.status).toBe(400);
    await postJson(api(`/tickets/${t.body.id}/transitions`), {
      to: 'cancelled',
      note: 'fixed by the operator',
    });
    expect((await level('S-7', 'central'))?.reserved).toBe(0);
    expect(
      (await postJson(api('/stock/receipts'), { part: 'S-7', location: 'central', quantity: 10 })).status,
    ).toBe(201);
    expect(
      (
        await postJson(api('/stock/adjustments'), {
          part: 'S-7',
          location: 'central',
          onHand: 12,
          note: 'count',
        })
      ).status,
    ).toBe(201);
    expect(await level('S-7', 'central')).toMatchObject({ onHand: 12 });
    expect(
      (await postJson(api('/stock/receipts'), { part: 'X-1', location: 'central', quantity: 1 })).status,
    ).toBe(404);
  });
});
