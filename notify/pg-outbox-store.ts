import { decodeCursor, encodeCursor, type Page } from '../lib/cursor.js';
import { migratePg, notifyChange, type PgPool } from '../lib/pg.js';
import type { Delivery, DeliveryState, Mail, NewEvent, NewMail, StoredEvent, Webhook } from './outbox.js';
import {
  type DeliveryRow,
  deliveryOf,
  type EventRow,
  eventOf,
  type MailRow,
  mailOf,
  type WebhookRow,
  webhookOf,
} from './outbox-rows.js';
import type { OutboxStore } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'events, webhooks, deliveries and e-mails (a transactional outbox)',
    up: `CREATE TABLE events (
      seq BIGSERIAL PRIMARY KEY,
      type TEXT NOT NULL,
      at BIGINT NOT NULL,
      subject TEXT NOT NULL,
      site TEXT,
      customer TEXT,
      data JSON NOT NULL
    );
    CREATE INDEX events_at ON events (at);
    CREATE TABLE webhooks (
      id TEXT COLLATE "C" PRIMARY KEY,
      url TEXT NOT NULL,
      types JSONB NOT NULL,
      secret TEXT NOT NULL,
      description TEXT NOT NULL,
      active INTEGER NOT NULL,
      created_at BIGINT NOT NULL
    );
    CREATE TABLE deliveries (
      id TEXT COLLATE "C" PRIMARY KEY,
      webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
      event_seq BIGINT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at BIGINT NOT NULL,
      last_status INTEGER,
      last_error TEXT,
      created_at BIGINT NOT NULL,
      delivered_at BIGINT,
      UNIQUE (webhook_id, event_seq)
    );
    CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'pending';
    CREATE INDEX deliveries_webhook ON deliveries (webhook_id, state, event_seq);
    CREATE INDEX deliveries_pending_event ON deliveries (event_seq) WHERE state = 'pending';
    CREATE TABLE mails (
      id TEXT COLLATE "C" PRIMARY KEY,
      event_seq BIGINT NOT NULL,
      to_addr TEXT NOT NULL,
      subject TEXT NOT NULL,
      text TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at BIGINT NOT NULL,
      last_error TEXT,
      created_at BIGINT NOT NULL,
      sent_at BIGINT
    );
    CREATE INDEX mails_due ON mails (next_at) WHERE state = 'pending';`,
  },
];

/**
 * Events are appended under this transaction-scoped advisory lock, so that their sequence numbers
 * are committed in order: a reader following `since(seq)` (the SSE streams of every instance) never
 * sees seq 11 committed while seq 10 is still in flight — and so never skips 10.
 */
const APPEND_LOCK = 0x46_4c_4f_42; // "FLOB"

const EVENT_COLUMNS = 'seq, type, at, subject, site, customer, data::text AS data';
const WEBHOOK_COLUMNS = 'id, url, types, secret, description, active, created_at';
const FIRST_PENDING = `SELECT webhook_id, min(event_seq) AS first FROM deliveries WHERE state = 'pending' GROUP BY webhook_id`;

/** The outbox in PostgreSQL (issue 20), shared by several gateway instances. */
export class PgOutboxStore implements OutboxStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgOutboxStore> {
    await migratePg(pool, 'outbox', MIGRATIONS);
    return new PgOutboxStore(pool);
  }

  async append(
    e: NewEvent,
    webhookIds: readonly string[],
    mails: readonly NewMail[],
    at: number,
  ): Promise<StoredEvent> {
    // One statement, so one round trip and atomic by itself: the lock is taken (l) before the
    // sequence number is drawn (e) and held until the commit; the deliveries (d) and e-mails (m)
    // are written with it; every listening instance hears of it once committed (pg_notify,
    // lib/pg-listen.ts).
    const { rows } = await this.pool.query<{ seq: number }>(
      `WITH l AS (SELECT pg_advisory_xact_lock($7)),
       e AS (INSERT INTO events (type, at, subject, site, customer, data)
         SELECT $1, $2, $3, $4, $5, $6 FROM l RETURNING seq),
       d AS (INSERT INTO deliveries (id, webhook_id, event_seq, state, next_at, created_at)
         SELECT 'msg_' || e.seq || '_' || w, w, e.seq, 'pending', $8, $8 FROM e, unnest($9::text[]) AS w),
       m AS (INSERT INTO mails (id, event_seq, to_addr, subject, text, state, next_at, created_at)
         SELECT 'mail_' || e.seq || '_' || x.n, e.seq, x.to_addr, x.subject, x.body, 'pending', $8, $8
         FROM e, unnest($10::text[], $11::text[], $12::text[]) WITH ORDINALITY AS x(to_addr, subject, body, n))
       SELECT seq, pg_notify('faultline_events', seq::text) FROM e`,
      [
        e.type,
        e.at,
        e.subject,
        e.site,
        e.customer,
        JSON.stringify(e.data ?? null),
        APPEND_LOCK,
        at,
        webhookIds,
        mails.map((x) => x.to),
        mails.map((x) => x.subject),
        mails.map((x) => x.text),
      ],
    );
    return { ...e, seq: (rows[0] as { seq: number }).seq };
  }

  async since(seq: number, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [seq, limit],
    );
    return rows.map(eventOf);
  }

  async event(seq: number): Promise<StoredEvent | undefined> {
    const { rows } = await this.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq = $1`, [
      seq,
    ]);
    return rows[0] ? eventOf(rows[0]) : undefined;
  }

  async lastSeq(): Promise<number> {
    const { rows } = await this.pool.query<{ s: number }>('SELECT coalesce(max(seq), 0) AS s FROM events');
    return (rows[0] as { s: number }).s;
  }

  async prune(before: number): Promise<number> {
    const r = await this.pool.query(
      `DELETE FROM events e WHERE e.at < $1
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.state = 'pending')`,
      [before],
    );
    return r.rowCount ?? 0;
  }

  async insertWebhook(w: Webhook): Promise<void> {
    await this.pool.query(`INSERT INTO webhooks (${WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
      w.id,
      w.url,
      JSON.stringify(w.types),
      w.secret,
      w.description,
      w.active ? 1 : 0,
      w.createdAt,
    ]);
    await notifyChange(this.pool, 'webhooks');
  }

  async webhook(id: string): Promise<Webhook | undefined> {
    const { rows } = await this.pool.query<WebhookRow>(
      `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`,
      [id],
    );
    return rows[0] ? webhookOf(rows[0]) : undefined;
  }

  async webhooks(): Promise<Webhook[]> {
    const { rows } = await this.pool.query<WebhookRow>(
      `SELECT ${WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id`,
    );
    return rows.map(webhookOf);
  }

  async setActive(id: string, active: boolean): Promise<Webhook | undefined> {
    await this.pool.query('UPDATE webhooks SET active = $1 WHERE id = $2', [active ? 1 : 0, id]);
    await notifyChange(this.pool, 'webhooks');
    return this.webhook(id);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    const deleted = ((await this.pool.query('DELETE FROM webhooks WHERE id = $1', [id])).rowCount ?? 0) > 0;
    if (deleted) await notifyChange(this.pool, 'webhooks');
    return deleted;
  }

  async due(now: number): Promise<Delivery[]> {
    const { rows } = await this.pool.query<DeliveryRow>(
      `SELECT d.* FROM deliveries d
         JOIN (${FIRST_PENDING}) f ON f.webhook_id = d.webhook_id AND f.first = d.event_seq
         JOIN webhooks w ON w.id = d.webhook_id AND w.active = 1
         WHERE d.next_at <= $1`,
      [now],
    );
    return rows.map(deliveryOf);
  }

  async nextDueAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ t: number | null }>(
      `SELECT min(d.next_at) AS t FROM deliveries d
         JOIN (${FIRST_PENDING}) f ON f.webhook_id = d.webhook_id AND f.first = d.event_seq
         JOIN webhooks w ON w.id = d.webhook_id AND w.active = 1`,
    );
    return rows[0]?.t ?? null;
  }

  async delivered(id: string, status: number, at: number): Promise<void> {
    await this.pool.query(
      `UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = $1, last_error = NULL,
         delivered_at = $2 WHERE id = $3 AND state = 'pending'`,
      [status, at, id],
    );
  }

  async failed(id: string, status: number | null, error: string, nextAt: number | null): Promise<void> {
    await this.pool.query(
      `UPDATE deliveries SET attempts = attempts + 1, last_status = $1, last_error = $2,
         state = CASE WHEN $3::bigint IS NULL THEN 'dead' ELSE 'pending' END, next_at = coalesce($3, next_at)
         WHERE id = $4 AND state = 'pending'`,
      [status, error.slice(0, 500), nextAt, id],
    );
  }

  async retry(id: string, at: number): Promise<Delivery | undefined> {
    await this.requeue('deliveries', id, at);
    return this.delivery(id);
  }

  private async requeue(table: 'deliveries' | 'mails', id: string, at: number): Promise<void> {
    await this.pool.query(
      `UPDATE ${table} SET state = 'pending', next_at = $1 WHERE id = $2 AND state = 'dead'`,
      [at, id],
    );
  }

  async delivery(id: string): Promise<Delivery | undefined> {
    const { rows } = await this.pool.query<DeliveryRow>('SELECT * FROM deliveries WHERE id = $1', [id]);
    return rows[0] ? deliveryOf(rows[0]) : undefined;
  }

  async deliveries(
    webhookId: string,
    state: DeliveryState | undefined,
    limit: number,
    cursor?: string,
  ): Promise<Page<Delivery>> {
    return this.pageOf('deliveries', webhookId, state, limit, cursor, deliveryOf);
  }

  /** Newest first (by event, then id), optionally of one webhook and in one state; keyset pages. */
  private async pageOf<R extends { event_seq: number; id: string }, T>(
    table: 'deliveries' | 'mails',
    webhookId: string | null,
    state: DeliveryState | undefined,
    limit: number,
    cursor: string | undefined,
    map: (r: R) => T,
  ): Promise<Page<T>> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const arg = (v: string | number) => `$${params.push(v)}`;
    if (webhookId !== null) where.push(`webhook_id = ${arg(webhookId)}`);
    if (state) where.push(`state = ${arg(state)}`);
    if (cursor) {
      const [seq, id] = decodeCursor(cursor, 2) as [number, string];
      where.push(`(event_seq, id) < (${arg(seq)}, ${arg(id)})`);
    }
    const { rows } = await this.pool.query<R>(
      `SELECT * FROM ${table} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY event_seq DESC, id DESC LIMIT ${arg(limit + 1)}`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(map),
      nextCursor: rows.length > limit && last ? encodeCursor([last.event_seq, last.id]) : null,
    };
  }

  async counts(): Promise<Record<DeliveryState, number>> {
    const out: Record<DeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
    const { rows } = await this.pool.query<{ state: DeliveryState; n: number }>(
      'SELECT state, count(*) AS n FROM deliveries GROUP BY state',
    );
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  async dueMails(now: number, limit: number): Promise<Mail[]> {
    const { rows } = await this.pool.query<MailRow>(
      `SELECT * FROM mails WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at, id LIMIT $2`,
      [now, limit],
    );
    return rows.map(mailOf);
  }

  async nextMailAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ t: number | null }>(
      `SELECT min(next_at) AS t FROM mails WHERE state = 'pending'`,
    );
    return rows[0]?.t ?? null;
  }

  async mailSent(id: string, at: number): Promise<void> {
    await this.pool.query(
      `UPDATE mails SET state = 'delivered', attempts = attempts + 1, last_error = NULL, sent_at = $1 WHERE id = $2`,
      [at, id],
    );
  }

  async mailFailed(id: string, error: string, nextAt: number | null): Promise<void> {
    await this.pool.query(
      `UPDATE mails SET attempts = attempts + 1, last_error = $1,
         state = CASE WHEN $2::bigint IS NULL THEN 'dead' ELSE 'pending' END, next_at = coalesce($2, next_at)
         WHERE id = $3 AND state = 'pending'`,
      [error.slice(0, 500), nextAt, id],
    );
  }

  async retryMail(id: string, at: number): Promise<Mail | undefined> {
    await this.requeue('mails', id, at);
    return this.mail(id);
  }

  async mail(id: string): Promise<Mail | undefined> {
    const { rows } = await this.pool.query<MailRow>('SELECT * FROM mails WHERE id = $1', [id]);
    return rows[0] ? mailOf(rows[0]) : undefined;
  }

  async mails(state: DeliveryState | undefined, limit: number, cursor?: string): Promise<Page<Mail>> {
    return this.pageOf('mails', null, state, limit, cursor, mailOf);
  }
}
