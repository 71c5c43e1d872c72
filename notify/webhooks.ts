import { createHmac } from 'node:crypto';
import { backoffDelay } from '../lib/backoff.js';
import type { Logger } from '../lib/log.js';
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
  logger: Logger;
  /** Backoff between attempts (exponential with jitter) and how many attempts before the dead list. */
  retry: { min: number; max: number; attempts: number };
  /** Per attempt. */
  timeoutMs: number;
  /** Deliveries in flight at once (one per webhook at a time, in event order). */
  concurrency?: number;
  now?: () => number;
  onAttempt?: (d: Delivery, ok: boolean) => void;
}

/**
 * Sends the outbox's webhook deliveries: in event order per webhook, one in flight per webhook,
 * retried with backoff (a receiver's Retry-After is honoured) until delivered or, after the last
 * attempt, moved to the dead list (visible in the API, and sent again on request). A 410 Gone
 * answer switches the webhook off. One timer, at the next due delivery; new events wake it.
 */
export class WebhookDeliverer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly now: () => number;
  private readonly off: () => void;
  private readonly offWake: () => void;

  constructor(private readonly opts: DelivererOptions) {
    this.now = opts.now ?? Date.now;
    this.off = opts.outbox.on(() => this.kick());
    this.offWake = opts.outbox.onWake(() => this.kick());
  }

  /** Starts (or wakes) the delivery loop. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      } else this.arm();
    });
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.opts.outbox.nextDueAt();
    if (next === null) return;
    this.timer = setTimeout(() => this.kick(), Math.max(0, Math.min(next - this.now(), 2 ** 31 - 1)));
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const due = this.opts.outbox.due(this.now()).slice(0, this.opts.concurrency ?? 8);
      if (due.length === 0) return;
      await Promise.all(due.map((d) => this.send(d)));
    }
  }

  private async send(d: Delivery): Promise<void> {
    const { outbox, logger } = this.opts;
    const hook = outbox.webhook(d.webhookId);
    const event = outbox.event(d.eventSeq);
    if (!hook || !event) {
      outbox.failed(d.id, null, 'webhook or event no longer exists', null);
      return;
    }
    const body = payloadOf(event);
    const ts = Math.floor(this.now() / 1000);
    let status: number | null = null;
    let error = '';
    let retryAfter: number | undefined;
    try {
      const res = await fetch(hook.url, {
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
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      status = res.status;
      await res.body?.cancel();
      if (res.ok) {
        outbox.delivered(d.id, status, this.now());
        this.opts.onAttempt?.(d, true);
        return;
      }
      error = `HTTP ${status}`;
      const ra = res.headers.get('retry-after');
      if (ra !== null && /^\d+$/.test(ra)) retryAfter = Number(ra) * 1000;
    } catch (err) {
      error =
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    }
    this.opts.onAttempt?.(d, false);
    const { min, max, attempts } = this.opts.retry;
    if (status === 410) {
      // The receiver unsubscribed.
      outbox.failed(d.id, status, 'HTTP 410 Gone: webhook switched off', null);
      outbox.deactivate(hook.id);
      logger.warn({ webhook: hook.id, url: hook.url }, 'webhook answered 410 Gone: switched off');
      return;
    }
    const last = d.attempts + 1 >= attempts;
    const nextAt = last
      ? null
      : this.now() + backoffDelay(d.attempts + 1, min, max, Math.random(), retryAfter);
    outbox.failed(d.id, status, error, nextAt);
    if (last)
      logger.warn({ webhook: hook.id, delivery: d.id, error }, 'webhook delivery failed for good: dead list');
    else
      logger.debug(
        { webhook: hook.id, delivery: d.id, error, attempt: d.attempts + 1 },
        'webhook delivery failed',
      );
  }

  /** Waits for the current round (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.off();
    this.offWake();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
