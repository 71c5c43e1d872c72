import type { SlaTarget, Ticket, TicketEvent } from './model.js';

/**
 * Where response time goes (R6.2, R6.3): per group of tickets, how long each stage took, how often
 * each target was met, which stage most often made tickets late, and satisfaction against the time
 * to respond. Pure: computed from tickets and their timelines, so a fixture checks it by hand.
 *
 * Definitions (wall-clock time from `reportedAt`, the moment the fault was reported):
 * - respond: until the response clock was met (acknowledged or any later working status);
 * - onsite: until the first `on_site`;
 * - remoteFix: until the first `resolved`, for tickets resolved without a visit being dispatched;
 * - resolve: until the first `resolved`.
 * Mean, median (the middle value, or the mean of the two middle ones) and p90 (nearest rank: the
 * ⌈0.9·n⌉-th smallest). Compliance counts decided clocks only: met on time vs breached (met late,
 * or unmet past the deadline at `now`). The late stage of a ticket is its breached target with the
 * earliest deadline.
 */
export const STAGES = ['respond', 'onsite', 'remoteFix', 'resolve'] as const;
export type Stage = (typeof STAGES)[number];

export const GROUP_BY = ['faultType', 'priority', 'site', 'team', 'technician', 'customer'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

/** Time-to-respond buckets for satisfaction (upper bounds in ms; the last is open). */
export const RESPONSE_BUCKETS = [
  { label: '<15m', below: 15 * 60_000 },
  { label: '15m-1h', below: 3_600_000 },
  { label: '1h-4h', below: 4 * 3_600_000 },
  { label: '4h-24h', below: 24 * 3_600_000 },
  { label: '>=24h', below: Number.POSITIVE_INFINITY },
] as const;

export interface Summary {
  count: number;
  meanMs: number | null;
  medianMs: number | null;
  p90Ms: number | null;
}

export interface Compliance {
  met: number;
  breached: number;
  /** met / (met + breached), null when none is decided. */
  rate: number | null;
}

export interface GroupStats {
  key: string;
  tickets: number;
  open: number;
  resolved: number;
  stages: Record<Stage, Summary>;
  compliance: Partial<Record<SlaTarget, Compliance>>;
  /** The target that most often made tickets of the group late (ties: the earlier in SLA order). */
  lateStage: { target: SlaTarget; tickets: number } | null;
  satisfaction: { count: number; mean: number | null };
}

export interface Stats {
  groupBy: GroupBy;
  overall: GroupStats;
  groups: GroupStats[];
  satisfactionByResponse: { bucket: string; count: number; meanScore: number | null }[];
}

export type TicketWithTimeline = { ticket: Ticket; timeline: readonly TicketEvent[] };

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, meanMs: null, medianMs: null, p90Ms: null };
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  const mid = Math.floor(n / 2);
  return {
    count: n,
    meanMs: v.reduce((s, x) => s + x, 0) / n,
    medianMs: n % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2,
    p90Ms: v[Math.ceil(0.9 * n) - 1] as number,
  };
}

const firstStatus = (tl: readonly TicketEvent[], to: string) =>
  tl.find((e) => e.type === 'status' && e.to === to)?.at ?? null;

/** How long each stage of one ticket took (null: the ticket did not reach it). */
export function stageTimes(t: Ticket, tl: readonly TicketEvent[]): Record<Stage, number | null> {
  const since = (at: number | null) => (at === null ? null : at - t.reportedAt);
  const resolved = firstStatus(tl, 'resolved');
  const dispatched = firstStatus(tl, 'dispatched') !== null;
  return {
    respond: since(t.sla.response?.metAt ?? null),
    onsite: since(firstStatus(tl, 'on_site')),
    remoteFix: dispatched ? null : since(resolved),
    resolve: since(resolved),
  };
}

const TARGET_ORDER: readonly SlaTarget[] = ['response', 'remoteFix', 'onsite', 'resolution', 'visit'];

/** Each decided clock: met on time, or breached; with the deadline (for the late stage). */
function outcomes(t: Ticket, now: number): { target: SlaTarget; ok: boolean; dueAt: number }[] {
  const out: { target: SlaTarget; ok: boolean; dueAt: number }[] = [];
  for (const target of TARGET_ORDER) {
    const c = t.sla[target];
    if (!c) continue;
    if (c.metAt !== null) out.push({ target, ok: c.metAt <= c.dueAt, dueAt: c.dueAt });
    else if (c.runningSince !== null && c.dueAt < (t.finalAt ?? now))
      out.push({ target, ok: false, dueAt: c.dueAt });
  }
  return out;
}

function keyOf(t: Ticket, by: GroupBy): string {
  switch (by) {
    case 'technician':
      return t.assignees[0] ?? '(unassigned)';
    case 'team':
      return t.team ?? '(no team)';
    case 'site':
      return t.site ?? '(no site)';
    case 'customer':
      return t.customer ?? '(no customer)';
    default:
      return t[by];
  }
}

function group(key: string, items: readonly TicketWithTimeline[], now: number): GroupStats {
  const stageValues: Record<Stage, number[]> = { respond: [], onsite: [], remoteFix: [], resolve: [] };
  const compliance: Partial<Record<SlaTarget, Compliance>> = {};
  const late = new Map<SlaTarget, number>();
  const scores: number[] = [];
  let open = 0;
  let resolved = 0;
  for (const { ticket: t, timeline } of items) {
    if (t.finalAt === null) open++;
    if (t.status === 'resolved' || t.status === 'closed') resolved++;
    const times = stageTimes(t, timeline);
    for (const s of STAGES) {
      const v = times[s];
      if (v !== null) stageValues[s].push(v);
    }
    const o = outcomes(t, now);
    for (const x of o) {
      const c = compliance[x.target] ?? { met: 0, breached: 0, rate: null };
      compliance[x.target] = c;
      if (x.ok) c.met++;
      else c.breached++;
    }
    const firstLate = o.filter((x) => !x.ok).sort((a, b) => a.dueAt - b.dueAt)[0];
    if (firstLate) late.set(firstLate.target, (late.get(firstLate.target) ?? 0) + 1);
    if (t.feedback) scores.push(t.feedback.score);
  }
  for (const c of Object.values(compliance))
    c.rate = c.met + c.breached ? c.met / (c.met + c.breached) : null;
  let lateStage: GroupStats['lateStage'] = null;
  for (const target of TARGET_ORDER) {
    const n = late.get(target) ?? 0;
    if (n > 0 && (lateStage === null || n > lateStage.tickets)) lateStage = { target, tickets: n };
  }
  return {
    key,
    tickets: items.length,
    open,
    resolved,
    stages: {
      respond: summarize(stageValues.respond),
      onsite: summarize(stageValues.onsite),
      remoteFix: summarize(stageValues.remoteFix),
      resolve: summarize(stageValues.resolve),
    },
    compliance,
    lateStage,
    satisfaction: {
      count: scores.length,
      mean: scores.length ? scores.reduce((s, x) => s + x, 0) / scores.length : null,
    },
  };
}

export function computeStats(items: readonly TicketWithTimeline[], by: GroupBy, now: number): Stats {
  const groups = new Map<string, TicketWithTimeline[]>();
  for (const it of items) {
    const k = keyOf(it.ticket, by);
    const list = groups.get(k);
    if (list) list.push(it);
    else groups.set(k, [it]);
  }
  const buckets = RESPONSE_BUCKETS.map((b) => ({ bucket: b.label, scores: [] as number[] }));
  for (const { ticket: t } of items) {
    const respondAt = t.sla.response?.metAt;
    if (!t.feedback || respondAt == null) continue;
    const ms = respondAt - t.reportedAt;
    const i = RESPONSE_BUCKETS.findIndex((b) => ms < b.below);
    buckets[i]?.scores.push(t.feedback.score);
  }
  return {
    groupBy: by,
    overall: group('(all)', items, now),
    groups: [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, list]) => group(k, list, now)),
    satisfactionByResponse: buckets.map((b) => ({
      bucket: b.bucket,
      count: b.scores.length,
      meanScore: b.scores.length ? b.scores.reduce((s, x) => s + x, 0) / b.scores.length : null,
    })),
  };
}

const seconds = (ms: number | null) => (ms === null ? '' : (ms / 1000).toFixed(0));
/**
 * One CSV cell. A text starting with = + - @ (or a tab or carriage return) is a formula to a
 * spreadsheet (`=HYPERLINK(…)` in a site or customer name): it gets a leading apostrophe, as OWASP
 * recommends for CSV injection (issue 18). Numbers, negative ones included, stay numbers.
 */
export function csvCell(raw: string): string {
  const v = /^[=+\-@\t\r]/.test(raw) && !/^-?\d+(\.\d+)?$/.test(raw) ? `'${raw}` : raw;
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** One row per group (and a first row for all tickets); durations in seconds, rates 0–1. */
export function statsCsv(s: Stats): string {
  const targets: SlaTarget[] = ['response', 'remoteFix', 'onsite', 'resolution', 'visit'];
  const header = [
    s.groupBy,
    'tickets',
    'open',
    'resolved',
    ...STAGES.flatMap((st) => [`${st}_count`, `${st}_mean_s`, `${st}_median_s`, `${st}_p90_s`]),
    ...targets.flatMap((t) => [`${t}_met`, `${t}_breached`, `${t}_compliance`]),
    'late_stage',
    'late_tickets',
    'satisfaction_count',
    'satisfaction_mean',
  ];
  const row = (g: GroupStats) => [
    g.key,
    String(g.tickets),
    String(g.open),
    String(g.resolved),
    ...STAGES.flatMap((st) => {
      const x = g.stages[st];
      return [String(x.count), seconds(x.meanMs), seconds(x.medianMs), seconds(x.p90Ms)];
    }),
    ...targets.flatMap((t) => {
      const c = g.compliance[t];
      return c ? [String(c.met), String(c.breached), c.rate === null ? '' : c.rate.toFixed(4)] : ['', '', ''];
    }),
    g.lateStage?.target ?? '',
    g.lateStage ? String(g.lateStage.tickets) : '',
    String(g.satisfaction.count),
    g.satisfaction.mean === null ? '' : g.satisfaction.mean.toFixed(2),
  ];
  return `${[header, row(s.overall), ...s.groups.map(row)].map((r) => r.map(csvCell).join(',')).join('\n')}\n`;
}
