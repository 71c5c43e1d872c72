import { OPEN_STATUSES, type Priority, type SessionInfo, type Ticket } from './api.js';

/** The queue's filters, as kept in the URL's query (`?site=north&class=emergency&mine=1`). */
export interface Filters {
  site: string;
  team: string;
  class: string;
  status: string;
  mine: boolean;
}

export function filtersOf(query: Record<string, string>): Filters {
  return {
    site: query.site ?? '',
    team: query.team ?? '',
    class: query.class ?? '',
    status: query.status ?? '',
    mine: query.mine === '1',
  };
}

export function queryOf(f: Filters): string {
  const q = new URLSearchParams();
  if (f.site) q.set('site', f.site);
  if (f.team) q.set('team', f.team);
  if (f.class) q.set('class', f.class);
  if (f.status) q.set('status', f.status);
  if (f.mine) q.set('mine', '1');
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The API query for the filters: open tickets in urgency order, 500 a page. */
export function listPath(f: Filters, me: SessionInfo['user']): string {
  const q = new URLSearchParams({ sort: 'urgency', limit: '500' });
  q.set('status', f.status || OPEN_STATUSES.join(','));
  if (f.site) q.set('site', f.site);
  if (f.team) q.set('team', f.team);
  if (f.class) q.set('priority', f.class);
  if (f.mine && me.technician) q.set('assignee', me.technician);
  return `/tickets?${q.toString()}`;
}

/** Whether a ticket (from the event stream) belongs in the queue as filtered. */
export function matches(t: Ticket, f: Filters, me: SessionInfo['user']): boolean {
  if (f.status ? t.status !== f.status : !(OPEN_STATUSES as readonly string[]).includes(t.status))
    return false;
  if (f.site && t.site !== f.site) return false;
  if (f.team && t.team !== f.team) return false;
  if (f.class && t.priority !== f.class) return false;
  if (f.mine && !(me.technician && t.assignees.includes(me.technician))) return false;
  return true;
}

const RANK: Record<Priority, number> = { emergency: 0, general: 1, preventive: 2 };

/** The nearest deadline of a clock not yet met (the queue's order after the class). */
function nextDue(t: Ticket): number {
  let due = Number.POSITIVE_INFINITY;
  for (const c of Object.values(t.sla)) if (c && c.metAt === null) due = Math.min(due, Date.parse(c.dueAt));
  return due;
}

/** Urgency order, as the API's `sort=urgency`: class, then the nearest unmet deadline, then age. */
export function byUrgency(a: Ticket, b: Ticket): number {
  return (
    RANK[a.priority] - RANK[b.priority] ||
    nextDue(a) - nextDue(b) ||
    Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
    (a.id < b.id ? -1 : 1)
  );
}

/** A ticket as the queue holds it: with the moment its clocks were read (bars move from there). */
export interface Row {
  ticket: Ticket;
  receivedAt: number;
  /** Arrived by the event stream since the queue opened (marked "new" for a while). */
  arrivedAt: number | null;
  /** Its urgency, computed once: class rank, nearest unmet deadline, creation (10k rows sort in ms). */
  rank: number;
  due: number;
  created: number;
}

export function rowOf(ticket: Ticket, receivedAt: number, arrivedAt: number | null): Row {
  return {
    ticket,
    receivedAt,
    arrivedAt,
    rank: RANK[ticket.priority],
    due: nextDue(ticket),
    created: Date.parse(ticket.createdAt),
  };
}

/** `byUrgency` on rows, with the keys computed once. */
export function rowsByUrgency(a: Row, b: Row): number {
  return a.rank - b.rank || a.due - b.due || a.created - b.created || (a.ticket.id < b.ticket.id ? -1 : 1);
}
