import { describe, expect, it } from 'vitest';
import type { SlaClock, SlaTarget, Status, Ticket, TicketEvent } from './model.js';
import { computeStats, csvCell, statsCsv, summarize, type TicketWithTimeline } from './stats.js';

const M = 60_000;
const T0 = Date.parse('2026-11-02T08:00:00Z');

/** A clock reported at `r`, due `due` minutes later, met `met` minutes later (or not). */
function clock(r: number, due: number, met: number | null): SlaClock {
  return {
    calendar: '24x7',
    targetMs: due * M,
    startAt: r,
    workedMs: met === null ? 0 : met * M,
    runningSince: met === null ? r : null,
    dueAt: r + due * M,
    metAt: met === null ? null : r + met * M,
    pausedAt: null,
    notified: 0,
  };
}

/**
 * One fixture ticket: reported `at` minutes after T0; `steps` are status changes (minutes after the
 * report); `sla` maps targets to [due, met] in minutes.
 */
function fixture(
  id: string,
  faultType: string,
  at: number,
  steps: [Status, number][],
  sla: Partial<Record<SlaTarget, [number, number | null]>>,
  score: 1 | 2 | 3 | 4 | 5 | null,
): TicketWithTimeline {
  const r = T0 + at * M;
  const last = steps[steps.length - 1];
  const status = last?.[0] ?? 'open';
  const final = status === 'resolved' || status === 'closed' || status === 'cancelled';
  const clocks: Partial<Record<SlaTarget, SlaClock>> = {};
  for (const [k, [due, met]] of Object.entries(sla) as [SlaTarget, [number, number | null]][])
    clocks[k] = clock(r, due, met);
  const ticket: Ticket = {
    id,
    title: id,
    description: '',
    priority: 'general',
    status,
    source: 'monitoring',
    deviceId: 'd',
    site: 'north',
    area: 'local',
    customer: null,
    equipmentModel: null,
    ruleId: null,
    alertId: null,
    faultType,
    occurrences: 0,
    lastOccurrenceAt: null,
    reportedAt: r,
    createdAt: r,
    updatedAt: r,
    finalAt: final && last ? r + last[1] * M : null,
    assignees: [],
    team: null,
    reporter: null,
    report: null,
    feedback: score === null ? null : { score, comment: null, at: r },
    waitingOn: null,
    waitingFor: null,
    dispatch: null,
    labels: {},
    sla: clocks,
  };
  let from: Status = 'open';
  const timeline: TicketEvent[] = [
    { ticketId: id, at: r, type: 'created', actor: 'x', from: null, to: 'open', note: null },
  ];
  for (const [to, min] of steps) {
    timeline.push({ ticketId: id, at: r + min * M, type: 'status', actor: 'x', from, to, note: null });
    from = to;
  }
  return { ticket, timeline };
}

// Five tickets whose figures are worked out by hand below (minutes after each report).
const FIXTURE = [
  // A: fixed remotely at 200; response 30 (due 240), remote fix 200 (due 480). Score 5.
  fixture(
    'A',
    'mechanical',
    0,
    [
      ['acknowledged', 30],
      ['diagnosing', 40],
      ['resolved', 200],
      ['closed', 210],
    ],
    { response: [240, 30], remoteFix: [480, 200] },
    5,
  ),
  // B: response 90 (due 60: late), dispatched 95, on site 300 (due 240: late), resolved 420. Score 2.
  fixture(
    'B',
    'mechanical',
    100,
    [
      ['acknowledged', 90],
      ['dispatched', 95],
      ['on_site', 300],
      ['resolved', 420],
    ],
    { response: [60, 90], onsite: [240, 300] },
    2,
  ),
  // C: response 60, dispatched 300 (the remote-fix target dropped), on site 1500 (due 2880), resolved 1600. Score 4.
  fixture(
    'C',
    'mechanical',
    200,
    [
      ['acknowledged', 60],
      ['dispatched', 300],
      ['on_site', 1500],
      ['resolved', 1600],
      ['closed', 1700],
    ],
    { response: [240, 60], onsite: [2880, 1500] },
    4,
  ),
  // D: never answered; at "now" (2000) response (240) and remote fix (480) are overdue, on site (2880) not yet.
  fixture(
    'D',
    'electrical',
    0,
    [],
    { response: [240, null], remoteFix: [480, null], onsite: [2880, null] },
    null,
  ),
  // E: response 10, dispatched 20, on site 200 (due 240), resolved 250. Score 3.
  fixture(
    'E',
    'electrical',
    10,
    [
      ['acknowledged', 10],
      ['dispatched', 20],
      ['on_site', 200],
      ['resolved', 250],
    ],
    { response: [60, 10], onsite: [240, 200] },
    3,
  ),
];
const NOW = T0 + 2000 * M;
const min = (n: number) => n * M;

describe('statistics', () => {
  it('mean, median (middle or mean of the two middle) and p90 (nearest rank)', () => {
    expect(summarize([])).toEqual({ count: 0, meanMs: null, medianMs: null, p90Ms: null });
    expect(summarize([90, 10, 60, 30])).toEqual({ count: 4, meanMs: 47.5, medianMs: 45, p90Ms: 90 });
    expect(summarize([5])).toEqual({ count: 1, meanMs: 5, medianMs: 5, p90Ms: 5 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarize(hundred).p90Ms).toBe(90);
  });

  it('matches the figures worked out by hand for the fixture', () => {
    const s = computeStats(FIXTURE, 'faultType', NOW);
    expect(s.overall).toMatchObject({
      tickets: 5,
      open: 1,
      resolved: 4,
      stages: {
        respond: { count: 4, meanMs: min(47.5), medianMs: min(45), p90Ms: min(90) },
        onsite: { count: 3, meanMs: min(2000 / 3), medianMs: min(300), p90Ms: min(1500) },
        remoteFix: { count: 1, meanMs: min(200), medianMs: min(200), p90Ms: min(200) },
        resolve: { count: 4, meanMs: min(617.5), medianMs: min(335), p90Ms: min(1600) },
      },
      compliance: {
        response: { met: 3, breached: 2, rate: 0.6 },
        remoteFix: { met: 1, breached: 1, rate: 0.5 },
        onsite: { met: 2, breached: 1, rate: 2 / 3 },
      },
      lateStage: { target: 'response', tickets: 2 },
      satisfaction: { count: 4, mean: 3.5 },
    });
    expect(s.overall.stages.onsite.meanMs).toBeCloseTo(min(666.6667), -1);
    expect(s.groups.map((g) => g.key)).toEqual(['electrical', 'mechanical']);
    const [electrical, mechanical] = s.groups;
    expect(mechanical).toMatchObject({
      tickets: 3,
      open: 0,
      resolved: 3,
      stages: {
        respond: { count: 3, meanMs: min(60), medianMs: min(60), p90Ms: min(90) },
        onsite: { count: 2, meanMs: min(900), medianMs: min(900), p90Ms: min(1500) },
        remoteFix: { count: 1, meanMs: min(200) },
        resolve: { count: 3, meanMs: min(740), medianMs: min(420), p90Ms: min(1600) },
      },
      compliance: {
        response: { met: 2, breached: 1 },
        remoteFix: { met: 1, breached: 0, rate: 1 },
        onsite: { met: 1, breached: 1, rate: 0.5 },
      },
      lateStage: { target: 'response', tickets: 1 },
      satisfaction: { count: 3 },
    });
    expect(mechanical?.satisfaction.mean).toBeCloseTo(11 / 3, 10);
    expect(electrical).toMatchObject({
      tickets: 2,
      open: 1,
      resolved: 1,
      stages: { respond: { count: 1, meanMs: min(10) }, remoteFix: { count: 0, meanMs: null } },
      compliance: {
        response: { met: 1, breached: 1, rate: 0.5 },
        remoteFix: { met: 0, breached: 1, rate: 0 },
        onsite: { met: 1, breached: 0, rate: 1 },
      },
      lateStage: { target: 'response', tickets: 1 },
      satisfaction: { count: 1, mean: 3 },
    });
    // Satisfaction against the time to respond: E 10 min (3); A 30 min (5); C 60 min and B 90 min (4, 2).
    expect(s.satisfactionByResponse).toEqual([
      { bucket: '<15m', count: 1, meanScore: 3 },
      { bucket: '15m-1h', count: 1, meanScore: 5 },
      { bucket: '1h-4h', count: 2, meanScore: 3 },
      { bucket: '4h-24h', count: 0, meanScore: null },
      { bucket: '>=24h', count: 0, meanScore: null },
    ]);
  });

  it('CSV: a header, all tickets, then one row per group; seconds and shares', () => {
    const csv = statsCsv(computeStats(FIXTURE, 'faultType', NOW))
      .trim()
      .split('\n');
    expect(csv).toHaveLength(4);
    const header = csv[0]?.split(',') ?? [];
    const all = Object.fromEntries(header.map((h, i) => [h, csv[1]?.split(',')[i]]));
    expect(all).toMatchObject({
      faultType: '(all)',
      tickets: '5',
      respond_mean_s: String(47.5 * 60),
      respond_median_s: String(45 * 60),
      respond_p90_s: String(90 * 60),
      response_compliance: '0.6000',
      late_stage: 'response',
      satisfaction_mean: '3.50',
    });
    expect(csv[2]?.startsWith('electrical,2,1,1,')).toBe(true);
  });
});

describe('CSV cells (issue 18)', () => {
  it('neutralises formulas; numbers, negative ones included, stay numbers', () => {
    expect(csvCell('=HYPERLINK("http://evil.example","x")')).toBe(
      '"\'=HYPERLINK(""http://evil.example"",""x"")"',
    );
    expect(csvCell('+49 30 1234')).toBe("'+49 30 1234");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('-cmd')).toBe("'-cmd");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('-12.5')).toBe('-12.5');
    expect(csvCell('42')).toBe('42');
    expect(csvCell('north, hall 2')).toBe('"north, hall 2"');
  });
});
