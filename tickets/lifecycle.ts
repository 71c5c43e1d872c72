import { FaultlineError } from '../lib/errors.js';
import { Calendar } from './calendar.js';
import { meetClock, pauseClock, resumeClock } from './clock.js';
import type { SlaClock, SlaTarget, Status, Ticket, WaitReason } from './model.js';
import { isOpen } from './model.js';

/**
 * Allowed transitions. The plan's flow: received (`open`) → response (`acknowledged`) → remote
 * diagnosis (`diagnosing`) → fixed remotely (`resolved`) or an on-site visit (`dispatched` →
 * `on_site` → `resolved`) → `closed`; `waiting` on customer or parts; `cancelled`; reopen.
 */
const NEXT: Record<Status, readonly Status[]> = {
  open: ['acknowledged', 'diagnosing', 'dispatched', 'waiting', 'resolved', 'cancelled'],
  acknowledged: ['diagnosing', 'dispatched', 'waiting', 'resolved', 'cancelled'],
  diagnosing: ['dispatched', 'waiting', 'resolved', 'cancelled'],
  dispatched: ['on_site', 'diagnosing', 'waiting', 'resolved', 'cancelled'],
  on_site: ['resolved', 'dispatched', 'waiting', 'cancelled'],
  // Back to `open` only for a ticket that was never responded to (see `mayGo`).
  waiting: ['open', 'acknowledged', 'diagnosing', 'dispatched', 'on_site', 'resolved', 'cancelled'],
  resolved: ['closed', 'open'],
  closed: [],
  cancelled: [],
};

export function allowedTransitions(from: Status): readonly Status[] {
  return NEXT[from];
}

/** Where this ticket may go now (the console offers these). */
export function nextStatuses(t: Ticket): Status[] {
  return NEXT[t.status].filter((s) => mayGo(t, s));
}

/**
 * Whether `t` may go to `to`. `waiting → open` returns a ticket to where it was when nobody had
 * responded yet (its response clock is unmet), so that the response clock paused on an unanswered
 * ticket runs again without being met (issue 18); once responded to, it returns to a later stage.
 */
function mayGo(t: Ticket, to: Status): boolean {
  if (!NEXT[t.status].includes(to)) return false;
  if (t.status === 'waiting' && to === 'open') return !t.sla.response || t.sla.response.metAt === null;
  return true;
}

const ALWAYS = new Calendar('24x7');

export interface TransitionContext {
  /** The calendars of the SLA policy by name (default: every clock on 24x7). */
  calendars?: (name: string) => Calendar;
  /** Entering `waiting`: what the ticket waits on (default `customer`). */
  waitingOn?: WaitReason;
  /** The targets a wait for this reason pauses (the SLA policy's pause conditions; default: all). */
  pauses?: (reason: WaitReason) => readonly SlaTarget[] | 'all';
}

/**
 * Applies a status change to a ticket: validates it, time-stamps the stages, meets the clocks the
 * stage satisfies. Pure: returns the new ticket.
 */
export function applyTransition(t: Ticket, to: Status, at: number, ctx: TransitionContext = {}): Ticket {
  const calendars = ctx.calendars ?? (() => ALWAYS);
  const meet = (c: SlaClock | undefined, when: number) => (c ? meetClock(calendars(c.calendar), c, when) : c);
  if (!mayGo(t, to)) {
    const allowed = NEXT[t.status].filter((s) => mayGo(t, s));
    throw new FaultlineError(
      'FL_ERR_TICKET_TRANSITION',
      `ticket ${t.id} cannot go from "${t.status}" to "${to}"` +
        (allowed.length ? ` (allowed: ${allowed.join(', ')})` : ' (it is final)'),
    );
  }
  const sla: Partial<Record<SlaTarget, SlaClock>> = { ...t.sla };
  const set = (k: SlaTarget, c: SlaClock | undefined) => {
    if (c) sla[k] = c;
  };
  if (to !== 'cancelled' && to !== 'waiting' && to !== 'open') set('response', meet(sla.response, at));
  if (to === 'dispatched') {
    // Remote fix did not work: the remote-fix target no longer applies; the on-site one does.
    if (sla.remoteFix && sla.remoteFix.metAt === null) delete sla.remoteFix;
  }
  if (to === 'on_site') {
    set('onsite', meet(sla.onsite, at));
    set('visit', meet(sla.visit, at));
  }
  if (to === 'resolved') {
    // Still present only if no visit was dispatched: then this was a remote fix, and the on-site
    // target no longer applies (mirror of dispatching, which drops the remote-fix target).
    if (sla.remoteFix && sla.remoteFix.metAt === null && sla.onsite && sla.onsite.metAt === null)
      delete sla.onsite;
    set('remoteFix', meet(sla.remoteFix, at));
    set('resolution', meet(sla.resolution, at));
  }
  // Waiting pauses the running clocks the policy names for the reason (on the customer: all, by
  // default); leaving it resumes the paused ones with their deadlines moved by the pause.
  const waitingOn = to === 'waiting' ? (ctx.waitingOn ?? 'customer') : null;
  const paused = waitingOn ? (ctx.pauses?.(waitingOn) ?? 'all') : [];
  for (const [k, c] of Object.entries(sla) as [SlaTarget, SlaClock][]) {
    if (waitingOn && t.status !== 'waiting' && (paused === 'all' || paused.includes(k)))
      sla[k] = pauseClock(calendars(c.calendar), c, at);
    if (t.status === 'waiting' && to !== 'waiting') sla[k] = resumeClock(calendars(c.calendar), c, at);
  }
  const finalAt = isOpen(to) ? null : (t.finalAt ?? at);
  const waitingFor = to === 'waiting' ? t.waitingFor : null;
  return { ...t, status: to, sla, updatedAt: at, finalAt, waitingOn, waitingFor };
}
