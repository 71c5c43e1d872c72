import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import type { Point } from '../ingest/point.js';
import { auth, getJson, postJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';

type AlertView = { id: string; state: string; silencedBy: string | null; fireCount: number };
type TicketList = { items: { id: string; deviceId: string }[] };

describe('maintenance windows (silences): alerts recorded, no new tickets, linked to the visit', () => {
  const tmp = tempDir();
  let gw: RunningGateway;
  const api = (path: string) => `${gw.apiUrl}/api/v1${path}`;
  const send = (deviceId: string, temperature: number) =>
    gw.ingest.accept([
      { deviceId, ts: Date.now(), receivedAt: Date.now(), fields: { temperature }, source: 'test' } as Point,
    ]);
  const alertOf = async (deviceId: string) => (await getJson<AlertView>(api(`/alerts/hot@${deviceId}`))).body;
  const ticketsOf = async (deviceId: string) =>
    (await getJson<TicketList>(api(`/tickets?deviceId=${deviceId}&ruleId=hot`))).body.items;

  beforeAll(async () => {
    writeFiles(tmp.dir, {
      'faultline.yaml': 'rules:\n  files: [rules.yaml]\n',
      'rules.yaml': `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90 }
    ticket: { priority: general, faultType: mechanical }
`,
    });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
  });
  afterAll(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('an alert inside a window is recorded but opens no ticket; it is noted on the visit ticket', async () => {
    // A ticket to plan the visit against (in the full product: a preventive ticket).
    await send('press-9', 95);
    const visit = await waitFor(async () => (await ticketsOf('press-9'))[0], 5_000, 'visit ticket');

    const created = await postJson<{ id: string; state: string; devices: string[] }>(api('/silences'), {
      devices: ['press-1*'],
      duration: '2h',
      reason: 'gearbox overhaul',
      createdBy: 'planner',
      ticketId: visit.id,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'active', devices: ['press-1*'] });

    await send('press-12', 99);
    const a = await waitFor(
      async () => {
        const x = await alertOf('press-12');
        return x.state === 'firing' ? x : undefined;
      },
      5_000,
      'firing alert',
    );
    expect(a.silencedBy).toBe(created.body.id);
    await gw.alerts.idle();
    expect(await ticketsOf('press-12')).toEqual([]);
    const t = await getJson<{ timeline: { type: string; note: string }[] }>(api(`/tickets/${visit.id}`));
    expect(t.body.timeline.find((e) => e.type === 'maintenance_alert')?.note).toContain(
      `alert hot@press-12 fired during maintenance window ${created.body.id}`,
    );

    // The window ends early: the next firing opens a ticket as usual.
    const ended = await fetch(api(`/silences/${created.body.id}`), { method: 'DELETE', headers: auth() });
    expect(ended.status).toBe(200);
    expect(((await ended.json()) as { state: string }).state).toBe('over');
    await send('press-12', 50);
    await send('press-12', 97);
    await waitFor(async () => (await ticketsOf('press-12'))[0], 5_000, 'ticket after the window');
    const listed = await getJson<{ items: unknown[] }>(api('/silences'));
    expect(listed.body.items).toEqual([]);
    expect((await getJson<{ items: unknown[] }>(api('/silences?all=true'))).body.items).toHaveLength(1);
  });

  it('a planned window starts later; bad windows are refused with problem+json', async () => {
    const from = new Date(Date.now() + 3_600_000).toISOString();
    const planned = await postJson<{ state: string }>(api('/silences'), {
      sites: ['default'],
      from,
      to: new Date(Date.now() + 7_200_000).toISOString(),
      reason: 'planned shutdown',
    });
    expect(planned.body.state).toBe('planned');
    const bad = await postJson<{ code: string; errors: { path: string; message: string }[] }>(
      api('/silences'),
      {
        reason: 'x',
        duration: 'soon',
      },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('FL_ERR_API_VALIDATION');
    expect(bad.body.errors.map((e) => e.path)).toEqual(['duration']);
    const nothing = await postJson<{ errors: { path: string; message: string }[] }>(api('/silences'), {
      reason: 'x',
      duration: '1h',
    });
    expect(nothing.body.errors).toEqual([
      { path: 'devices', message: 'give devices (ids or globs) and/or sites' },
    ]);
    const backwards = await postJson<{ code: string }>(api('/silences'), {
      devices: ['x'],
      from: '2026-01-02T00:00:00Z',
      to: '2026-01-01T00:00:00Z',
      reason: 'x',
    });
    expect(backwards.status).toBe(400);
    expect((await fetch(api('/silences/S-999'), { method: 'DELETE', headers: auth() })).status).toBe(404);
  });
});
