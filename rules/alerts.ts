import type { FieldValue } from '../ingest/point.js';
import type { Logger } from '../lib/log.js';
import type { AlertTransition } from './engine.js';
import type { AlertStore } from './store.js';

export type AlertState = 'pending' | 'firing' | 'resolved' | 'inactive';

/** The state of one rule for one device, as stored and served. */
export interface Alert {
  id: string;
  ruleId: string;
  deviceId: string;
  state: AlertState;
  priority: 'emergency' | 'general';
  faultType: string;
  value: FieldValue | null;
  /** When the current episode began (pending or firing). */
  activeAt: number | null;
  firedAt: number | null;
  resolvedAt: number | null;
  /** How many times this alert has fired. */
  fireCount: number;
  /** Fired often within the rule's flapping window (`flapping: { count, within }`). */
  flapping: boolean;
  /** The maintenance window (silence) this firing fell in: recorded, but no ticket opened. */
  silencedBy: string | null;
  updatedAt: number;
}

export interface AlertFilter {
  state?: AlertState[];
  deviceId?: string;
  /** Any of these devices (a key limited to sites sees their devices' alerts). */
  deviceIn?: string[];
  ruleId?: string;
}

/** One change of an alert, kept as its history (the newest 500 per alert). */
export interface AlertHistoryEntry {
  at: number;
  event: 'pending' | 'firing' | 'resolved' | 'inactive' | 'escalated';
  value: FieldValue | null;
  priority: Alert['priority'];
  silencedBy: string | null;
}

/** The order alerts are listed in: firing first, then pending, resolved, inactive (stored per row). */
export const STATE_RANK: Record<AlertState, number> = { firing: 0, pending: 1, resolved: 2, inactive: 3 };

/**
 * An alert's stored columns in the order both stores write them (id, rule, device, state, its rank,
 * priority, fault type, value as JSON, times, fire count, flapping as `flag` makes it, silence,
 * updated).
 */
export function alertColumns(a: Alert, flag: (flapping: boolean) => unknown): unknown[] {
  return [
    a.id,
    a.ruleId,
    a.deviceId,
    a.state,
    STATE_RANK[a.state],
    a.priority,
    a.faultType,
    a.value === null ? null : JSON.stringify(a.value),
    a.activeAt,
    a.firedAt,
    a.resolvedAt,
    a.fireCount,
    flag(a.flapping),
    a.silencedBy,
    a.updatedAt,
  ];
}

/** Changes kept per alert in its history. */
export const HISTORY_PER_ALERT = 500;
/** Changes between two prunes of an alert's history. */
const PRUNE_EVERY = 50;

/**
 * When a store prunes an alert's history to the newest HISTORY_PER_ALERT: every PRUNE_EVERY changes,
 * not each (the delete reads the alert's newest entries: a flapping alert paid for it on every
 * transition). The table holds at most PRUNE_EVERY more per alert; counted in memory (a restart
 * prunes on the first change).
 */
export class HistoryPruning {
  private readonly sincePrune = new Map<string, number>();

  /** Whether this change of alert `id` should prune its history. */
  due(id: string): boolean {
    const n = this.sincePrune.get(id);
    if (n !== undefined && n < PRUNE_EVERY) {
      this.sincePrune.set(id, n + 1);
      return false;
    }
    this.sincePrune.set(id, 1);
    return true;
  }
}

export type AlertListener = (alert: Alert, t: AlertTransition) => Promise<void> | void;

/**
 * Applies the engine's transitions to the stored alerts, one at a time in order, then tells the
 * listeners (the ticket service) about alerts that fired or resolved.
 */
export class AlertTracker {
  private chain: Promise<void> = Promise.resolve();
  /**
   * With `parallel`: one chain per alert instead of one for all — the transitions of one alert stay
   * in order, those of different alerts overlap (a shared database: each is a few round trips).
   */
  private readonly chains = new Map<string, Promise<void>>();
  private parallel = false;
  /**
   * The alerts this tracker wrote, as written: the tracker is their only writer, so a transition
   * reads its alert here instead of the store (issue 19: a re-firing costs no query).
   */
  private readonly known = new Map<string, Alert>();
  private readonly firing: AlertListener[] = [];
  private readonly resolved: AlertListener[] = [];
  private readonly escalated: AlertListener[] = [];

  constructor(
    private readonly store: AlertStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    /** Which maintenance window, if any, covers a firing (its id). */
    private readonly silencedBy: (t: AlertTransition) => string | null = () => null,
  ) {}

  onFiring(l: AlertListener): void {
    this.firing.push(l);
  }

  onResolved(l: AlertListener): void {
    this.resolved.push(l);
  }

  /** The alert's priority rose while firing (a general fault became an emergency). */
  onEscalated(l: AlertListener): void {
    this.escalated.push(l);
  }

  /**
   * Applies the transitions of different alerts concurrently (PostgreSQL, issue 20: a burst of
   * transitions waited on one round trip after another). In-process stores keep the one chain: their
   * calls do not wait, and the order of events across alerts stays the order of transitions.
   */
  applyInParallel(): void {
    this.parallel = true;
  }

  handle(t: AlertTransition): void {
    const fail = (err: unknown) => {
      this.logger.error({ err, alertId: t.alertId, event: t.event.type }, 'alert transition failed');
    };
    if (!this.parallel) {
      this.chain = this.chain.then(() => this.apply(t)).catch(fail);
      return;
    }
    const next = (this.chains.get(t.alertId) ?? Promise.resolve()).then(() => this.apply(t)).catch(fail);
    this.chains.set(t.alertId, next);
    void next.then(() => {
      if (this.chains.get(t.alertId) === next) this.chains.delete(t.alertId);
    });
  }

  /**
   * Another instance evaluates these devices now (issue 20): their alerts are read from the store
   * again, should they come back.
   */
  forget(deviceIds: ReadonlySet<string>): void {
    for (const [id, a] of this.known) if (deviceIds.has(a.deviceId)) this.known.delete(id);
  }

  /** Resolves when every transition handed in so far has been applied. */
  async idle(): Promise<void> {
    await this.chain;
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  private async apply(t: AlertTransition): Promise<void> {
    const prev = this.known.get(t.alertId) ?? (await this.store.get(t.alertId));
    const { event, rule } = t;
    const alert: Alert = prev
      ? { ...prev }
      : {
          id: t.alertId,
          ruleId: rule.id,
          deviceId: t.device.id,
          state: 'inactive',
          priority: rule.ticket.priority,
          faultType: rule.ticket.faultType,
          value: null,
          activeAt: null,
          firedAt: null,
          resolvedAt: null,
          fireCount: 0,
          flapping: false,
          silencedBy: null,
          updatedAt: 0,
        };
    if (event.type === 'firing') {
      alert.priority = event.priority ?? rule.ticket.priority;
      alert.faultType = event.entry?.faultType ?? rule.ticket.faultType;
      alert.flapping = event.flapping ?? false;
      alert.silencedBy = this.silencedBy(t);
    }
    if (event.type === 'escalated' && event.priority) alert.priority = event.priority;
    alert.value = event.value;
    alert.updatedAt = this.now();
    switch (event.type) {
      case 'pending':
        alert.state = 'pending';
        alert.activeAt = event.at;
        break;
      case 'firing':
        if (alert.state !== 'pending') alert.activeAt = event.at;
        alert.state = 'firing';
        alert.firedAt = event.at;
        alert.resolvedAt = null;
        alert.fireCount++;
        break;
      case 'resolved':
        alert.state = 'resolved';
        alert.resolvedAt = event.at;
        break;
      case 'inactive':
        alert.state = 'inactive';
        alert.activeAt = null;
        break;
      case 'escalated':
        break;
    }
    try {
      await this.store.upsert(alert, {
        at: event.at,
        event: event.type,
        value: event.value,
        priority: alert.priority,
        silencedBy: event.type === 'firing' ? alert.silencedBy : null,
      });
    } catch (err) {
      // Not written: the next transition reads what the store holds.
      this.known.delete(alert.id);
      throw err;
    }
    this.known.set(alert.id, alert);
    const listeners =
      event.type === 'firing'
        ? this.firing
        : event.type === 'resolved'
          ? this.resolved
          : event.type === 'escalated'
            ? this.escalated
            : [];
    for (const l of listeners) await l(alert, t);
  }
}
