import { createHmac } from 'node:crypto';
import { type Agent, fetch } from 'undici';
import { backoffDelay } from '../lib/backoff.js';
import type { Logger } from '../lib/log.js';
import { redactUrl } from '../lib/redact.js';
import { EgressPolicy, EgressRefused } from './egress.js';
import type { Delivery, Outbox, StoredEvent } from './outbox.js';

/**
 * Signs a webhook message the Standard Webhooks way (standardwebhooks.com): HMAC-SHA256 with the
 * base64-decoded part of the `whsec_` secret over `${id}.${timestamp}.${body}`, as `v1,<base64>`.
 */
export function signature(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

/** The JSON body of a delivery: the event as the outside world sees it. */
export function payloadOf(e: StoredEvent): string {
  return JSON.stringify({
    id: String(e.seq),
    type: e.type,
    timestamp: new Date(e.at).toISOString(),
    data: e.data,
  });
}

export interface DelivererOptions {
  outbox: Outbox;
  /** Which receivers may be reached (default: public addresses only). */
  egress?: EgressPolicy;
  logger: Logger;
  /** Backoff between attempts (exponential with jitter) and how many attempts before the dead list. */
  retry: { min: number; max: number; attempts: number };
  /** Per attempt. */
  timeoutMs: number;
  /** Deliveries in flight at once (one per webhook at a time, in event order). */
  concurrency?: number;
  now?: () => number;
}

/**
 * Sends the outbox's webhook deliveries: in event order per webhook, one in flight per webhook,
 * retried with backoff (a receiver's Retry-After is honoured) until delivered or, after the last
 * attempt, moved to the dead list (visible in the API, and sent again on request). A 410 Gone
 * answer switches the webhook off.
 */
export class WebhookDeliverer {
  private readonly loop: DeliveryLoop<Delivery>;
  private readonly now: () => number;
  /** Aborts the requests in flight when the gateway stops (they stay pending for the next start). */
  private readonly stopping = new AbortController();
  private readonly egress: EgressPolicy;
  private readonly dispatcher: Agent;

  constructor(private readonly opts: DelivererOptions) {
    this.now = opts.now ?? Date.now;
    this.egress = opts.egress ?? new EgressPolicy();
    this.dispatcher = this.egress.dispatcher();
    this.loop = new DeliveryLoop({
      outbox: opts.outbox,
      now: this.now,
      due: async (now) => (await opts.outbox.due(now)).slice(0, opts.concurrency ?? 8),
      nextDueAt: () => opts.outbox.nextDueAt(),
      wakeFor: (e) => opts.outbox.hasWebhooksFor(e.type),
      send: (d) => this.send(d),
      // A delivery that cannot even be prepared (an event that does not serialise) goes to the dead
      // list at once instead of stopping every delivery behind it.
      poison: async (d, err) => {
        await opts.outbox.failed(d.id, null, `could not be prepared: ${errorText(err)}`, null);
        opts.logger.error(
          { err, delivery: d.id, event: d.eventSeq },
          'webhook delivery could not be prepared: dead list',
        );
      },
    });
  }

  /** A standby instance sends nothing; the leader does (issue 20). */
  pause(): Promise<void> {
    return this.loop.pause();
  }

  resume(): void {
    this.loop.resume();
  }

  kick(): void {
    this.loop.kick();
  }

  private async send(d: Delivery): Promise<void> {
    const { outbox, logger } = this.opts;
    const hook = await outbox.webhook(d.webhookId);
    const event = await outbox.event(d.eventSeq);
    if (!hook || !event) {
      await outbox.failed(d.id, null, 'webhook or event no longer exists', null);
      return;
    }
    const body = payloadOf(event);
    const ts = Math.floor(this.now() / 1000);
    let status: number | null = null;
    let error = '';
    let retryAfter: number | undefined;
    try {
      // Checked at every delivery, not only at registration: the policy may have changed.
      const refused = this.egress.checkUrl(hook.url);
      if (refused) throw new EgressRefused(refused);
      const res = await fetch(hook.url, {
        dispatcher: this.dispatcher,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Faultline-Webhooks/1',
          'webhook-id': d.id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signature(hook.secret, d.id, ts, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), this.stopping.signal]),
      });
      status = res.status;
      await res.body?.cancel();
      if (res.ok) {
        await outbox.delivered(d.id, status, this.now());
        return;
      }
      error = `HTTP ${status}`;
      const ra = res.headers.get('retry-after');
      if (ra !== null && /^\d+$/.test(ra)) retryAfter = Number(ra) * 1000;
    } catch (err) {
      if (this.stopping.signal.aborted) return; // not the receiver's failure: sent again at the next start
      error = deliveryError(err);
    }
    if (status === 410) {
      // The receiver unsubscribed.
      await outbox.failed(d.id, status, 'HTTP 410 Gone: webhook switched off', null);
      await outbox.setActive(hook.id, false);
      logger.warn({ webhook: hook.id, url: redactUrl(hook.url) }, 'webhook answered 410 Gone: switched off');
      return;
    }
    const nextAt = nextAttemptAt(this.opts.retry, d.attempts, this.now(), retryAfter);
    await outbox.failed(d.id, status, error, nextAt);
    if (nextAt === null)
      logger.warn({ webhook: hook.id, delivery: d.id, error }, 'webhook delivery failed for good: dead list');
    else
      logger.debug(
        { webhook: hook.id, delivery: d.id, error, attempt: d.attempts + 1 },
        'webhook delivery failed',
      );
  }

  idle(): Promise<void> {
    return this.loop.idle();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop.stop();
    await this.dispatcher.close().catch(() => undefined);
  }
}

/** When to try again after failed attempt number `attempts + 1`; null: that was the last one. */
export function nextAttemptAt(
  retry: { min: number; max: number; attempts: number },
  attempts: number,
  now: number,
  retryAfterMs?: number,
): number | null {
  if (attempts + 1 >= retry.attempts) return null;
  return now + backoffDelay(attempts + 1, retry.min, retry.max, Math.random(), retryAfterMs);
}

/**
 * What is stored and shown of a failed delivery: the policy's refusal, or just "unreachable" — a
 * refused port, a timeout and an unknown name look the same from the outside, so that the dead list
 * cannot be used to map the network (issue 18). The full cause is logged at debug.
 */
export function deliveryError(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (cause instanceof EgressRefused) return `refused: ${cause.message}`;
  if (err instanceof EgressRefused) return `refused: ${err.message}`;
  return 'unreachable';
}

/** The most telling message of a failed request (fetch wraps the socket error in `cause`). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? err.cause.message : err.message;
}

const STORE_FAILURE_PAUSE_MS = 5_000;

/**
 * The loop behind every outbound channel: sends what is due, then sleeps on one timer until the next
 * item is due; new events and explicit wakes start it early. Never two rounds at once.
 */
export class DeliveryLoop<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Not the leader among several instances: another one delivers (issue 20). */
  private paused = false;
  /** After a store failure: not before this time (no busy loop on a broken database). */
  private resumeAt = 0;
  private readonly offs: (() => void)[];

  constructor(
    private readonly o: {
      outbox: Outbox;
      now: () => number;
      due: (now: number) => Promise<T[]>;
      nextDueAt: () => Promise<number | null>;
      send: (item: T) => Promise<void>;
      /** An item whose `send` threw: mark it failed for good (the loop goes on with the others). */
      poison: (item: T, err: unknown) => Promise<void>;
      /**
       * Whether an event may have made work for this channel (default: any event may). An event
       * that asked for nothing starts no round: no query per event when nobody subscribed.
       */
      wakeFor?: (e: StoredEvent) => boolean | Promise<boolean>;
    },
  ) {
    const onEvent = (e: StoredEvent) => {
      if (!o.wakeFor) return this.kick();
      Promise.resolve(o.wakeFor(e)).then(
        (wanted) => wanted && this.kick(),
        () => this.kick(),
      );
    };
    this.offs = [o.outbox.on(onEvent), o.outbox.onWake(() => this.kick())];
  }

  kick(): void {
    if (this.stopped || this.paused) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.cycle().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** A round, then the timer for the next due item; a failing store pauses the loop (no busy loop). */
  private async cycle(): Promise<void> {
    try {
      await this.round();
    } catch {
      this.resumeAt = this.o.now() + STORE_FAILURE_PAUSE_MS;
    }
    if (this.again || this.stopped) return; // kicked meanwhile: another round follows at once
    let due: number | null;
    try {
      due = await this.o.nextDueAt();
    } catch {
      this.resumeAt = this.o.now() + STORE_FAILURE_PAUSE_MS;
      due = this.resumeAt;
    }
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (due === null) return;
    const next = Math.max(due, this.resumeAt);
    this.timer = setTimeout(() => this.kick(), Math.max(0, Math.min(next - this.o.now(), 2 ** 31 - 1)));
    this.timer.unref();
  }

  /** Sends what is due until nothing is; a store that fails while marking a poisoned item ends the round. */
  private async round(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const due = await this.o.due(this.o.now());
      if (due.length === 0) return;
      let isolated = true;
      await Promise.all(
        due.map((x) =>
          this.o.send(x).catch(async (err: unknown) => {
            try {
              await this.o.poison(x, err);
            } catch {
              isolated = false; // the store itself fails: stop this round, try again in a while
            }
          }),
        ),
      );
      if (!isolated) {
        this.resumeAt = this.o.now() + STORE_FAILURE_PAUSE_MS;
        return;
      }
    }
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Sends nothing until resumed (a standby instance); what is in flight finishes. */
  async pause(): Promise<void> {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  resume(): void {
    this.paused = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs) off();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
