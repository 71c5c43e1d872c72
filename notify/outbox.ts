import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import picomatch from 'picomatch';
import { decodeCursor, encodeCursor, type Page } from '../lib/cursor.js';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';

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

const MIGRATIONS = [
  {
    version: 1,
    description: 'events, webhooks and their deliveries (a transactional outbox)',
    up: `CREATE TABLE events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      type TEXT NOT NULL,
      at INTEGER NOT NULL,
      subject TEXT NOT NULL,
      site TEXT,
      customer TEXT,
      data TEXT NOT NULL
    );
    CREATE TABLE webhooks (
      id TEXT PRIMARY KEY,
      url TEXT NOT NULL,
      types TEXT NOT NULL,
      secret TEXT NOT NULL,
      description TEXT NOT NULL,
      active INTEGER NOT NULL,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
      id TEXT PRIMARY KEY,
      webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
      event_seq INTEGER NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at INTEGER NOT NULL,
      last_status INTEGER,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      delivered_at INTEGER,
      UNIQUE (webhook_id, event_seq)
    );
    CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'pending';
    CREATE INDEX deliveries_webhook ON deliveries (webhook_id, state, event_seq);`,
  },
  {
    version: 2,
    description: 'e-mails to send (customer updates over SMTP), written with their event',
    up: `CREATE TABLE mails (
      id TEXT PRIMARY KEY,
      event_seq INTEGER NOT NULL,
      to_addr TEXT NOT NULL,
      subject TEXT NOT NULL,
      text TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at INTEGER NOT NULL,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      sent_at INTEGER
    );
    CREATE INDEX mails_due ON mails (next_at) WHERE state = 'pending';`,
  },
];

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

interface MailRow {
  id: string;
  event_seq: number;
  to_addr: string;
  subject: string;
  text: string;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

const mailOf = (r: MailRow): Mail => ({
  id: r.id,
  eventSeq: r.event_seq,
  to: r.to_addr,
  subject: r.subject,
  text: r.text,
  state: r.state,
  attempts: r.attempts,
  nextAt: r.next_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  sentAt: r.sent_at,
});

interface EventRow {
  seq: number;
  type: EventType;
  at: number;
  subject: string;
  site: string | null;
  customer: string | null;
  data: string;
}
interface WebhookRow {
  id: string;
  url: string;
  types: string;
  secret: string;
  description: string;
  active: number;
  created_at: number;
}
interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_seq: number;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

const eventOf = (r: EventRow): StoredEvent => ({ ...r, data: JSON.parse(r.data) as unknown });
const webhookOf = (r: WebhookRow): Webhook => ({
  id: r.id,
  url: r.url,
  types: JSON.parse(r.types) as string[],
  secret: r.secret,
  description: r.description,
  active: r.active === 1,
  createdAt: r.created_at,
});
const deliveryOf = (r: DeliveryRow): Delivery => ({
  id: r.id,
  webhookId: r.webhook_id,
  eventSeq: r.event_seq,
  state: r.state,
  attempts: r.attempts,
  nextAt: r.next_at,
  lastStatus: r.last_status,
  lastError: r.last_error,
  createdAt: r.created_at,
  deliveredAt: r.delivered_at,
});

export type EventListener = (e: StoredEvent) => void;

/** Events and webhook deliveries in SQLite; listeners (the SSE streams, the deliverer) hear each event. */
export class Outbox {
  private readonly listeners = new Set<EventListener>();
  /**
   * The active webhooks that want each event type, built on first use of a type and dropped when a
   * webhook changes through this outbox: publishing an event is a map lookup, not a query of every
   * webhook and a glob test each (issue 19). Webhooks are changed only here (the API's webhook routes
   * run on the main thread).
   */
  private hooksByType: Map<string, Webhook[]> | null = null;
  private mailsFor: ((e: NewEvent) => NewMail[]) | null = null;
  /** Runs a relay once the event is committed (the state path's unit of work); default: now. */
  private afterCommit: (fn: () => void) => void = (fn) => fn();

  private readonly publishTx;

  constructor(
    db: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    migrate(db, 'outbox', MIGRATIONS);
    this.stmt = statementCache(db);
    // Built once: better-sqlite3 makes a transaction function per call of db.transaction().
    this.publishTx = db.transaction(this.publishRows.bind(this));
  }

  private readonly stmt: (sql: string) => Statement;

  /**
   * Events published inside a unit of work (lib/unit-of-work.ts) are told to listeners — streams,
   * the deliverers, the API worker that reads them from its own connection — only once committed.
   */
  relayAfter(afterCommit: (fn: () => void) => void): void {
    this.afterCommit = afterCommit;
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

  private readonly countListeners = new Set<(n: number) => void>();

  /** Told how many listeners there are whenever that changes (the API worker: streams open or not). */
  onListenerCount(l: (n: number) => void): void {
    this.countListeners.add(l);
  }

  private countChanged(): void {
    for (const l of this.countListeners) l(this.listeners.size);
  }

  private hooksFor(type: string): Webhook[] {
    this.hooksByType ??= new Map();
    let hooks = this.hooksByType.get(type);
    if (!hooks) {
      hooks = this.webhooks().filter((w) => w.active && picomatch.isMatch(type, w.types));
      this.hooksByType.set(type, hooks);
    }
    return hooks;
  }

  private webhooksChanged(): void {
    this.hooksByType = null;
  }

  private publishRows(e: NewEvent, hooks: Webhook[], at: number): StoredEvent {
    const r = this.stmt(
      'INSERT INTO events (type, at, subject, site, customer, data) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq',
    ).get(e.type, e.at, e.subject, e.site, e.customer, JSON.stringify(e.data)) as { seq: number };
    const insert = this.stmt(
      `INSERT INTO deliveries (id, webhook_id, event_seq, state, next_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)`,
    );
    for (const w of hooks) insert.run(`msg_${r.seq}_${w.id}`, w.id, r.seq, at, at);
    const mails = this.mailsFor?.(e) ?? [];
    const insertMail = this.stmt(
      `INSERT INTO mails (id, event_seq, to_addr, subject, text, state, next_at, created_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    );
    mails.forEach((m, i) => {
      insertMail.run(`mail_${r.seq}_${i + 1}`, r.seq, m.to, m.subject, m.text, at, at);
    });
    return { ...e, seq: r.seq };
  }

  /** Stores the event and one delivery per webhook that wants it, in one transaction; then tells listeners. */
  publish(e: NewEvent): StoredEvent {
    const hooks = this.hooksFor(e.type);
    const at = this.now();
    const stored = this.publishTx(e, hooks, at);
    if (this.listeners.size > 0) this.afterCommit(() => this.relay(stored));
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

  private readonly wakers = new Set<() => void>();

  /** Told when deliveries became due without a new event (a dead one sent again). */
  onWake(l: () => void): () => void {
    this.wakers.add(l);
    return () => this.wakers.delete(l);
  }

  wake(): void {
    for (const l of this.wakers) l();
  }

  /** Events after `seq`, oldest first. */
  since(seq: number, limit: number): StoredEvent[] {
    return (
      this.stmt('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as EventRow[]
    ).map(eventOf);
  }

  event(seq: number): StoredEvent | undefined {
    const r = this.stmt('SELECT * FROM events WHERE seq = ?').get(seq) as EventRow | undefined;
    return r ? eventOf(r) : undefined;
  }

  lastSeq(): number {
    return (this.stmt('SELECT coalesce(max(seq), 0) AS s FROM events').get() as { s: number }).s;
  }

  /** Drops events older than `before` that no pending delivery needs. */
  prune(before: number): number {
    return this.stmt(
      `DELETE FROM events WHERE at < ? AND seq NOT IN (SELECT event_seq FROM deliveries WHERE state = 'pending')`,
    ).run(before).changes;
  }

  createWebhook(w: { url: string; types: string[]; description: string; secret?: string }): Webhook {
    const id = `W-${randomBytes(5).toString('hex')}`;
    const secret = w.secret ?? `whsec_${randomBytes(24).toString('base64')}`;
    this.stmt(
      'INSERT INTO webhooks (id, url, types, secret, description, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)',
    ).run(id, w.url, JSON.stringify(w.types), secret, w.description, this.now());
    this.webhooksChanged();
    return this.webhook(id) as Webhook;
  }

  webhook(id: string): Webhook | undefined {
    const r = this.stmt('SELECT * FROM webhooks WHERE id = ?').get(id) as WebhookRow | undefined;
    return r ? webhookOf(r) : undefined;
  }

  webhooks(): Webhook[] {
    return (this.stmt('SELECT * FROM webhooks ORDER BY created_at, id').all() as WebhookRow[]).map(webhookOf);
  }

  deactivate(id: string): void {
    this.stmt('UPDATE webhooks SET active = 0 WHERE id = ?').run(id);
    this.webhooksChanged();
  }

  /** Switches a webhook on or off (off: no new deliveries; pending ones wait). */
  setActive(id: string, active: boolean): Webhook | undefined {
    this.stmt('UPDATE webhooks SET active = ? WHERE id = ?').run(active ? 1 : 0, id);
    this.webhooksChanged();
    return this.webhook(id);
  }

  deleteWebhook(id: string): boolean {
    const deleted = this.stmt('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
    this.webhooksChanged();
    return deleted;
  }

  /** The earliest pending delivery per webhook (deliveries go out in event order, one at a time per webhook). */
  due(now: number): Delivery[] {
    return (
      this.stmt(
        `SELECT d.* FROM deliveries d
           JOIN (SELECT webhook_id, min(event_seq) AS first FROM deliveries WHERE state = 'pending' GROUP BY webhook_id) f
             ON f.webhook_id = d.webhook_id AND f.first = d.event_seq
           JOIN webhooks w ON w.id = d.webhook_id AND w.active = 1
           WHERE d.next_at <= ?`,
      ).all(now) as DeliveryRow[]
    ).map(deliveryOf);
  }

  /** When the next pending delivery is due (null: none pending). */
  nextDueAt(): number | null {
    const r = this.stmt(
      `SELECT min(d.next_at) AS t FROM deliveries d
         JOIN (SELECT webhook_id, min(event_seq) AS first FROM deliveries WHERE state = 'pending' GROUP BY webhook_id) f
           ON f.webhook_id = d.webhook_id AND f.first = d.event_seq
         JOIN webhooks w ON w.id = d.webhook_id AND w.active = 1`,
    ).get() as { t: number | null };
    return r.t;
  }

  delivered(id: string, status: number, at: number): void {
    this.stmt(
      `UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL,
         delivered_at = ? WHERE id = ? AND state = 'pending'`,
    ).run(status, at, id);
  }

  /** A failed attempt: retried at `nextAt`, or dead (`nextAt` null) after the last one. */
  failed(id: string, status: number | null, error: string, nextAt: number | null): void {
    this.stmt(
      `UPDATE deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?,
         state = CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END, next_at = coalesce(?, next_at)
         WHERE id = ? AND state = 'pending'`,
    ).run(status, error.slice(0, 500), nextAt, nextAt, id);
  }

  /** A dead delivery goes out again (after the receiver was fixed). */
  retry(id: string, at: number): Delivery | undefined {
    this.requeue('deliveries', id, at);
    return this.delivery(id);
  }

  private requeue(table: 'deliveries' | 'mails', id: string, at: number): void {
    this.stmt(`UPDATE ${table} SET state = 'pending', next_at = ? WHERE id = ? AND state = 'dead'`).run(
      at,
      id,
    );
  }

  delivery(id: string): Delivery | undefined {
    const r = this.stmt('SELECT * FROM deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
    return r ? deliveryOf(r) : undefined;
  }

  /** A webhook's deliveries, newest first, optionally in one state. */
  deliveries(
    webhookId: string,
    state: DeliveryState | undefined,
    limit: number,
    cursor?: string,
  ): Page<Delivery> {
    return this.pageOf<DeliveryRow, Delivery>(
      'deliveries',
      ['webhook_id = ?'],
      [webhookId],
      state,
      limit,
      cursor,
      deliveryOf,
    );
  }

  /**
   * Newest first (by event, then id) from `table`, optionally in one state: a page and the cursor
   * of the next (a keyset position, stable while new rows arrive).
   */
  private pageOf<R extends { event_seq: number; id: string }, T>(
    table: 'deliveries' | 'mails',
    where: string[],
    params: (string | number)[],
    state: DeliveryState | undefined,
    limit: number,
    cursor: string | undefined,
    map: (r: R) => T,
  ): Page<T> {
    const w = [...where];
    const p = [...params];
    if (state) {
      w.push('state = ?');
      p.push(state);
    }
    if (cursor) {
      const [seq, id] = decodeCursor(cursor, 2) as [number, string];
      w.push('(event_seq < ? OR (event_seq = ? AND id < ?))');
      p.push(seq, seq, id);
    }
    const rows = this.stmt(
      `SELECT * FROM ${table} ${w.length ? `WHERE ${w.join(' AND ')}` : ''} ORDER BY event_seq DESC, id DESC LIMIT ?`,
    ).all(...p, limit + 1) as R[];
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(map),
      nextCursor: rows.length > limit && last ? encodeCursor([last.event_seq, last.id]) : null,
    };
  }

  dueMails(now: number, limit: number): Mail[] {
    return (
      this.stmt(
        `SELECT * FROM mails WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
      ).all(now, limit) as MailRow[]
    ).map(mailOf);
  }

  nextMailAt(): number | null {
    return (
      this.stmt(`SELECT min(next_at) AS t FROM mails WHERE state = 'pending'`).get() as {
        t: number | null;
      }
    ).t;
  }

  mailSent(id: string, at: number): void {
    this.stmt(
      `UPDATE mails SET state = 'delivered', attempts = attempts + 1, last_error = NULL, sent_at = ? WHERE id = ?`,
    ).run(at, id);
  }

  mailFailed(id: string, error: string, nextAt: number | null): void {
    this.stmt(
      `UPDATE mails SET attempts = attempts + 1, last_error = ?, state = CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END,
         next_at = coalesce(?, next_at) WHERE id = ? AND state = 'pending'`,
    ).run(error.slice(0, 500), nextAt, nextAt, id);
  }

  retryMail(id: string, at: number): Mail | undefined {
    this.requeue('mails', id, at);
    return this.mail(id);
  }

  mail(id: string): Mail | undefined {
    const r = this.stmt('SELECT * FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    return r ? mailOf(r) : undefined;
  }

  /** E-mails, newest first, optionally in one state. */
  mails(state: DeliveryState | undefined, limit: number, cursor?: string): Page<Mail> {
    return this.pageOf<MailRow, Mail>('mails', [], [], state, limit, cursor, mailOf);
  }

  counts(): Record<DeliveryState, number> {
    const out: Record<DeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const r of this.stmt('SELECT state, count(*) AS n FROM deliveries GROUP BY state').all() as {
      state: DeliveryState;
      n: number;
    }[])
      out[r.state] = r.n;
    return out;
  }
}
