import { withinBudget } from '../lib/coalesce.js';
import type { Logger } from '../lib/log.js';
import type { Alert } from '../rules/alerts.js';
import { type AlertTransition, type Scheduler, systemScheduler } from '../rules/engine.js';
import type { RecurrenceSummary, TicketService } from './service.js';

/** The maintenance windows, as the intake needs them: which ticket, if any, a window belongs to. */
export interface MaintenanceWindows {
  /** The ticket of a window (a preventive visit's), or null; undefined when there is no such window. */
  ticketOf(windowId: string): Promise<string | null | undefined>;
}

/** An alert's changes noted one by one on its ticket's timeline within a window… */
export const NOTES_PER_WINDOW = 6;
/** …of this length; beyond that they are summed into one entry per kind per window. */
export const NOTE_WINDOW_MS = 60_000;

/** What the intake remembers of one (rule, device) pair with an open ticket. */
interface Pair {
  ticketId: string;
  alertId: string;
  /** When its changes were noted one by one, within the last window. */
  noted: number[];
  /** Counted but not yet on the timeline (since `since`). */
  since: number;
  occurrences: { count: number; lastAt: number };
  recoveries: { count: number; lastAt: number };
}

/**
 * What an alert's change does to tickets — the policy between the alerts and tickets stages of the
 * pipeline (gateway/pipeline.ts):
 * - firing: opens a ticket for (rule, device), or counts an occurrence on its open one; during a
 *   maintenance window no ticket is opened — the alert is recorded, and the visit's ticket (if the
 *   window is a preventive visit) hears of it on its timeline;
 * - resolved: noted on the open ticket (the work goes on: a person closes tickets);
 * - escalated (priority rose while firing): the open ticket takes the higher class and its targets.
 *
 * A flapping alert (issue 19) would write a timeline entry and an event per change, thousands an
 * hour, each a transaction's worth of work, and bury the timeline a technician reads. So the first
 * NOTES_PER_WINDOW changes of a pair in any NOTE_WINDOW_MS are noted one by one, as they come; the
 * rest are counted on the ticket (`occurrences`, `lastOccurrenceAt`: every one, on the file within a second) and summed into
 * one `occurrence` and one `alert_resolved` entry (with one `ticket.occurrence` event) when the window
 * ends, and at the stop. A crash loses only those pending summaries and at most a second of the counter.
 */
export class AlertIntake {
  private readonly pairs = new Map<string, Pair>();
  private timer: unknown = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly tickets: TicketService,
    private readonly windows: MaintenanceWindows,
    private readonly logger: Logger,
    private readonly scheduler: Scheduler = systemScheduler,
  ) {}

  async firing(alert: Alert, t: AlertTransition): Promise<void> {
    if (alert.silencedBy) {
      const ticketId = await this.windows.ticketOf(alert.silencedBy);
      this.logger.info(
        { alertId: alert.id, silence: alert.silencedBy },
        'alert during maintenance: no ticket',
      );
      if (ticketId) await this.tickets.noteMaintenanceAlert(ticketId, alert, alert.silencedBy);
      return;
    }
    const now = this.scheduler.now();
    const pair = this.pairs.get(pairKey(alert));
    if (pair && !this.mayNote(pair, now)) {
      const id = await this.tickets.countOccurrence(alert.ruleId, alert.deviceId);
      if (id === pair.ticketId) {
        this.pend(pair, now).occurrences = { count: pair.occurrences.count + 1, lastAt: now };
        return;
      }
      // No open ticket any more (someone resolved it), or another one: noted as usual.
      if (id !== undefined) await this.countedElsewhere(alert, id, now);
    }
    const { ticket } = await this.tickets.openFromAlert(alert, t);
    await this.noted(alert, ticket.id, now);
  }

  async resolved(alert: Alert): Promise<void> {
    const now = this.scheduler.now();
    const pair = this.pairs.get(pairKey(alert));
    if (pair && !this.mayNote(pair, now)) {
      const at = alert.resolvedAt ?? now;
      this.pend(pair, now).recoveries = { count: pair.recoveries.count + 1, lastAt: at };
      pair.alertId = alert.id;
      return;
    }
    const id = await this.tickets.alertResolved(alert);
    if (id !== undefined) await this.noted(alert, id, now);
  }

  async escalated(alert: Alert, t: AlertTransition): Promise<void> {
    await this.tickets.raiseFromAlert(alert, t);
  }

  /** Writes every pending summary now (the stop; tests). */
  flush(): Promise<void> {
    if (this.timer !== null) this.scheduler.clearTimeout(this.timer);
    this.timer = null;
    const run = () => this.flushAll();
    this.flushing = this.flushing.then(run, run);
    return this.flushing;
  }

  stop(): Promise<void> {
    return this.flush();
  }

  /** Whether the pair's next change may have its own timeline entry (the window's budget). */
  private mayNote(pair: Pair, now: number): boolean {
    return withinBudget(pair.noted, now, NOTE_WINDOW_MS, NOTES_PER_WINDOW);
  }

  /** A change noted one by one on ticket `ticketId`: counted against the window's budget. */
  private async noted(alert: Alert, ticketId: string, now: number): Promise<void> {
    const key = pairKey(alert);
    let pair = this.pairs.get(key);
    if (pair && pair.ticketId !== ticketId) {
      await this.summarise(pair); // what the previous ticket of the pair still had pending
      pair = undefined;
    }
    if (!pair) {
      pair = newPair(ticketId, alert.id, now);
      this.pairs.set(key, pair);
    }
    pair.noted.push(now);
  }

  /** The occurrence went to another open ticket of the pair (filed by another instance). */
  private async countedElsewhere(alert: Alert, ticketId: string, now: number): Promise<void> {
    await this.noted(alert, ticketId, now);
    const pair = this.pairs.get(pairKey(alert)) as Pair;
    this.pend(pair, now).occurrences = { count: pair.occurrences.count + 1, lastAt: now };
  }

  /** Marks the pair as having something pending; the window's end writes it. */
  private pend(pair: Pair, now: number): Pair {
    if (pair.occurrences.count === 0 && pair.recoveries.count === 0) pair.since = now;
    if (this.timer === null)
      this.timer = this.scheduler.setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, NOTE_WINDOW_MS);
    return pair;
  }

  private async flushAll(): Promise<void> {
    const now = this.scheduler.now();
    for (const [key, pair] of this.pairs) {
      await this.summarise(pair);
      this.mayNote(pair, now);
      if (pair.noted.length === 0) this.pairs.delete(key); // quiet for a window: forgotten
    }
  }

  private async summarise(pair: Pair): Promise<void> {
    if (pair.occurrences.count === 0 && pair.recoveries.count === 0) return;
    const summary: RecurrenceSummary = {
      alertId: pair.alertId,
      since: pair.since,
      occurrences: pair.occurrences,
      recoveries: pair.recoveries,
    };
    pair.occurrences = { count: 0, lastAt: 0 };
    pair.recoveries = { count: 0, lastAt: 0 };
    try {
      await this.tickets.noteRecurrences(pair.ticketId, summary);
    } catch (err) {
      this.logger.error(
        { err, ticketId: pair.ticketId, occurrences: summary.occurrences.count },
        'summary of a flapping alert could not be noted (the ticket counted every occurrence)',
      );
    }
  }
}

const pairKey = (a: Alert) => `${a.ruleId}\u0000${a.deviceId}`;

function newPair(ticketId: string, alertId: string, now: number): Pair {
  return {
    ticketId,
    alertId,
    noted: [],
    since: now,
    occurrences: { count: 0, lastAt: 0 },
    recoveries: { count: 0, lastAt: 0 },
  };
}
