import { describe, expect, it } from 'vitest';
import { FaultlineError } from '../lib/errors.js';
import { fixedClock } from './clock.js';
import { applyTransition } from './lifecycle.js';
import type { Ticket } from './model.js';

function ticket(over: Partial<Ticket> = {}): Ticket {
  return {
    id: 'T-1',
    title: 't',
    description: '',
    priority: 'general',
    status: 'open',
    source: 'monitoring',
    deviceId: 'd',
    site: 's',
    area: 'local',
    customer: null,
    equipmentModel: null,
    ruleId: 'r',
    alertId: 'r@d',
    faultType: 'x',
    occurrences: 0,
    lastOccurrenceAt: null,
    reportedAt: 0,
    createdAt: 0,
    updatedAt: 0,
    finalAt: null,
    assignees: [],
    team: null,
    labels: {},
    reporter: null,
    report: null,
    feedback: null,
    waitingOn: null,
    waitingFor: null,
    dispatch: null,
    sla: {
      response: fixedClock(0, 100),
      remoteFix: fixedClock(0, 200),
      onsite: fixedClock(0, 300),
    },
    ...over,
  };
}

describe('ticket lifecycle', () => {
  it('remote fix: the response and remote-fix clocks are met at their stages', () => {
    let t = applyTransition(ticket(), 'acknowledged', 10);
    expect(t.sla.response?.metAt).toBe(10);
    t = applyTransition(t, 'diagnosing', 20);
    t = applyTransition(t, 'resolved', 150);
    expect(t.sla.remoteFix?.metAt).toBe(150);
    expect(t.sla.onsite).toBeUndefined(); // fixed remotely: no visit was needed
    expect(t.finalAt).toBe(150);
    t = applyTransition(t, 'closed', 400);
    expect(t.finalAt).toBe(150);
  });

  it('on-site visit: dispatching drops the remote-fix target, arrival meets the on-site one', () => {
    let t = applyTransition(ticket(), 'diagnosing', 10);
    expect(t.sla.response?.metAt).toBe(10);
    t = applyTransition(t, 'dispatched', 20);
    expect(t.sla.remoteFix).toBeUndefined();
    t = applyTransition(t, 'on_site', 250);
    expect(t.sla.onsite?.metAt).toBe(250);
    t = applyTransition(t, 'resolved', 260);
    expect(t.sla.remoteFix).toBeUndefined();
  });

  it('refuses transitions the flow does not have, naming the allowed ones', () => {
    expect(() => applyTransition(ticket(), 'closed', 1)).toThrow(FaultlineError);
    expect(() => applyTransition(ticket(), 'closed', 1)).toThrow(
      /cannot go from "open" to "closed" \(allowed: /,
    );
    const cancelled = applyTransition(ticket(), 'cancelled', 1);
    expect(() => applyTransition(cancelled, 'open', 2)).toThrow(/it is final/);
  });

  it('waiting pauses the clocks that run; leaving it resumes them with the deadline moved', () => {
    let t = applyTransition(ticket(), 'acknowledged', 10); // response met
    t = applyTransition(t, 'waiting', 50);
    expect(t.sla.remoteFix).toMatchObject({ pausedAt: 50, runningSince: null, workedMs: 50 });
    expect(t.sla.response?.metAt).toBe(10);
    t = applyTransition(t, 'diagnosing', 120); // 70 of waiting
    expect(t.sla.remoteFix).toMatchObject({ pausedAt: null, runningSince: 120, dueAt: 270 });
    expect(t.sla.onsite?.dueAt).toBe(370);
  });

  it('waiting pauses only the targets the pause conditions name for the reason', () => {
    const pauses = (r: string) => (r === 'parts' ? (['resolution', 'onsite'] as const) : ('all' as const));
    let t = applyTransition(ticket(), 'acknowledged', 10);
    t = applyTransition(t, 'waiting', 50, { waitingOn: 'parts', pauses });
    expect(t.waitingOn).toBe('parts');
    expect(t.sla.onsite).toMatchObject({ pausedAt: 50, runningSince: null });
    // Waiting on parts does not stop the remote-fix clock here: its deadline stands.
    expect(t.sla.remoteFix).toMatchObject({ pausedAt: null, runningSince: 0, dueAt: 200 });
    t = applyTransition(t, 'diagnosing', 80);
    expect(t.waitingOn).toBeNull();
    expect(t.sla.onsite).toMatchObject({ pausedAt: null, dueAt: 330 });
    expect(t.sla.remoteFix?.dueAt).toBe(200);
  });

  it('waiting returns to open while nobody responded: the response clock runs again, unmet (issue 18)', () => {
    let t = applyTransition(ticket(), 'waiting', 30); // the customer is asked before anyone responds
    expect(t.sla.response).toMatchObject({ pausedAt: 30, metAt: null });
    t = applyTransition(t, 'open', 80);
    expect(t.status).toBe('open');
    // Resumed with the deadline moved by the 50 of waiting, and not met by going back.
    expect(t.sla.response).toMatchObject({ pausedAt: null, runningSince: 80, dueAt: 150, metAt: null });
    // Once responded to, a waiting ticket returns to a later stage, not to open.
    let acked = applyTransition(ticket(), 'acknowledged', 10);
    acked = applyTransition(acked, 'waiting', 20);
    expect(() => applyTransition(acked, 'open', 30)).toThrow(
      /cannot go from "waiting" to "open" \(allowed: acknowledged, diagnosing/,
    );
  });

  it('a reopened ticket is open again, with its met clocks kept', () => {
    let t = applyTransition(ticket(), 'acknowledged', 5);
    t = applyTransition(t, 'resolved', 50);
    t = applyTransition(t, 'open', 60);
    expect(t.finalAt).toBeNull();
    expect(t.sla.response?.metAt).toBe(5);
  });
});
