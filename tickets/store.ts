import type { Page } from '../lib/cursor.js';
import type {
  NewTicketEvent,
  Priority,
  SlaState,
  SlaTarget,
  Source,
  Status,
  Ticket,
  TicketEvent,
} from './model.js';

/** A ticket before the store gave it an id. */
/** A ticket as filed: no report or feedback yet. */
export type NewTicket = Omit<
  Ticket,
  | 'id'
  | 'occurrences'
  | 'lastOccurrenceAt'
  | 'finalAt'
  | 'report'
  | 'feedback'
  | 'waitingOn'
  | 'waitingFor'
  | 'dispatch'
>;

export interface TicketFilter {
  status?: Status[];
  priority?: Priority[];
  source?: Source[];
  deviceId?: string;
  site?: string;
  /** Any of these sites (a key limited to sites). */
  siteIn?: string[];
  customer?: string;
  team?: string;
  assignee?: string;
  faultType?: string;
  ruleId?: string;
  /** Tickets with at least one clock in one of these states at `now`. */
  slaState?: SlaState[];
  /** Text search in title, description and customer. */
  q?: string;
  /** Created (filed) in [createdFrom, createdTo), ms. */
  createdFrom?: number;
  createdTo?: number;
  /** Last changed in [updatedFrom, updatedTo), ms. */
  updatedFrom?: number;
  updatedTo?: number;
}

export type TicketSort = 'urgency' | '-createdAt';

export interface ListQuery {
  filter: TicketFilter;
  sort: TicketSort;
  limit: number;
  cursor?: string;
  /** The time SLA states are judged at (for the `slaState` filter). */
  now: number;
}

/** The result of a monitoring intake: the ticket, and whether it was new or an occurrence. */
export interface OpenResult {
  ticket: Ticket;
  created: boolean;
}

/**
 * Where tickets live. Every method returns a promise, so that a PostgreSQL store can serve several
 * gateway instances. Implementations must pass `store-contract.ts`.
 */
export interface TicketStore {
  /**
   * Opens a ticket for (ruleId, deviceId), or — when one for that pair is already in an open
   * status — counts an occurrence on it instead. Atomic: never two open tickets for one pair.
   */
  openOrRecur(input: NewTicket & { ruleId: string; deviceId: string }, at: number): Promise<OpenResult>;
  /**
   * Counts an occurrence (counter, last time, one timeline entry) on the open ticket of
   * (ruleId, deviceId), if there is one, and returns it; `undefined` when the pair has none. The
   * cheap path of a re-firing alert: `openOrRecur` is for when a ticket may have to be filed.
   */
  recur(ruleId: string, deviceId: string, at: number): Promise<Ticket | undefined>;
  /**
   * Counts an occurrence (counter and last time, no timeline entry) on the open ticket of
   * (ruleId, deviceId); returns its id, `undefined` when the pair has none open. The cheapest path
   * of a flapping alert, whose occurrences are summed on the timeline by the intake.
   */
  count(ruleId: string, deviceId: string, at: number): Promise<string | undefined>;
  /** Creates a ticket with no de-duplication (manual intake). */
  create(input: NewTicket, event: NewTicketEvent): Promise<Ticket>;
  get(id: string): Promise<Ticket | undefined>;
  /** Filtered list; `sort=urgency`: open before final, then class, then nearest unmet deadline. */
  list(q: ListQuery): Promise<Page<Ticket>>;
  /**
   * Read-modify-write of one ticket in one transaction. `mutate` is synchronous and pure: it gets
   * the current ticket and returns the new one with the timeline entries to append; returning the
   * very object it got means "unchanged": only the entries are written. It may throw to refuse the
   * change. Returns `undefined` when there is no such ticket.
   */
  update(
    id: string,
    mutate: (t: Ticket) => { ticket: Ticket; events: NewTicketEvent[] },
  ): Promise<Ticket | undefined>;
  /**
   * Adds a timeline entry to the open ticket of (ruleId, deviceId), if there is one; returns its id
   * (`undefined`: none open). The ticket itself is not changed.
   */
  noteOnOpen(ruleId: string, deviceId: string, event: NewTicketEvent): Promise<string | undefined>;
  timeline(id: string): Promise<TicketEvent[]>;
  /** Open tickets per assignee (only those with any): the routing load, without reading tickets. */
  openCounts(sites?: readonly string[] | null): Promise<Map<string, number>>;
  /** Tickets in an open status per class (priority): for the metrics. */
  openByPriority(): Promise<Record<string, number>>;
  /** The newest ticket of each of these alerts, whatever its status: alert id → ticket id. */
  ticketsOfAlerts(alertIds: readonly string[]): Promise<Map<string, string>>;
  close(): Promise<void>;
}

export type { SlaTarget };

/**
 * The usage state of one (schedule, device) of a usage-counter schedule: the counter value the next
 * service is due at, and the reading the rate is measured from (the first one seen, or the one when
 * the last ticket opened).
 */
export interface UsageState {
  dueValue: number;
  baseValue: number;
  baseAt: number;
  ticketId: string | null;
}

/**
 * What the preventive planner (preventive.ts) remembers across restarts, per (schedule, device): the
 * last calendar visit a ticket was opened for, and the usage state of counter schedules.
 */
export interface PreventiveStore {
  /** The last calendar visit handled for (schedule, device), or undefined (none yet). */
  lastVisit(scheduleId: string, deviceId: string): Promise<number | undefined>;
  /** Records the visit handled for (schedule, device) and its ticket (null: the visit had one open). */
  saveVisit(scheduleId: string, deviceId: string, visitAt: number, ticketId: string | null): Promise<void>;
  /** Every stored usage state. */
  usageStates(): Promise<{ scheduleId: string; deviceId: string; state: UsageState }[]>;
  /** Stores (replacing) the usage state of (schedule, device). */
  saveUsage(scheduleId: string, deviceId: string, state: UsageState): Promise<void>;
}
