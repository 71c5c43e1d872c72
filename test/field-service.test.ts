import { describe, expect, it } from 'vitest';
import { gatewayFixture, getJson, postJson, TWO_TEAMS, waitFor } from './helpers.js';

const H = 3_600_000;
// The first preventive visit: tomorrow 08:00 UTC, within the 3-day notice, so its ticket opens at start.
const tomorrow = new Date(Date.now() + 24 * H).toISOString().slice(0, 10);

const CONFIG = `
customers:
  - id: acme
    name: ACME Metalworks
    contract: SC-2026-17
    contacts:
      - { name: Jane Roe, email: jane@acme.example, role: maintenance manager }
      - { name: Night shift, phone: "+49 30 1234567", notify: [visit], sites: [north] }
      - { name: South office, email: south@acme.example, sites: [south] }
sites:
  - { id: north, area: local, customer: acme }
  - { id: south, area: remote, customer: acme }
devices:
  - { id: press-1, site: north, model: press-x }
  - { id: press-9, site: south }
sla:
  pause:
    parts: [resolution, onsite]
${TWO_TEAMS}preventive:
  - id: press-service
    title: Press service
    model: press-x
    every: { months: 6 }
    from: ${tomorrow}T08:00
    visit: 2h
  - id: spindle-hours
    title: Spindle bearing service
    devices: [press-9]
    usage: { metric: running_hours, every: 500 }
    notice: 2d
`;

type View = {
  id: string;
  status: string;
  priority: string;
  customer: string | null;
  waitingOn: string | null;
  assignees: string[];
  description: string;
  dispatch: {
    by: string;
    team: string;
    technicians: string[];
    appointmentAt: string;
    tools: string[];
  } | null;
  sla: Record<string, { dueAt: string; state: string; pausedAt: string | null; metAt: string | null }>;
  timeline?: { type: string; note: string | null }[];
};

describe('field service: dispatch, waiting, visits, customers, usage schedules (gateway)', () => {
  const g = gatewayFixture(CONFIG);
  const api = g.api;
  const file = (body: object) =>
    postJson<View>(api('/tickets'), {
      title: 'Ram does not return',
      priority: 'general',
      source: 'phone',
      reporter: { name: 'Shift lead', takenBy: 'hotline-1' },
      faultType: 'mechanical',
      ...body,
    });
  const go = (id: string, body: object) =>
    postJson<View & { detail: string }>(api(`/tickets/${id}/transitions`), body);

  it('dispatching needs the planned visit; the partner team of a remote site goes; the customer hears of it', async () => {
    const t = (await file({ deviceId: 'press-9' })).body;
    expect(t).toMatchObject({ customer: 'acme', assignees: ['fox'] });
    await go(t.id, { to: 'acknowledged', actor: 'fox' });
    const bare = await go(t.id, { to: 'dispatched' });
    expect(bare.status).toBe(400);
    expect(bare.body.detail).toContain('dispatching needs the planned visit');
    const appointment = new Date(Date.now() + 20 * H).toISOString();
    const d = await go(t.id, {
      to: 'dispatched',
      actor: 'pia',
      dispatch: {
        appointmentAt: appointment,
        tools: ['hydraulic test kit'],
        parts: [{ part: 'seal kit', quantity: 2 }],
      },
    });
    expect(d.status).toBe(200);
    expect(d.body.dispatch).toMatchObject({
      by: 'partner',
      team: 'partner-south',
      technicians: ['fox'],
      appointmentAt: appointment,
      tools: ['hydraulic test kit'],
    });
    const later = new Date(Date.now() + 22 * H).toISOString();
    const moved = await postJson<View>(api(`/tickets/${t.id}/visit`), {
      at: later,
      actor: 'pia',
      note: 'customer asked',
    });
    expect(moved.body.dispatch?.appointmentAt).toBe(later);
    const full = (await getJson<View>(api(`/tickets/${t.id}`))).body;
    const notes = (full.timeline ?? []).filter((e) => e.type !== 'status').map((e) => `${e.type}: ${e.note}`);
    // The south office gets everything for its site; the night shift only visits at north: not here.
    expect(notes).toContain(
      `notification: customer acme (received) → Jane Roe <jane@acme.example>, South office <south@acme.example>: We received ${t.id} "Ram does not return" (general). You can expect our response by ${t.sla.response?.dueAt}.`,
    );
    expect(notes.find((n) => n.startsWith('dispatch:'))).toBe(
      `dispatch: visit planned: partner team partner-south (fox) at ${appointment}; tools: hydraulic test kit; parts: 2× seal kit`,
    );
    expect(notes.filter((n) => n.startsWith('notification: customer acme (visit)'))).toHaveLength(2);
    expect(notes.find((n) => n.startsWith('visit_agreed:'))).toBe(
      `visit_agreed: visit ${appointment} → ${later}: customer asked`,
    );
  });

  it('waiting needs a reason; waiting on parts stops only the clocks the policy names', async () => {
    const t = (await file({ deviceId: 'press-1' })).body;
    await go(t.id, { to: 'acknowledged', actor: 'ben' });
    const noReason = await go(t.id, { to: 'waiting' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.detail).toContain('waiting needs waitingOn');
    const w = await go(t.id, { to: 'waiting', waitingOn: 'parts', note: 'seal kit ordered' });
    expect(w.body.waitingOn).toBe('parts');
    expect(w.body.sla.onsite?.state).toBe('paused');
    expect(w.body.sla.remoteFix?.state).toBe('running');
    const list = await getJson<{ items: View[] }>(api('/tickets?customer=acme&status=waiting'));
    expect(list.body.items.map((x) => x.id)).toEqual([t.id]);
  });

  it('a preventive visit opens its ticket and window; agreeing another time moves both and meets the response', async () => {
    const p = await waitFor(async () => {
      const r = await getJson<{ items: View[] }>(api('/tickets?source=preventive&deviceId=press-1'));
      return r.body.items[0];
    });
    const visit = `${tomorrow}T08:00:00.000Z`;
    expect(p.sla.visit?.dueAt).toBe(visit);
    type W = { items: { id: string; from: string; to: string; ticketId: string | null }[] };
    const windows = async () =>
      (await getJson<W>(api('/silences'))).body.items.filter((s) => s.ticketId === p.id);
    expect(await windows()).toMatchObject([{ from: visit, to: `${tomorrow}T10:00:00.000Z` }]);
    const agreed = new Date(Date.parse(visit) + 26 * H).toISOString();
    const moved = await postJson<View>(api(`/tickets/${p.id}/visit`), { at: agreed, actor: 'ana' });
    expect(moved.status).toBe(200);
    expect(moved.body.sla.visit?.dueAt).toBe(agreed);
    expect(moved.body.sla.response?.metAt).not.toBeNull();
    expect(await windows()).toMatchObject([
      { from: agreed, to: new Date(Date.parse(agreed) + 2 * H).toISOString() },
    ]);
    // A ticket with no visit has nothing to move.
    const plain = (await file({ deviceId: 'press-1' })).body;
    expect((await postJson(api(`/tickets/${plain.id}/visit`), { at: agreed })).status).toBe(409);
  });

  it('a usage counter forecasts the service and opens its ticket once, notice before it is due', async () => {
    const now = Date.now();
    const reading = (ts: number, hours: number) => ({
      deviceId: 'press-9',
      ts,
      receivedAt: now,
      fields: { running_hours: hours },
      source: 't',
    });
    // 440 → 470 running hours in 30 h: 1 per hour, 500 is reached in 30 h, within the 2-day notice.
    await g.gw.ingest.accept([reading(now - 30 * H, 440)]);
    await g.gw.ingest.accept([reading(now, 470)]);
    const t = await waitFor(async () => {
      const r = await getJson<{ items: View[] }>(api('/tickets?source=preventive&deviceId=press-9'));
      return r.body.items[0];
    });
    expect(t.description).toContain('running_hours is 470; service due at 500 (forecast from 24.0 per day).');
    expect(Math.abs(Date.parse(t.sla.visit?.dueAt ?? '') - (now + 30 * H))).toBeLessThan(1_000);
    await g.gw.ingest.accept([reading(now + 1_000, 471)]);
    await new Promise((r) => setTimeout(r, 200));
    const all = await getJson<{ items: View[] }>(api('/tickets?source=preventive&deviceId=press-9'));
    expect(all.body.items).toHaveLength(1);
  });

  it('technicians: team, skills with levels, on call, open tickets', async () => {
    const r = await getJson<{
      items: { id: string; team: string; skills: unknown[]; openTickets: number }[];
    }>(api('/technicians'));
    expect(r.body.items.map((t) => `${t.id}@${t.team}`)).toEqual([
      'ana@mechanics',
      'ben@mechanics',
      'fox@partner-south',
    ]);
    expect(r.body.items[2]).toMatchObject({
      skills: [
        { skill: 'mechanical', level: 3 },
        { skill: 'electrical', level: 3 },
      ],
      onCall: true,
    });
    expect(r.body.items[2]?.openTickets).toBeGreaterThanOrEqual(1);
  });

  it('customer records with sites, devices and open tickets', async () => {
    const list = await getJson<{ items: { id: string; sites: string[] }[] }>(api('/customers'));
    expect(list.body.items).toEqual([
      { id: 'acme', name: 'ACME Metalworks', contract: 'SC-2026-17', contacts: 3, sites: ['north', 'south'] },
    ]);
    const one = await getJson<{ devices: { id: string }[]; openTickets: unknown[]; contacts: unknown[] }>(
      api('/customers/acme'),
    );
    expect(one.body.devices.map((d) => d.id).sort()).toEqual(['press-1', 'press-9']);
    expect(one.body.openTickets.length).toBeGreaterThanOrEqual(3);
    expect((await getJson(api('/customers/nobody'))).status).toBe(404);
    const unknown = await file({ site: 'north', customer: 'globex' });
    expect(unknown.status).toBe(400);
  });
});
