import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config/load.js';
import type { RunningGateway } from '../gateway/gateway.js';
import { formatIssue } from '../lib/source-errors.js';
import {
  getJson,
  postJson,
  startFromFile,
  TEST_API_KEY,
  TWO_TEAMS,
  tempDir,
  waitFor,
  writeFiles,
} from './helpers.js';

const CONFIG = `
sites:
  - { id: north, area: local }
  - { id: south, area: remote }
devices:
  - { id: press-1, site: north }
  - { id: press-9, site: south }
${TWO_TEAMS}rules:
  files: [rules.yaml]
`;

describe('routing new tickets to teams (gateway)', () => {
  const tmp = tempDir();
  let gw: RunningGateway;
  const api = (path: string) => `${gw.apiUrl}/api/v1${path}`;
  beforeAll(async () => {
    writeFiles(tmp.dir, {
      'faultline.yaml': CONFIG,
      'rules.yaml': `rules:
  - id: jam
    errorCode: [E-JAM]
    ticket: { priority: general, faultType: mechanical }
`,
    });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
  });
  afterAll(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('a local fault goes to the own team, a remote one to the partner; the reason is on the timeline', async () => {
    const now = Date.now();
    await gw.ingest.accept([
      { deviceId: 'press-1', ts: now, receivedAt: now, fields: {}, errorCodes: ['E-JAM'], source: 't' },
      { deviceId: 'press-9', ts: now, receivedAt: now, fields: {}, errorCodes: ['E-JAM'], source: 't' },
    ]);
    type T = { id: string; team: string; assignees: string[]; timeline?: { type: string; note: string }[] };
    const list = await waitFor(
      async () => {
        const r = await getJson<{ items: T[] }>(api('/tickets?ruleId=jam'));
        return r.body.items.length === 2 ? r.body.items : undefined;
      },
      5_000,
      'two tickets',
    );
    const byTeam = Object.fromEntries(list.map((t) => [t.team, t]));
    expect(byTeam.mechanics?.assignees).toEqual(['ana']);
    expect(byTeam['partner-south']?.assignees).toEqual(['fox']);
    const one = await getJson<T>(api(`/tickets/${byTeam['partner-south']?.id}`));
    expect(one.body.timeline?.find((e) => e.type === 'routed')?.note).toBe(
      'mechanical in the remote area (site south) → team partner-south, partner team; technician fox: mechanical level 3, on call, 0 open ticket(s)',
    );
  });

  it('a hotline call files a ticket: same store, clocks from the call, routed, the reporter kept', async () => {
    const reportedAt = Date.now() - 10 * 60_000;
    const r = await postJson<{
      id: string;
      source: string;
      team: string;
      equipmentModel: string | null;
      reporter: { name: string; takenBy: string };
      reportedAt: string;
      sla: { response: { dueAt: string } };
    }>(api('/tickets'), {
      title: 'Press 9 makes a grinding noise',
      description: 'Customer reports noise from the main drive since this morning',
      priority: 'general',
      source: 'phone',
      reporter: { name: 'Kim Lee', phone: '+49 30 1234', takenBy: 'operator-2' },
      faultType: 'mechanical',
      deviceId: 'press-9',
      reportedAt: new Date(reportedAt).toISOString(),
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      source: 'phone',
      team: 'partner-south',
      reporter: { name: 'Kim Lee', takenBy: 'operator-2' },
      reportedAt: new Date(reportedAt).toISOString(),
    });
    expect(r.body.sla.response.dueAt).toBe(new Date(reportedAt + 4 * 3_600_000).toISOString());
    const t = await getJson<{ timeline: { type: string; actor: string; note: string }[] }>(
      api(`/tickets/${r.body.id}`),
    );
    expect(t.body.timeline.map((e) => e.type)).toEqual(['created', 'routed']);
    expect(t.body.timeline[0]).toMatchObject({
      actor: 'operator-2',
      note: 'filed via phone by Kim Lee (taken by operator-2)',
    });

    const bad = await postJson<{ errors: { path: string }[] }>(api('/tickets'), {
      title: 'x',
      priority: 'general',
      source: 'phone',
      reporter: { name: 'K' },
      faultType: 'plumbing',
      reportedAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e) => e.path)).toEqual(['faultType', 'reportedAt']);
    const unknown = await postJson<{ code: string }>(api('/tickets'), {
      title: 'x',
      priority: 'general',
      source: 'portal',
      reporter: { name: 'K' },
      faultType: 'mechanical',
      deviceId: 'nope',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('FL_ERR_DEVICE_NOT_FOUND');
  });

  it('several assignees (the lead and the experts called in) and remote-support comments on the timeline', async () => {
    const created = await postJson<{ id: string; assignees: string[] }>(api('/tickets'), {
      title: 'Hydraulic leak',
      priority: 'general',
      source: 'portal',
      reporter: { name: 'Plant North' },
      faultType: 'mechanical',
      deviceId: 'press-1',
    });
    // Auto-assigned: the team's technician with the fewest open tickets (ana has one already).
    expect(created.body.assignees).toEqual(['ben']);
    const id = created.body.id;
    const added = await postJson<{ assignees: string[] }>(api(`/tickets/${id}/assignees`), {
      add: ['ana', 'hydraulics-expert'],
      actor: 'ben',
    });
    expect(added.body.assignees).toEqual(['ben', 'ana', 'hydraulics-expert']);
    const removed = await postJson<{ assignees: string[] }>(api(`/tickets/${id}/assignees`), {
      remove: ['ana'],
    });
    expect(removed.body.assignees).toEqual(['ben', 'hydraulics-expert']);
    const c = await postJson(api(`/tickets/${id}/comments`), {
      note: 'talked the customer through a valve check',
      actor: 'hydraulics-expert',
    });
    expect(c.status).toBe(201);
    const t = await getJson<{ timeline: { type: string; actor: string; note: string }[] }>(
      api(`/tickets/${id}`),
    );
    expect(t.body.timeline.filter((e) => e.type === 'assigned').map((e) => e.note)).toEqual([
      'added ana, hydraulics-expert → ben, ana, hydraulics-expert',
      'removed ana → ben, hydraulics-expert',
    ]);
    expect(t.body.timeline.at(-1)).toMatchObject({ type: 'comment', actor: 'hydraulics-expert' });
    expect((await postJson(api(`/tickets/${id}/assignees`), {})).status).toBe(400);
    expect((await postJson(api('/tickets/T-9999/comments'), { note: 'x' })).status).toBe(404);
  });

  it('repair report to resolve, lead review to close, customer feedback and the customer report', async () => {
    type V = { id: string; status: string; report: { review: { state: string } } | null; feedback: unknown };
    const created = await postJson<V>(api('/tickets'), {
      title: 'Conveyor belt slips',
      priority: 'general',
      source: 'email',
      reporter: { name: 'Plant North', email: 'north@example.com' },
      faultType: 'mechanical',
      deviceId: 'press-1',
    });
    const id = created.body.id;
    const go = (body: object) => postJson<V & { detail: string }>(api(`/tickets/${id}/transitions`), body);
    expect((await go({ to: 'acknowledged', actor: 'ben' })).status).toBe(200);
    expect((await go({ to: 'diagnosing' })).status).toBe(200);
    const resolved = await go({
      to: 'resolved',
      actor: 'ben',
      report: {
        cause: 'worn drive belt',
        actions: 'belt replaced and tensioned',
        partsUsed: [{ part: 'belt B-120', quantity: 1 }],
        prevention: 'check tension monthly',
      },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body.report?.review.state).toBe('pending');
    const early = await go({ to: 'closed' });
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain('before its repair report is accepted (review: pending)');
    const returned = await postJson<V>(api(`/tickets/${id}/report/review`), {
      accepted: false,
      findings: 'tension value missing',
      actor: 'ana',
    });
    expect(returned.body.report?.review.state).toBe('returned');
    expect((await postJson(api(`/tickets/${id}/report/review`), { accepted: false })).status).toBe(400);
    const resubmitted = await postJson(
      api(`/tickets/${id}/report`),
      {
        cause: 'worn drive belt',
        actions: 'belt replaced, tensioned to 450 N',
        partsUsed: [{ part: 'belt B-120', quantity: 1 }],
        prevention: 'check tension monthly',
        actor: 'ben',
      },
      TEST_API_KEY,
      'PUT',
    );
    expect(resubmitted.status).toBe(200);
    expect(
      (await postJson<V>(api(`/tickets/${id}/report/review`), { accepted: true, actor: 'ana' })).body.report
        ?.review.state,
    ).toBe('accepted');
    expect((await go({ to: 'closed' })).status).toBe(200);
    expect(
      (await postJson(api(`/tickets/${id}/feedback`), { score: 5, comment: 'fast and friendly' })).status,
    ).toBe(201);
    expect((await postJson(api(`/tickets/${id}/feedback`), { score: 9 })).status).toBe(400);
    const cr = await getJson<{
      stages: { reported: string; responded: string | null; resolved: string | null };
      report: { actions: string; findings?: string };
      feedback: { score: number };
    }>(api(`/tickets/${id}/customer-report`));
    expect(cr.body.stages.responded).not.toBeNull();
    expect(cr.body.stages.resolved).not.toBeNull();
    expect(cr.body.report.actions).toBe('belt replaced, tensioned to 450 N');
    expect(JSON.stringify(cr.body)).not.toContain('tension value missing'); // review findings stay internal
    expect(cr.body.feedback.score).toBe(5);
    const t = await getJson<{ timeline: { type: string }[] }>(api(`/tickets/${id}`));
    expect(
      t.body.timeline.map((e) => e.type).filter((x) => ['report', 'review', 'feedback'].includes(x)),
    ).toEqual(['report', 'review', 'report', 'review', 'feedback']);
  });

  it('team configuration is checked: fault types, sites and on-call calendars', async () => {
    writeFiles(tmp.dir, {
      'bad.yaml': `teams:
  - id: t
    skills: [mechanic]
    sites: [nowhere]
    technicians: [{ id: a, onCall: nights }]
`,
    });
    const { issues } = await loadConfig(join(tmp.dir, 'bad.yaml'), {}, {});
    expect(issues.map(formatIssue).map((l) => l.replace(`${tmp.dir}/`, ''))).toEqual([
      expect.stringMatching(/^bad\.yaml:3:14: teams\[0\]\.skills\[0\]: unknown fault type "mechanic"/),
      'bad.yaml:4:13: teams[0].sites[0]: unknown site "nowhere" (sites: default)',
      'bad.yaml:5:36: teams[0].technicians[0].onCall: unknown calendar "nights" (sla.calendars: 24x7)',
    ]);
  });
});
