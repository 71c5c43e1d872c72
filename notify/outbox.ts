import { randomBytes } from 'node:crypto';
import picomatch from 'picomatch';
import type { Page } from '../lib/cursor.js';
import type { OutboxStore } from './store.js';

/**
 * What Faultline tells the outside world (R5.1, R6.1): every ticket, alert, SLA and device change is
 * an event, stored in order in state.db. The live stream (SSE) replays them from any id and
 * follows new ones; webhook deliveries are written in the same transaction as their event, so an
 * event is never lost between "happened" and "to be delivered" (a transactional outbox).
 */
export const EVENT_TYPES = [
  'ticket.created',
  'ticket.updated',
  'ticket.occurrence',
  'ticket.escalated',
  'sla.warning',
  'sla.breach',
  'alert.firing',
  'alert.resolved',
  'device.online',
  'device.offline',
  'customer.notice',
  'parts.low_stock',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  type: EventType;
  at: number;
  /** What it is about: a ticket, alert or device id. */
  subject: string;
  /** Where: for keys limited to sites, and customer keys. */
  site: string | null;
  customer: string | null;
  data: unknown;
}

export interface StoredEvent extends NewEvent {
  /** Increasing: the SSE id, and the order of delivery. */
  seq: number;
}

export interface Webhook {
  id: string;
  url: string;
  /** Event types or globs (`ticket.*`). */
  types: string[];
  /** `whsec_` + base64 of the signing key (Standard Webhooks). */
  secret: string;
  description: string;
  active: boolean;
  createdAt: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead';

export interface Delivery {
  /** The message id: the same on every attempt, so that receivers can drop repeats. */
  id: string;
  webhookId: string;
  eventSeq: number;
  state: DeliveryState;
  attempts: number;
  nextAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

/** An e-mail an event asks for. */
export interface NewMail {
  to: string;
  subject: string;
  text: string;
}

export interface Mail extends NewMail {
  id: string;
  eventSeq: number;
  state: DeliveryState;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

export type EventListener = (e: StoredEvent) => void;

/**
 * The outbox as the gateway uses it: events stored through an `OutboxStore` (with their deliveries
 * and e-mails, one transaction), then told to listeners (the SSE streams, the deliverers, the API
 * worker); the webhooks that want each event type kept in an index.
 */
export class Outbox {
  private readonly listeners = new Set<EventListener>();
  /**
   * The active webhooks that want each event type, built on first use of a type and dropped when a
   * webhook changes through this outbox: publishing an event is a map lookup, not a query of every
   * webhook and a glob test each (issue 19). Webhooks are changed only here (the API's webhook routes
   * run on the main thread).
   */
  private hooksByType: Map<string, Webhook[]> | null = null;
  private allHooks: Promise<Webhook[]> | null = null;
  private mailsFor: ((e: NewEvent) => NewMail[]) | null = null;
  /** Runs a relay once the event is committed (the state path's unit of work); default: now. */
  private afterCommit: (fn: () => void) => void = (fn) => fn();
  /** With a shared store: where this outbox's own stored events go (the follower relays them in order). */
  private toFollower: ((e: StoredEvent) => void) | null = null;
  private readonly countListeners = new Set<(n: number) => void>();
  private readonly wakers = new Set<() => void>();
  /** The last publish: the next one is stored after it (events keep the order they were published in). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: OutboxStore,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Events published inside a unit of work (lib/unit-of-work.ts) are told to listeners — streams,
   * the deliverers, the API worker that reads them from its own connection — only once committed.
   */
  relayAfter(afterCommit: (fn: () => void) => void): void {
    this.afterCommit = afterCommit;
  }

  /**
   * With a store several instances share: listeners hear of events only through the follower
   * (notify/event-follower.ts), which relays every instance's events in sequence order — this
   * instance's own included, so that none is told twice or out of order.
   */
  relayOnlyFollowed(stored: (e: StoredEvent) => void): void {
    this.toFollower = stored;
  }

  /** With SMTP configured: the e-mails an event asks for, stored with it and sent by the mail sender. */
  setMailer(f: (e: NewEvent) => NewMail[]): void {
    this.mailsFor = f;
  }

  on(l: EventListener): () => void {
    this.listeners.add(l);
    this.countChanged();
    return () => {
      this.listeners.delete(l);
      this.countChanged();
    };
  }

  /** Told how many listeners there are whenever that changes (the API worker: streams open or not). */
  onListenerCount(l: (n: number) => void): void {
    this.countListeners.add(l);
  }

  private countChanged(): void {
    for (const l of this.countListeners) l(this.listeners.size);
  }

  private async hooksFor(type: string): Promise<Webhook[]> {
    const cached = this.hooksByType?.get(type);
    if (cached) return cached;
    if (!this.allHooks)
      this.allHooks = this.store.webhooks().catch((err: unknown) => {
        this.allHooks = null; // read again next time
        throw err;
      });
    const all = this.allHooks;
    const hooks = (await all).filter((w) => w.active && picomatch.isMatch(type, w.types));
    // Kept only if no webhook changed meanwhile.
    if (this.allHooks === all) {
      this.hooksByType ??= new Map();
      this.hooksByType.set(type, hooks);
    }
    return hooks;
  }

  /** Whether an active webhook wants events of this type (from the index: no query once known). */
  async hasWebhooksFor(type: string): Promise<boolean> {
    return (await this.hooksFor(type)).length > 0;
  }

  /** Whether the event asks for e-mail (with SMTP configured). */
  asksForMail(e: NewEvent): boolean {
    return (this.mailsFor?.(e).length ?? 0) > 0;
  }

  /** Drops the webhook index: webhooks changed here, or on another instance (a shared store). */
  webhooksChanged(): void {
    this.hooksByType = null;
    this.allHooks = null;
  }

  /**
   * Stores the event, one delivery per webhook that wants it and the e-mails it asks for, in one
   * transaction; then (once committed) tells listeners. Events are stored in the order published.
   */
  publish(e: NewEvent): Promise<StoredEvent> {
    const run = () => this.store1(e);
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Resolves when every event published so far is stored (or failed). */
  async idle(): Promise<void> {
    await this.tail;
  }

  private async store1(e: NewEvent): Promise<StoredEvent> {
    const hooks = await this.hooksFor(e.type);
    const mails = this.mailsFor?.(e) ?? [];
    const stored = await this.store.append(
      e,
      hooks.map((w) => w.id),
      mails,
      this.now(),
    );
    if (this.toFollower) this.toFollower(stored);
    else if (this.listeners.size > 0) this.afterCommit(() => this.relay(stored));
    return stored;
  }

  /**
   * Tells the listeners of a stored event: of this outbox's own, and in the API worker of those the
   * main thread stored (its streams read the same database through their own connection).
   */
  relay(stored: StoredEvent): void {
    for (const l of this.listeners) {
      try {
        l(stored);
      } catch {
        // A listener's failure (a closed stream) is its own business.
      }
    }
  }

  /** Told when deliveries became due without a new event (a dead one sent again). */
  onWake(l: () => void): () => void {
    this.wakers.add(l);
    return () => this.wakers.delete(l);
  }

  wake(): void {
    for (const l of this.wakers) l();
  }

  /** Events after `seq`, oldest first. */
  since(seq: number, limit: number): Promise<StoredEvent[]> {
    return this.store.since(seq, limit);
  }

  event(seq: number): Promise<StoredEvent | undefined> {
    return this.store.event(seq);
  }

  lastSeq(): Promise<number> {
    return this.store.lastSeq();
  }

  /** Drops events older than `before` that no pending delivery needs. */
  prune(before: number): Promise<number> {
    return this.store.prune(before);
  }

  async createWebhook(w: {
    url: string;
    types: string[];
    description: string;
    secret?: string;
  }): Promise<Webhook> {
    const hook: Webhook = {
      id: `W-${randomBytes(5).toString('hex')}`,
      url: w.url,
      types: w.types,
      secret: w.secret ?? `whsec_${randomBytes(24).toString('base64')}`,
      description: w.description,
      active: true,
      createdAt: this.now(),
    };
    await this.store.insertWebhook(hook);
    this.webhooksChanged();
    return hook;
  }

  webhook(id: string): Promise<Webhook | undefined> {
    return this.store.webhook(id);
  }

  webhooks(): Promise<Webhook[]> {
    return this.store.webhooks();
  }

  /** Switches a webhook on or off (off: no new deliveries; pending ones wait). */
  async setActive(id: string, active: boolean): Promise<Webhook | undefined> {
    const w = await this.store.setActive(id, active);
    this.webhooksChanged();
    return w;
  }

  async deleteWebhook(id: string): Promise<boolean> {
    const deleted = await this.store.deleteWebhook(id);
    this.webhooksChanged();
    return deleted;
  }

  /** The earliest pending delivery per webhook (deliveries go out in event order, one at a time per webhook). */
  due(now: number): Promise<Delivery[]> {
    return this.store.due(now);
  }

  /** When the next pending delivery is due (null: none pending). */
  nextDueAt(): Promise<number | null> {
    return this.store.nextDueAt();
  }

  delivered(id: string, status: number, at: number): Promise<void> {
    return this.store.delivered(id, status, at);
  }

  /** A failed attempt: retried at `nextAt`, or dead (`nextAt` null) after the last one. */
  failed(id: string, status: number | null, error: string, nextAt: number | null): Promise<void> {
    return this.store.failed(id, status, error, nextAt);
  }

  /** A dead delivery goes out again (after the receiver was fixed). */
  retry(id: string, at: number): Promise<Delivery | undefined> {
    return this.store.retry(id, at);
  }

  delivery(id: string): Promise<Delivery | undefined> {
    return this.store.delivery(id);
  }

  /** A webhook's deliveries, newest first, optionally in one state. */
  deliveries(
    webhookId: string,
    state: DeliveryState | undefined,
    limit: number,
    cursor?: string,
  ): Promise<Page<Delivery>> {
    return this.store.deliveries(webhookId, state, limit, cursor);
  }

  counts(): Promise<Record<DeliveryState, number>> {
    return this.store.counts();
  }

  dueMails(now: number, limit: number): Promise<Mail[]> {
    return this.store.dueMails(now, limit);
  }

  nextMailAt(): Promise<number | null> {
    return this.store.nextMailAt();
  }

  mailSent(id: string, at: number): Promise<void> {
    return this.store.mailSent(id, at);
  }

  mailFailed(id: string, error: string, nextAt: number | null): Promise<void> {
    return this.store.mailFailed(id, error, nextAt);
  }

  retryMail(id: string, at: number): Promise<Mail | undefined> {
    return this.store.retryMail(id, at);
  }

  mail(id: string): Promise<Mail | undefined> {
    return this.store.mail(id);
  }

  /** E-mails, newest first, optionally in one state. */
  mails(state: DeliveryState | undefined, limit: number, cursor?: string): Promise<Page<Mail>> {
    return this.store.mails(state, limit, cursor);
  }
}
