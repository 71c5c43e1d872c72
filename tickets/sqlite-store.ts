import type { Statement } from 'better-sqlite3';
import type { Page } from '../lib/cursor.js';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import type { TurnWrites } from '../lib/unit-of-work.js';
import type { NewTicketEvent, SlaClock, SlaTarget, Ticket, TicketEvent } from './model.js';
import { KeptOccurrences } from './sqlite-occurrences.js';
import type { ListQuery, NewTicket, OpenResult, TicketStore } from './store.js';
import { listSql, nextCursor, SQLITE } from './ticket-list-sql.js';
import {
  CLOCK_COLUMNS,
  type ClockRow,
  clocksBySeq,
  clockValues,
  type EventRow,
  eventOf,
  HALFWAY,
  idOf,
  type TicketRow as Row,
  seqOf,
  ticketColumns,
  ticketOf,
  type WarnAtOf,
} from './ticket-rows.js';

export const MIGRATIONS = [
  {
    version: 1,
    description: 'tickets, SLA clocks, timeline',
    up: `CREATE TABLE tickets (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      title TEXT NOT NULL,
      description TEXT NOT NULL,
      priority TEXT NOT NULL,
      priority_rank INTEGER NOT NULL,
      status TEXT NOT NULL,
      is_open INTEGER NOT NULL,
      source TEXT NOT NULL,
      device_id TEXT,
      site TEXT,
      area TEXT NOT NULL,
      customer TEXT,
      equipment_model TEXT,
      rule_id TEXT,
      alert_id TEXT,
      fault_type TEXT NOT NULL,
      occurrences INTEGER NOT NULL DEFAULT 0,
      last_occurrence_at INTEGER,
      reported_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      final_at INTEGER,
      assignees TEXT NOT NULL,
      team TEXT,
      labels TEXT NOT NULL,
      due_key INTEGER NOT NULL
    );
    -- De-duplication: at most one open ticket per (rule, device), enforced by the database.
    CREATE UNIQUE INDEX tickets_open_pair ON tickets (rule_id, device_id) WHERE is_open = 1 AND rule_id IS NOT NULL;
    CREATE INDEX tickets_urgency ON tickets (is_open DESC, priority_rank, due_key, seq);
    CREATE INDEX tickets_device ON tickets (device_id);
    CREATE INDEX tickets_status ON tickets (status);
    CREATE TABLE sla_clocks (
      ticket_seq INTEGER NOT NULL REFERENCES tickets (seq) ON DELETE CASCADE,
      target TEXT NOT NULL,
      start_at INTEGER NOT NULL,
      due_at INTEGER NOT NULL,
      met_at INTEGER,
      PRIMARY KEY (ticket_seq, target)
    );
    CREATE INDEX sla_clocks_due ON sla_clocks (due_at) WHERE met_at IS NULL;
    CREATE TABLE ticket_events (
      id INTEGER PRIMARY KEY,
      ticket_seq INTEGER NOT NULL REFERENCES tickets (seq) ON DELETE CASCADE,
      at INTEGER NOT NULL,
      type TEXT NOT NULL,
      actor TEXT NOT NULL,
      from_status TEXT,
      to_status TEXT,
      note TEXT
    );
    CREATE INDEX ticket_events_ticket ON ticket_events (ticket_seq, id);`,
  },
  {
    version: 2,
    description: 'SLA clocks that pause and count working time on a calendar',
    up: `ALTER TABLE sla_clocks ADD COLUMN calendar TEXT NOT NULL DEFAULT '24x7';
    ALTER TABLE sla_clocks ADD COLUMN target_ms INTEGER;
    ALTER TABLE sla_clocks ADD COLUMN worked_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sla_clocks ADD COLUMN running_since INTEGER;
    ALTER TABLE sla_clocks ADD COLUMN paused_at INTEGER;
    ALTER TABLE sla_clocks ADD COLUMN warn_at INTEGER;
    UPDATE sla_clocks SET target_ms = due_at - start_at,
      running_since = CASE WHEN met_at IS NULL THEN start_at END,
      worked_ms = CASE WHEN met_at IS NULL THEN 0 ELSE met_at - start_at END,
      warn_at = CASE WHEN met_at IS NULL THEN start_at + (due_at - start_at) / 2 END;`,
  },
  {
    version: 3,
    description: 'SLA announcements made per clock',
    up: 'ALTER TABLE sla_clocks ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;',
  },
  {
    version: 4,
    description: 'reporter of manual tickets',
    up: 'ALTER TABLE tickets ADD COLUMN reporter TEXT;',
  },
  {
    version: 5,
    description: 'repair report, review and customer feedback',
    up: 'ALTER TABLE tickets ADD COLUMN report TEXT; ALTER TABLE tickets ADD COLUMN feedback TEXT;',
  },
  {
    version: 6,
    description: 'what a waiting ticket waits on; the planned on-site visit',
    up: 'ALTER TABLE tickets ADD COLUMN waiting_on TEXT; ALTER TABLE tickets ADD COLUMN dispatch TEXT;',
  },
  {
    version: 7,
    description: 'the parts a ticket waits for, with their expected arrival',
    up: 'ALTER TABLE tickets ADD COLUMN waiting_for TEXT;',
  },
  {
    version: 8,
    description: 'lists by status in urgency order without a sort (a status filter walked every open ticket)',
    up: `DROP INDEX tickets_status;
      CREATE INDEX tickets_status_urgency ON tickets (status, is_open, priority_rank, due_key, seq);`,
  },
  {
    version: 9,
    description: 'the tickets of an alert (an alert names its ticket)',
    up: 'CREATE INDEX tickets_alert ON tickets (alert_id, seq) WHERE alert_id IS NOT NULL;',
  },
];

type Mutate = (t: Ticket) => { ticket: Ticket; events: NewTicketEvent[] };

/** SQLite ticket store: tickets, their SLA clocks (queryable by state) and their timelines. */
export class SqliteTicketStore implements TicketStore {
  private readonly stmts;
  private readonly tx;
  /** Statements whose text varies (filters, page sizes): prepared once per text. */
  private readonly stmt: (sql: string) => Statement;
  /** Occurrences of flapping alerts counted in memory, written within a second. */
  private readonly occurrences: KeptOccurrences;

  constructor(
    db: SqliteDatabase,
    /** The first warning instant of a clock (the SLA policy's shares on its calendar). */
    private readonly warnAtOf: WarnAtOf = HALFWAY,
  ) {
    migrate(db, 'tickets', MIGRATIONS);
    this.stmt = statementCache(db);
    this.stmts = {
      insert:
        db.prepare(`INSERT INTO tickets (title, description, priority, priority_rank, status, is_open, source,
        device_id, site, area, customer, equipment_model, rule_id, alert_id, fault_type, reported_at, created_at,
        updated_at, final_at, assignees, team, labels, reporter, report, feedback, waiting_on, waiting_for, dispatch, due_key)
        VALUES (@title, @description, @priority, @priority_rank, @status, @is_open, @source, @device_id, @site, @area,
        @customer, @equipment_model, @rule_id, @alert_id, @fault_type, @reported_at, @created_at, @updated_at,
        @final_at, @assignees, @team, @labels, @reporter, @report, @feedback, @waiting_on, @waiting_for, @dispatch, @due_key)`),
      update: db.prepare(`UPDATE tickets SET title = @title, description = @description, priority = @priority,
        priority_rank = @priority_rank, status = @status, is_open = @is_open, source = @source, device_id = @device_id,
        site = @site, area = @area, customer = @customer, equipment_model = @equipment_model, rule_id = @rule_id,
        alert_id = @alert_id, fault_type = @fault_type, occurrences = @occurrences,
        last_occurrence_at = @last_occurrence_at, reported_at = @reported_at, updated_at = @updated_at,
        final_at = @final_at, assignees = @assignees, team = @team, labels = @labels, reporter = @reporter, report = @report, feedback = @feedback,
        waiting_on = @waiting_on, waiting_for = @waiting_for, dispatch = @dispatch, due_key = @due_key
        WHERE seq = @seq`),
      get: db.prepare('SELECT * FROM tickets WHERE seq = ?'),
      occurrence: db.prepare(
        'UPDATE tickets SET occurrences = occurrences + 1, last_occurrence_at = ?, updated_at = ? WHERE seq = ?',
      ),
      count: db.prepare(`UPDATE tickets SET occurrences = occurrences + 1, last_occurrence_at = @at,
        updated_at = @at WHERE rule_id = @ruleId AND device_id = @deviceId AND is_open = 1 RETURNING seq`),
      openPair: db.prepare(`SELECT * FROM tickets WHERE rule_id = ? AND device_id = ? AND is_open = 1`),
      openPairSeq: db.prepare(`SELECT seq FROM tickets WHERE rule_id = ? AND device_id = ? AND is_open = 1`),
      clocks: db.prepare('SELECT * FROM sla_clocks WHERE ticket_seq = ?'),
      deleteClocks: db.prepare('DELETE FROM sla_clocks WHERE ticket_seq = ?'),
      insertClock: db.prepare(
        `INSERT INTO sla_clocks (${CLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertEvent: db.prepare(
        'INSERT INTO ticket_events (ticket_seq, at, type, actor, from_status, to_status, note) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      events: db.prepare('SELECT * FROM ticket_events WHERE ticket_seq = ? ORDER BY id'),
      openByPriority: db.prepare(
        'SELECT priority, COUNT(*) AS n FROM tickets WHERE is_open = 1 GROUP BY priority',
      ),
      ticketsOfAlerts: db.prepare(`SELECT alert_id, MAX(seq) AS seq FROM tickets
        WHERE alert_id IN (SELECT value FROM json_each(?)) GROUP BY alert_id`),
      openCounts: db.prepare(`SELECT a.value AS assignee, COUNT(*) AS n
        FROM tickets t, json_each(t.assignees) a
        WHERE t.is_open = 1 AND (@sites IS NULL OR t.site IN (SELECT value FROM json_each(@sites)))
        GROUP BY a.value`),
    };
    this.occurrences = new KeptOccurrences(
      db,
      db.prepare(`UPDATE tickets SET occurrences = occurrences + ?, last_occurrence_at = ?, updated_at = ?
        WHERE seq = ? AND is_open = 1`),
    );
    // Built once: better-sqlite3 makes a transaction function per call of db.transaction().
    this.tx = {
      openOrRecur: db.transaction((input: NewTicket & { ruleId: string; deviceId: string }, at: number) => {
        const existing = this.stmts.openPair.get(input.ruleId, input.deviceId) as Row | undefined;
        if (existing) return { ticket: this.occurrence(existing, at), created: false };
        const ticket = this.insert(input, {
          at: input.createdAt,
          type: 'created',
          actor: 'monitoring',
          from: null,
          to: input.status,
          note: null,
        });
        return { ticket, created: true };
      }),
      recur: db.transaction((ruleId: string, deviceId: string, at: number): Ticket | undefined => {
        const existing = this.stmts.openPair.get(ruleId, deviceId) as Row | undefined;
        return existing ? this.occurrence(existing, at) : undefined;
      }),
      update: db.transaction((seq: number, mutate: Mutate): Ticket | undefined => {
        const row = this.stmts.get.get(seq) as Row | undefined;
        if (!row) return undefined;
        const current = this.hydrate(row);
        const { ticket, events } = mutate(current);
        // The same object back: only timeline entries to add (a routing note, a notice).
        if (ticket !== current) this.write(ticket);
        for (const e of events) this.addEvent(seq, e);
        return ticket;
      }),
      create: db.transaction((input: NewTicket, event: NewTicketEvent) => this.insert(input, event)),
    };
  }

  async openOrRecur(
    input: NewTicket & { ruleId: string; deviceId: string },
    at: number,
  ): Promise<OpenResult> {
    this.occurrences.settle(true);
    // better-sqlite3 transactions are synchronous, so nothing in this process interleaves; the
    // partial unique index keeps the pair unique against other writers of the same file.
    return this.tx.openOrRecur.immediate(input, at);
  }

  async recur(ruleId: string, deviceId: string, at: number): Promise<Ticket | undefined> {
    this.occurrences.settle(true);
    return this.tx.recur(ruleId, deviceId, at);
  }

  /**
   * The stores of the state path write at the turn's commit (lib/unit-of-work.ts): here, the
   * occurrences counted in memory.
   */
  writeAtCommit(turn: TurnWrites): void {
    this.occurrences.writeAtCommit(turn);
  }

  /** Writes the occurrences counted in memory now (the stop). */
  writeKept(): void {
    this.occurrences.settle(false);
  }

  async count(ruleId: string, deviceId: string, at: number): Promise<string | undefined> {
    const pair = `${ruleId}\u0000${deviceId}`;
    const kept = this.occurrences.count(pair, at);
    if (kept !== undefined) return idOf(kept);
    const row = this.stmts.count.get({ at, ruleId, deviceId }) as { seq: number } | undefined;
    if (!row) return undefined;
    this.occurrences.learned(pair, row.seq);
    return idOf(row.seq);
  }

  /**
   * Another occurrence on an open ticket: its counters and one timeline entry, not a rewrite of
   * the ticket and its clocks (issue 19: a flapping alert re-fires many times a minute).
   */
  private occurrence(row: Row, at: number): Ticket {
    this.stmts.occurrence.run(at, at, row.seq);
    this.addEvent(row.seq, { at, type: 'occurrence', actor: 'monitoring', from: null, to: null, note: null });
    const t = this.hydrate(row);
    return { ...t, occurrences: t.occurrences + 1, lastOccurrenceAt: at, updatedAt: at };
  }

  async create(input: NewTicket, event: NewTicketEvent): Promise<Ticket> {
    this.occurrences.settle(true);
    return this.tx.create.immediate(input, event);
  }

  async get(id: string): Promise<Ticket | undefined> {
    this.occurrences.settle(false);
    const seq = seqOf(id);
    if (seq === undefined) return undefined;
    const row = this.stmts.get.get(seq) as Row | undefined;
    return row ? this.hydrate(row) : undefined;
  }

  async update(
    id: string,
    mutate: (t: Ticket) => { ticket: Ticket; events: NewTicketEvent[] },
  ): Promise<Ticket | undefined> {
    this.occurrences.settle(true);
    const seq = seqOf(id);
    if (seq === undefined) return undefined;
    return this.tx.update.immediate(seq, mutate);
  }

  async noteOnOpen(ruleId: string, deviceId: string, event: NewTicketEvent): Promise<string | undefined> {
    this.occurrences.settle(false);
    const row = this.stmts.openPairSeq.get(ruleId, deviceId) as { seq: number } | undefined;
    if (!row) return undefined;
    this.addEvent(row.seq, event);
    return idOf(row.seq);
  }

  async timeline(id: string): Promise<TicketEvent[]> {
    this.occurrences.settle(false);
    const seq = seqOf(id);
    if (seq === undefined) return [];
    const rows = this.stmts.events.all(seq) as EventRow[];
    return rows.map((r) => eventOf(id, r));
  }

  async list(q: ListQuery): Promise<Page<Ticket>> {
    this.occurrences.settle(false);
    const { sql, params } = listSql(q, SQLITE);
    const rows = this.stmt(sql).all(...params) as Row[];
    return { items: this.hydrateMany(rows.slice(0, q.limit)), nextCursor: nextCursor(q, rows) };
  }

  async openByPriority(): Promise<Record<string, number>> {
    this.occurrences.settle(false);
    const rows = this.stmts.openByPriority.all() as { priority: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.priority, r.n]));
  }

  async ticketsOfAlerts(alertIds: readonly string[]): Promise<Map<string, string>> {
    this.occurrences.settle(false);
    if (alertIds.length === 0) return new Map();
    const rows = this.stmts.ticketsOfAlerts.all(JSON.stringify(alertIds)) as {
      alert_id: string;
      seq: number;
    }[];
    return new Map(rows.map((r) => [r.alert_id, idOf(r.seq)]));
  }

  async openCounts(sites?: readonly string[] | null): Promise<Map<string, number>> {
    this.occurrences.settle(false);
    const rows = this.stmts.openCounts.all({ sites: sites ? JSON.stringify(sites) : null }) as {
      assignee: string;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.assignee, r.n]));
  }

  async close(): Promise<void> {
    // The database handle is owned by whoever opened it.
  }

  private insert(input: NewTicket, event: NewTicketEvent): Ticket {
    const info = this.stmts.insert.run(ticketColumns(input));
    const seq = Number(info.lastInsertRowid);
    this.writeClocks(seq, input.sla);
    this.addEvent(seq, event);
    return {
      ...input,
      id: idOf(seq),
      occurrences: 0,
      lastOccurrenceAt: null,
      finalAt: null,
      report: null,
      feedback: null,
      waitingOn: null,
      waitingFor: null,
      dispatch: null,
    };
  }

  private write(t: Ticket): void {
    const seq = seqOf(t.id) as number;
    this.stmts.update.run({
      ...ticketColumns(t),
      seq,
      occurrences: t.occurrences,
      last_occurrence_at: t.lastOccurrenceAt,
    });
    this.stmts.deleteClocks.run(seq);
    this.writeClocks(seq, t.sla);
  }

  private writeClocks(seq: number, sla: Ticket['sla']): void {
    for (const [target, c] of Object.entries(sla) as [SlaTarget, SlaClock][])
      this.stmts.insertClock.run(...clockValues(seq, target, c, this.warnAtOf));
  }

  private addEvent(seq: number, e: NewTicketEvent): void {
    this.stmts.insertEvent.run(seq, e.at, e.type, e.actor, e.from, e.to, e.note);
  }

  private hydrate(row: Row): Ticket {
    return this.hydrateMany([row])[0] as Ticket;
  }

  private hydrateMany(rows: Row[]): Ticket[] {
    if (rows.length === 0) return [];
    const clocks = this.stmt(
      `SELECT * FROM sla_clocks WHERE ticket_seq IN (${rows.map(() => '?').join(',')})`,
    ).all(...rows.map((r) => r.seq)) as ClockRow[];
    const bySeq = clocksBySeq(clocks);
    return rows.map((r) => ticketOf(r, bySeq.get(r.seq) ?? {}));
  }
}
