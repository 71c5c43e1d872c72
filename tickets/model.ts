import type { PausableClock } from './clock.js';
/** The SLA class of a ticket (R1): its priority. */
export const PRIORITIES = ['emergency', 'general', 'preventive'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PRIORITY_RANK: Record<Priority, number> = { emergency: 0, general: 1, preventive: 2 };

export const OPEN_STATUSES = [
  'open',
  'acknowledged',
  'diagnosing',
  'dispatched',
  'on_site',
  'waiting',
] as const;
export const FINAL_STATUSES = ['resolved', 'closed', 'cancelled'] as const;
export const STATUSES = [...OPEN_STATUSES, ...FINAL_STATUSES] as const;
export type Status = (typeof STATUSES)[number];

export const SOURCES = ['monitoring', 'phone', 'portal', 'email', 'preventive'] as const;
export type Source = (typeof SOURCES)[number];

/** What a `waiting` ticket waits on; the SLA policy says which clocks each reason pauses. */
export const WAIT_REASONS = ['customer', 'parts', 'third_party'] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

export const SLA_TARGETS = ['response', 'remoteFix', 'onsite', 'resolution', 'visit'] as const;
export type SlaTarget = (typeof SLA_TARGETS)[number];
export const SLA_STATES = ['running', 'paused', 'warning', 'met', 'breached'] as const;
export type SlaState = (typeof SLA_STATES)[number];

/** One SLA clock: computed once from the policy when the ticket opens, then stored. */
/** What the technician reports when the work is done (R5.2). */
export interface RepairReport {
  cause: string;
  actions: string;
  partsUsed: { part: string; quantity: number }[];
  prevention: string;
  by: string;
  at: number;
  /** The team lead's review: pending until accepted, or returned with findings. */
  review: {
    state: 'pending' | 'accepted' | 'returned';
    by: string | null;
    at: number | null;
    findings: string | null;
  };
}

export interface Feedback {
  score: 1 | 2 | 3 | 4 | 5;
  comment: string | null;
  at: number;
}

/** The person who reported a fault (manual intake). */
export interface Reporter {
  name: string;
  phone?: string;
  email?: string;
  /** The hotline operator who took the call, if any. */
  takenBy?: string;
}

/**
 * The on-site visit as planned when the ticket was dispatched (R4.1): who goes (own technicians or
 * the partner team of a remote area), when, and with which tools and parts.
 */
export interface Dispatch {
  by: 'own' | 'partner';
  team: string | null;
  technicians: string[];
  /** The appointment agreed with the customer. */
  appointmentAt: number;
  tools: string[];
  parts: { part: string; quantity: number }[];
  note: string | null;
  /** When and by whom the visit was planned. */
  plannedAt: number;
  plannedBy: string;
}

/** A clock of the ticket: deadline, pauses and working time on its calendar (see clock.ts). */
export type SlaClock = PausableClock;

export interface Ticket {
  id: string;
  title: string;
  description: string;
  priority: Priority;
  status: Status;
  source: Source;
  deviceId: string | null;
  site: string | null;
  /** Service area of the site, which selected the on-site targets. */
  area: 'local' | 'remote';
  customer: string | null;
  equipmentModel: string | null;
  ruleId: string | null;
  alertId: string | null;
  faultType: string;
  /** Times the alert fired again while this ticket was open. */
  occurrences: number;
  lastOccurrenceAt: number | null;
  reportedAt: number;
  createdAt: number;
  updatedAt: number;
  /** When the ticket reached a final status (clocks freeze there). */
  finalAt: number | null;
  assignees: string[];
  team: string | null;
  /** Who reported it, for tickets filed by a hotline operator, a customer portal or e-mail. */
  reporter: Reporter | null;
  /** The repair report (required to resolve) and the lead's review of it. */
  report: RepairReport | null;
  /** The customer's satisfaction after the work. */
  feedback: Feedback | null;
  /** What a `waiting` ticket waits on (null in every other status). */
  waitingOn: WaitReason | null;
  /** Waiting on parts: which, and when each is expected (the supplier's lead time); else null. */
  waitingFor: { part: string; quantity: number; expectedAt: number | null }[] | null;
  /** The planned on-site visit (the last one, if a ticket was dispatched again). */
  dispatch: Dispatch | null;
  labels: Record<string, string>;
  sla: Partial<Record<SlaTarget, SlaClock>>;
}

export type TicketEventType =
  | 'created'
  | 'status'
  | 'occurrence'
  | 'alert_resolved'
  | 'priority_raised'
  | 'maintenance_alert'
  | 'routed'
  | 'sla_warning'
  | 'sla_breach'
  | 'notification'
  | 'assigned'
  | 'report'
  | 'review'
  | 'feedback'
  | 'comment'
  | 'dispatch'
  | 'visit_agreed'
  | 'parts';

/** One entry of a ticket's timeline: every stage is time-stamped (R6.1). */
export interface TicketEvent {
  ticketId: string;
  at: number;
  type: TicketEventType;
  actor: string;
  from: Status | null;
  to: Status | null;
  note: string | null;
}

export type NewTicketEvent = Omit<TicketEvent, 'ticketId'>;

export function isOpen(status: Status): boolean {
  return (OPEN_STATUSES as readonly string[]).includes(status);
}

/** The nearest deadline of a clock not yet met, for urgency sorting; `null` when none or final. */
export function nextDueAt(t: Pick<Ticket, 'status' | 'sla'>): number | null {
  if (!isOpen(t.status)) return null;
  let min: number | null = null;
  for (const c of Object.values(t.sla)) {
    if (c && c.metAt === null && (min === null || c.dueAt < min)) min = c.dueAt;
  }
  return min;
}
