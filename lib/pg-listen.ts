import pg from 'pg';
import { backoffDelay } from './backoff.js';
import type { PgPool } from './pg.js';

/**
 * The channels Faultline's PostgreSQL stores notify on (issue 20), inside the transaction that made
 * the change, so that a notification is delivered only once the change is committed:
 * - `faultline_events`: an outbox event was appended (payload: its seq);
 * - `faultline_changes`: cached state changed (payload: `silences` or `webhooks`).
 */
export const EVENTS_CHANNEL = 'faultline_events';
export const CHANGES_CHANNEL = 'faultline_changes';

export interface ListenHandlers {
  /** A notification on one of the channels. */
  notified(channel: string, payload: string): void;
  /**
   * Listening (again) after a connection was opened: notifications sent while none was open were
   * missed, so what they would have told must be read afresh.
   */
  connected(): void;
  /** The connection failed; it is opened again after a backoff. */
  lost(err: Error): void;
}

/**
 * LISTENs on a connection of its own (a pooled one would be handed to other queries), opened with the
 * pool's settings, and opens it again after a backoff (1 s … 30 s) when it fails: the server
 * restarted, the network dropped. TCP keepalive finds a connection that died silently.
 */
export class PgListener {
  private client: pg.Client | null = null;
  private closed = false;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: PgPool,
    private readonly channels: readonly string[],
    private readonly handlers: ListenHandlers,
  ) {}

  /** Whether a connection is listening now. */
  get listening(): boolean {
    return this.client !== null;
  }

  /** Resolves once listening, or rejects when the first connection fails (then retries alone). */
  start(): Promise<void> {
    return this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.pool.options, keepAlive: true });
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.handlers.lost(err);
      this.attempt += 1;
      this.retry = setTimeout(
        () => void this.connect().catch(() => undefined),
        backoffDelay(this.attempt, 1000, 30_000, Math.random()),
      );
      this.retry.unref();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('the listening connection ended')));
    client.on('notification', (m) => this.handlers.notified(m.channel, m.payload ?? ''));
    try {
      await client.connect();
      for (const ch of this.channels) await client.query(`LISTEN ${pg.escapeIdentifier(ch)}`);
    } catch (err) {
      fail(err as Error);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
    this.handlers.connected();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
