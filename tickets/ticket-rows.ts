import type {
  Dispatch,
  Feedback,
  RepairReport,
  Reporter,
  SlaClock,
  SlaTarget,
  Ticket,
  TicketEvent,
} from './model.js';
import { isOpen, nextDueAt, PRIORITY_RANK } from './model.js';
import type { NewTicket } from './store.js';

/**
 * The rows of tickets, clocks and timeline entries as both ticket stores (SQLite and PostgreSQL)
 * lay them out: the same columns, so that one mapping serves both. JSON columns are text in SQLite
 * and JSONB in PostgreSQL (which the driver hands over parsed).
 */

/** Sort key for "no unmet deadline": after every real one. */
export const NO_DEADLINE = 8_640_000_000_000_000;

type Json = string | object | null;

export interface TicketRow {
  seq: number;
  title: string;
  description: string;
  priority: Ticket['priority'];
  status: Ticket['status'];
  source: Ticket['source'];
  device_id: string | null;
  site: string | null;
  area: Ticket['area'];
  customer: string | null;
  equipment_model: string | null;
  rule_id: string | null;
  alert_id: string | null;
  fault_type: string;
  occurrences: number;
  last_occurrence_at: number | null;
  reported_at: number;
  created_at: number;
  updated_at: number;
  final_at: number | null;
  assignees: Json;
  team: string | null;
  labels: Json;
  is_open: number;
  priority_rank: number;
  due_key: number;
  reporter: Json;
  report: Json;
  feedback: Json;
  waiting_on: Ticket['waitingOn'];
  waiting_for: Json;
  dispatch: Json;
}

export interface ClockRow {
  ticket_seq: number;
  target: SlaTarget;
  start_at: number;
  due_at: number;
  met_at: number | null;
  calendar: string;
  target_ms: number;
  worked_ms: number;
  running_since: number | null;
  paused_at: number | null;
  notified: number;
}

export interface EventRow {
  at: number;
  type: TicketEvent['type'];
  actor: string;
  from_status: TicketEvent['from'];
  to_status: TicketEvent['to'];
  note: string | null;
}

/** When a clock shows its first warning (null: paused, met, or past it); stored for the SQL filters. */
export type WarnAtOf = (c: SlaClock) => number | null;

/** Without a policy: the first warning at half of the clock's remaining plain time. */
export const HALFWAY: WarnAtOf = (c) =>
  c.metAt !== null || c.runningSince === null
    ? null
    : c.runningSince + Math.max(0, Math.ceil(c.targetMs / 2) - c.workedMs);

export const idOf = (seq: number) => `T-${seq}`;
export function seqOf(id: string): number | undefined {
  const m = /^T-(\d{1,15})$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/** The columns of a ticket (not its clocks), named as in the tables. */
export function ticketColumns(t: NewTicket | Ticket) {
  return {
    title: t.title,
    description: t.description,
    priority: t.priority,
    priority_rank: PRIORITY_RANK[t.priority],
    status: t.status,
    is_open: isOpen(t.status) ? 1 : 0,
    source: t.source,
    device_id: t.deviceId,
    site: t.site,
    area: t.area,
    customer: t.customer,
    equipment_model: t.equipmentModel,
    rule_id: t.ruleId,
    alert_id: t.alertId,
    fault_type: t.faultType,
    reported_at: t.reportedAt,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    final_at: 'finalAt' in t ? t.finalAt : null,
    assignees: JSON.stringify(t.assignees),
    team: t.team,
    labels: JSON.stringify(t.labels),
    reporter: t.reporter ? JSON.stringify(t.reporter) : null,
    report: 'report' in t && t.report ? JSON.stringify(t.report) : null,
    feedback: 'feedback' in t && t.feedback ? JSON.stringify(t.feedback) : null,
    waiting_on: 'waitingOn' in t ? t.waitingOn : null,
    waiting_for: 'waitingFor' in t && t.waitingFor ? JSON.stringify(t.waitingFor) : null,
    dispatch: 'dispatch' in t && t.dispatch ? JSON.stringify(t.dispatch) : null,
    due_key: Math.round(nextDueAt(t) ?? NO_DEADLINE),
  };
}

/** The columns of one clock, in the order of `CLOCK_COLUMNS`. */
export const CLOCK_COLUMNS =
  'ticket_seq, target, start_at, due_at, met_at, calendar, target_ms, worked_ms, running_since, paused_at, warn_at, notified';
export function clockValues(seq: number, target: SlaTarget, c: SlaClock, warnAtOf: WarnAtOf) {
  return [
    seq,
    target,
    ms(c.startAt),
    ms(c.dueAt),
    ms(c.metAt),
    c.calendar,
    ms(c.targetMs),
    ms(c.workedMs),
    ms(c.runningSince),
    ms(c.pausedAt),
    ms(warnAtOf(c)),
    c.notified,
  ];
}

/**
 * Times and durations are stored in whole milliseconds (BIGINT on PostgreSQL refuses a fraction, which
 * arithmetic on odd spans can make): rounded here, so that both stores keep the same values.
 */
const ms = (v: number | null): number | null => (v === null ? null : Math.round(v));

function json<T>(v: Json): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}
const jsonOrNull = <T>(v: Json): T | null => (v === null ? null : json<T>(v));

/** The clocks of some tickets, by ticket. */
export function clocksBySeq(rows: readonly ClockRow[]): Map<number, Ticket['sla']> {
  const bySeq = new Map<number, Ticket['sla']>();
  for (const c of rows) {
    let sla = bySeq.get(c.ticket_seq);
    if (!sla) {
      sla = {};
      bySeq.set(c.ticket_seq, sla);
    }
    sla[c.target] = {
      calendar: c.calendar,
      targetMs: c.target_ms,
      startAt: c.start_at,
      workedMs: c.worked_ms,
      runningSince: c.running_since,
      dueAt: c.due_at,
      metAt: c.met_at,
      pausedAt: c.paused_at,
      notified: c.notified,
    };
  }
  return bySeq;
}

export function ticketOf(r: TicketRow, sla: Ticket['sla']): Ticket {
  return {
    id: idOf(r.seq),
    title: r.title,
    description: r.description,
    priority: r.priority,
    status: r.status,
    source: r.source,
    deviceId: r.device_id,
    site: r.site,
    area: r.area,
    customer: r.customer,
    equipmentModel: r.equipment_model,
    ruleId: r.rule_id,
    alertId: r.alert_id,
    faultType: r.fault_type,
    occurrences: r.occurrences,
    lastOccurrenceAt: r.last_occurrence_at,
    reportedAt: r.reported_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finalAt: r.final_at,
    assignees: json<string[]>(r.assignees),
    team: r.team,
    labels: json<Record<string, string>>(r.labels),
    reporter: jsonOrNull<Reporter>(r.reporter),
    report: jsonOrNull<RepairReport>(r.report),
    feedback: jsonOrNull<Feedback>(r.feedback),
    waitingOn: r.waiting_on,
    waitingFor: jsonOrNull<Ticket['waitingFor']>(r.waiting_for),
    dispatch: jsonOrNull<Dispatch>(r.dispatch),
    sla,
  };
}

export function eventOf(ticketId: string, r: EventRow): TicketEvent {
  return {
    ticketId,
    at: r.at,
    type: r.type,
    actor: r.actor,
    from: r.from_status,
    to: r.to_status,
    note: r.note,
  };
}
