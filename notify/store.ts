import type { Page } from '../lib/cursor.js';
import type { Delivery, DeliveryState, Mail, NewEvent, NewMail, StoredEvent, Webhook } from './outbox.js';

/**
 * The notify folder's stored state behind an async interface (issue 19): SQLite today
 * (`sqlite-outbox-store.ts`), PostgreSQL for several instances next; every implementation passes
 * `test/contracts/outbox-store.ts`. Listeners, the webhook index and which e-mails an event asks for
 * are `Outbox`'s (outbox.ts).
 */

/**
 * The transactional outbox: events in order, with the webhook deliveries and e-mails each asks for
 * written in the same transaction, so that nothing is lost between "happened" and "to be sent".
 */
export interface OutboxStore {
  /**
   * Stores the event with one pending delivery per webhook id (id `msg_<seq>_<webhook>`) and one
   * pending e-mail per mail (id `mail_<seq>_<n>`, n from 1), all due at `at`, in one transaction.
   * `seq` increases with every event.
   */
  append(
    e: NewEvent,
    webhookIds: readonly string[],
    mails: readonly NewMail[],
    at: number,
  ): Promise<StoredEvent>;
  /** Events after `seq`, oldest first, at most `limit`. */
  since(seq: number, limit: number): Promise<StoredEvent[]>;
  event(seq: number): Promise<StoredEvent | undefined>;
  /** The newest event's seq; 0 when there is none. */
  lastSeq(): Promise<number>;
  /** Drops events older than `before` that no pending delivery needs; how many went. */
  prune(before: number): Promise<number>;

  insertWebhook(w: Webhook): Promise<void>;
  webhook(id: string): Promise<Webhook | undefined>;
  /** Every webhook, oldest first (then by id). */
  webhooks(): Promise<Webhook[]>;
  /** Switches a webhook on or off; undefined when there is none. */
  setActive(id: string, active: boolean): Promise<Webhook | undefined>;
  /** Deletes a webhook and its deliveries; false when there was none. */
  deleteWebhook(id: string): Promise<boolean>;

  /**
   * Deliveries to send now: per active webhook its earliest pending delivery (deliveries go out in
   * event order, one at a time per webhook), when that is due by `now`.
   */
  due(now: number): Promise<Delivery[]>;
  /** When the earliest of those is due, whether due yet or not; null: nothing pending. */
  nextDueAt(): Promise<number | null>;
  /** A pending delivery went through (status: the HTTP status). Others are left as they are. */
  delivered(id: string, status: number, at: number): Promise<void>;
  /** A pending delivery's attempt failed: retried at `nextAt`, or dead when `nextAt` is null. */
  failed(id: string, status: number | null, error: string, nextAt: number | null): Promise<void>;
  /** A dead delivery pending again, due at `at`; returns it (undefined: no such delivery). */
  retry(id: string, at: number): Promise<Delivery | undefined>;
  delivery(id: string): Promise<Delivery | undefined>;
  /** A webhook's deliveries, newest first (by event, then id), optionally in one state; keyset pages. */
  deliveries(
    webhookId: string,
    state: DeliveryState | undefined,
    limit: number,
    cursor?: string,
  ): Promise<Page<Delivery>>;
  /** How many deliveries are in each state. */
  counts(): Promise<Record<DeliveryState, number>>;

  /** Pending e-mails due by `now`, the earliest first, at most `limit`. */
  dueMails(now: number, limit: number): Promise<Mail[]>;
  /** When the next pending e-mail is due; null: none pending. */
  nextMailAt(): Promise<number | null>;
  mailSent(id: string, at: number): Promise<void>;
  /** A pending e-mail failed: retried at `nextAt`, or dead when `nextAt` is null. */
  mailFailed(id: string, error: string, nextAt: number | null): Promise<void>;
  /** A dead e-mail pending again, due at `at`; returns it (undefined: no such e-mail). */
  retryMail(id: string, at: number): Promise<Mail | undefined>;
  mail(id: string): Promise<Mail | undefined>;
  /** E-mails, newest first (by event, then id), optionally in one state; keyset pages. */
  mails(state: DeliveryState | undefined, limit: number, cursor?: string): Promise<Page<Mail>>;
}
