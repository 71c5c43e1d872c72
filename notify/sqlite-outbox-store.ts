import type { Statement } from 'better-sqlite3';
import { decodeCursor, encodeCursor, type Page } from '../lib/cursor.js';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import { writeKeptRows } from '../lib/sqlite-rows.js';
import type { TurnWrites } from '../lib/unit-of-work.js';
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

/** A turn's events, deliveries and e-mails, kept for its commit (rows as their tables' columns). */
interface Kept {
  events: unknown[][];
  deliveries: unknown[][];
  mails: unknown[][];
  /** The seq the next event of the turn takes. */
  nextSeq: number;
}

/** The outbox in SQLite (state.db): events, webhooks, deliveries and e-mails. */
export class SqliteOutboxStore implements OutboxStore {
  private readonly stmt: (sql: string) => Statement;
  /** Prepared once, without writing what waits first. */
  private readonly prepared: (sql: string) => Statement;
  private readonly appendTx;
  private readonly eventRow: Statement;
  private readonly deliveryRow: Statement;
  private readonly mailRow: Statement;
  /** The turn whose commit writes the rows (gateway: the unit of work); none: each event at once. */
  private turn: TurnWrites | null = null;
  private kept: Kept | null = null;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'outbox', MIGRATIONS);
    this.prepared = statementCache(db);
    // Every statement of this store — reads, and writes outside a turn — comes after what waits.
    this.stmt = (sql) => {
      this.writeKept();
      return this.prepared(sql);
    };
    this.eventRow = db.prepare(
      'INSERT INTO events (seq, type, at, subject, site, customer, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.deliveryRow = db.prepare(
      'INSERT INTO deliveries (id, webhook_id, event_seq, state, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.mailRow = db.prepare(
      `INSERT INTO mails (id, event_seq, to_addr, subject, text, state, next_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Built once: better-sqlite3 makes a transaction function per call of db.transaction().
    this.appendTx = db.transaction(this.appendRows.bind(this));
  }

  /**
   * Keeps the events (with their deliveries and e-mails) appended while `turn` is open and writes
   * them at its commit (issue 19: each was a savepoint of its own, and the same pages written turn
   * after turn). The
   * turn holds the write lock from its first change, so the seqs it hands out are the file's next.
   */
  writeAtCommit(turn: TurnWrites): void {
    this.turn = turn;
  }

  private appendRows(
    e: NewEvent,
    webhookIds: readonly string[],
    mails: readonly NewMail[],
    at: number,
  ): StoredEvent {
    const r = this.stmt(
      'INSERT INTO events (type, at, subject, site, customer, data) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq',
    ).get(e.type, e.at, e.subject, e.site, e.customer, JSON.stringify(e.data)) as { seq: number };
    this.keepRelated(r.seq, webhookIds, mails, at, {
      deliveries: (row) => this.deliveryRow.run(row),
      mails: (row) => this.mailRow.run(row),
    });
    return { ...e, seq: r.seq };
  }

  /** The deliveries and e-mails of event `seq`, as rows handed to `to`. */
  private keepRelated(
    seq: number,
    webhookIds: readonly string[],
    mails: readonly NewMail[],
    at: number,
    to: { deliveries: (row: unknown[]) => void; mails: (row: unknown[]) => void },
  ): void {
    for (const w of webhookIds) to.deliveries([`msg_${seq}_${w}`, w, seq, 'pending', at, at]);
    for (let i = 0; i < mails.length; i++) {
      const m = mails[i] as NewMail;
      to.mails([`mail_${seq}_${i + 1}`, seq, m.to, m.subject, m.text, 'pending', at, at]);
    }
  }

  async append(
    e: NewEvent,
    webhookIds: readonly string[],
    mails: readonly NewMail[],
    at: number,
  ): Promise<StoredEvent> {
    if (!this.turn?.active) return this.appendTx(e, webhookIds, mails, at);
    let kept = this.kept;
    if (!kept) {
      const next = this.prepared(
        `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
           coalesce((SELECT max(seq) FROM events), 0)) + 1 AS s`,
      ).get() as { s: number };
      kept = { events: [], deliveries: [], mails: [], nextSeq: next.s };
      this.kept = kept;
      this.turn.beforeCommit(() => this.writeKept());
    }
    const seq = kept.nextSeq++;
    kept.events.push([seq, e.type, e.at, e.subject, e.site, e.customer, JSON.stringify(e.data)]);
    const k = kept;
    this.keepRelated(seq, webhookIds, mails, at, {
      deliveries: (row) => k.deliveries.push(row),
      mails: (row) => k.mails.push(row),
    });
    return { ...e, seq };
  }

  /** Writes the rows kept for the turn's commit (then, or before any other statement of this store). */
  private writeKept(): void {
    const kept = this.kept;
    const turn = this.turn;
    if (!kept || !turn) return;
    this.kept = null;
    writeKeptRows(this.db, turn, [
      {
        rows: kept.events,
        one: (row) => this.eventRow.run(row),
        what: (row) => `event ${String(row[0])} (${String(row[1])})`,
      },
      {
        rows: kept.deliveries,
        one: (row) => this.deliveryRow.run(row),
        what: (row) => `delivery ${String(row[0])}`,
      },
      {
        rows: kept.mails,
        one: (row) => this.mailRow.run(row),
        what: (row) => `e-mail ${String(row[0])}`,
      },
    ]);
  }

  /** Events after `seq`, oldest first. */
  async since(seq: number, limit: number): Promise<StoredEvent[]> {
    return (
      this.stmt('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as EventRow[]
    ).map(eventOf);
  }

  async event(seq: number): Promise<StoredEvent | undefined> {
    const r = this.stmt('SELECT * FROM events WHERE seq = ?').get(seq) as EventRow | undefined;
    return r ? eventOf(r) : undefined;
  }

  async lastSeq(): Promise<number> {
    return (this.stmt('SELECT coalesce(max(seq), 0) AS s FROM events').get() as { s: number }).s;
  }

  /** Drops events older than `before` that no pending delivery needs. */
  async prune(before: number): Promise<number> {
    return this.stmt(
      `DELETE FROM events WHERE at < ? AND seq NOT IN (SELECT event_seq FROM deliveries WHERE state = 'pending')`,
    ).run(before).changes;
  }

  async insertWebhook(w: Webhook): Promise<void> {
    this.stmt(
      'INSERT INTO webhooks (id, url, types, secret, description, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(w.id, w.url, JSON.stringify(w.types), w.secret, w.description, w.active ? 1 : 0, w.createdAt);
  }

  async webhook(id: string): Promise<Webhook | undefined> {
    const r = this.stmt('SELECT * FROM webhooks WHERE id = ?').get(id) as WebhookRow | undefined;
    return r ? webhookOf(r) : undefined;
  }

  async webhooks(): Promise<Webhook[]> {
    return (this.stmt('SELECT * FROM webhooks ORDER BY created_at, id').all() as WebhookRow[]).map(webhookOf);
  }

  /** Switches a webhook on or off (off: no new deliveries; pending ones wait). */
  async setActive(id: string, active: boolean): Promise<Webhook | undefined> {
    this.stmt('UPDATE webhooks SET active = ? WHERE id = ?').run(active ? 1 : 0, id);
    return this.webhook(id);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.stmt('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
  }

  /** The earliest pending delivery per webhook (deliveries go out in event order, one at a time per webhook). */
  async due(now: number): Promise<Delivery[]> {
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
  async nextDueAt(): Promise<number | null> {
    const r = this.stmt(
      `SELECT min(d.next_at) AS t FROM deliveries d
         JOIN (SELECT webhook_id, min(event_seq) AS first FROM deliveries WHERE state = 'pending' GROUP BY webhook_id) f
           ON f.webhook_id = d.webhook_id AND f.first = d.event_seq
         JOIN webhooks w ON w.id = d.webhook_id AND w.active = 1`,
    ).get() as { t: number | null };
    return r.t;
  }

  async delivered(id: string, status: number, at: number): Promise<void> {
    this.stmt(
      `UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL,
         delivered_at = ? WHERE id = ? AND state = 'pending'`,
    ).run(status, at, id);
  }

  /** A failed attempt: retried at `nextAt`, or dead (`nextAt` null) after the last one. */
  async failed(id: string, status: number | null, error: string, nextAt: number | null): Promise<void> {
    this.stmt(
      `UPDATE deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?,
         state = CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END, next_at = coalesce(?, next_at)
         WHERE id = ? AND state = 'pending'`,
    ).run(status, error.slice(0, 500), nextAt, nextAt, id);
  }

  /** A dead delivery goes out again (after the receiver was fixed). */
  async retry(id: string, at: number): Promise<Delivery | undefined> {
    this.requeue('deliveries', id, at);
    return this.delivery(id);
  }

  private requeue(table: 'deliveries' | 'mails', id: string, at: number): void {
    this.stmt(`UPDATE ${table} SET state = 'pending', next_at = ? WHERE id = ? AND state = 'dead'`).run(
      at,
      id,
    );
  }

  async delivery(id: string): Promise<Delivery | undefined> {
    const r = this.stmt('SELECT * FROM deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
    return r ? deliveryOf(r) : undefined;
  }

  /** A webhook's deliveries, newest first, optionally in one state. */
  async deliveries(
    webhookId: string,
    state: DeliveryState | undefined,
    limit: number,
    cursor?: string,
  ): Promise<Page<Delivery>> {
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

  async dueMails(now: number, limit: number): Promise<Mail[]> {
    return (
      this.stmt(
        `SELECT * FROM mails WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
      ).all(now, limit) as MailRow[]
    ).map(mailOf);
  }

  async nextMailAt(): Promise<number | null> {
    return (
      this.stmt(`SELECT min(next_at) AS t FROM mails WHERE state = 'pending'`).get() as {
        t: number | null;
      }
    ).t;
  }

  async mailSent(id: string, at: number): Promise<void> {
    this.stmt(
      `UPDATE mails SET state = 'delivered', attempts = attempts + 1, last_error = NULL, sent_at = ? WHERE id = ?`,
    ).run(at, id);
  }

  async mailFailed(id: string, error: string, nextAt: number | null): Promise<void> {
    this.stmt(
      `UPDATE mails SET attempts = attempts + 1, last_error = ?, state = CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END,
         next_at = coalesce(?, next_at) WHERE id = ? AND state = 'pending'`,
    ).run(error.slice(0, 500), nextAt, nextAt, id);
  }

  async retryMail(id: string, at: number): Promise<Mail | undefined> {
    this.requeue('mails', id, at);
    return this.mail(id);
  }

  async mail(id: string): Promise<Mail | undefined> {
    const r = this.stmt('SELECT * FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    return r ? mailOf(r) : undefined;
  }

  /** E-mails, newest first, optionally in one state. */
  async mails(state: DeliveryState | undefined, limit: number, cursor?: string): Promise<Page<Mail>> {
    return this.pageOf<MailRow, Mail>('mails', [], [], state, limit, cursor, mailOf);
  }

  async counts(): Promise<Record<DeliveryState, number>> {
    const out: Record<DeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const r of this.stmt('SELECT state, count(*) AS n FROM deliveries GROUP BY state').all() as {
      state: DeliveryState;
      n: number;
    }[])
      out[r.state] = r.n;
    return out;
  }
}
