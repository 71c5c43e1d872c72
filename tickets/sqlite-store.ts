import type { Statement } from 'better-sqlite3';
import { decodeCursor, encodeCursor, type Page } from '../lib/cursor.js';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import {
  type Dispatch,
  type Feedback,
  isOpen,
  type NewTicketEvent,
  nextDueAt,
  PRIORITY_RANK,
  type RepairReport,
  type Reporter,
  type SlaClock,
  type SlaTarget,
  type Ticket,
  type TicketEvent,
} from './model.js';
import type { ListQuery, NewTicket, OpenResult, TicketStore } from './store.js';

// Sort key for "no unmet deadline": after every real one.
const NO_DEADLINE = 8_640_000_000_000_000;

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

interface Row {
  seq: number;
  title: string;
  description: string;
  priority: Ticket['priority'];
  status: Ticket['status'];
  source: Ticket['source'];
  device_id: string | null;
  site: string | null;
  area: Ticket['area'];
  customer: string | null;
  equipment_model: string | null;
  rule_id: string | null;
  alert_id: string | null;
  fault_type: string;
  occurrences: number;
  last_occurrence_at: number | null;
  reported_at: number;
  created_at: number;
  updated_at: number;
  final_at: number | null;
  assignees: string;
  team: string | null;
  labels: string;
  is_open: number;
  priority_rank: number;
  due_key: number;
  reporter: string | null;
  report: string | null;
  feedback: string | null;
  waiting_on: Ticket['waitingOn'];
  waiting_for: string | null;
  dispatch: string | null;
}

interface ClockRow {
  ticket_seq: number;
  target: SlaTarget;
  start_at: number;
  due_at: number;
  met_at: number | null;
  calendar: string;
  target_ms: number;
  worked_ms: number;
  running_since: number | null;
  paused_at: number | null;
  notified: number;
}

/** When a clock shows its first warning (null: paused, met, or past it); stored for the SQL filters. */
export type WarnAtOf = (c: SlaClock) => number | null;

/** Without a policy: the first warning at half of the clock's remaining plain time. */
const HALFWAY: WarnAtOf = (c) =>
  c.metAt !== null || c.runningSince === null
    ? null
    : c.runningSince + Math.max(0, c.targetMs / 2 - c.workedMs);

const idOf = (seq: number) => `T-${seq}`;
function seqOf(id: string): number | undefined {
  const m = /^T-(\d{1,15})$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

function toParams(t: NewTicket | Ticket) {
  return {
    title: t.title,
    description: t.description,
    priority: t.priority,
    priority_rank: PRIORITY_RANK[t.priority],
    status: t.status,
    is_open: isOpen(t.status) ? 1 : 0,
    source: t.source,
    device_id: t.deviceId,
    site: t.site,
    area: t.area,
    customer: t.customer,
    equipment_model: t.equipmentModel,
    rule_id: t.ruleId,
    alert_id: t.alertId,
    fault_type: t.faultType,
    reported_at: t.reportedAt,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    final_at: 'finalAt' in t ? t.finalAt : null,
    assignees: JSON.stringify(t.assignees),
    team: t.team,
    labels: JSON.stringify(t.labels),
    reporter: t.reporter ? JSON.stringify(t.reporter) : null,
    report: 'report' in t && t.report ? JSON.stringify(t.report) : null,
    feedback: 'feedback' in t && t.feedback ? JSON.stringify(t.feedback) : null,
    waiting_on: 'waitingOn' in t ? t.waitingOn : null,
    waiting_for: 'waitingFor' in t && t.waitingFor ? JSON.stringify(t.waitingFor) : null,
    dispatch: 'dispatch' in t && t.dispatch ? JSON.stringify(t.dispatch) : null,
    due_key: nextDueAt(t) ?? NO_DEADLINE,
  };
}

type Mutate = (t: Ticket) => { ticket: Ticket; events: NewTicketEvent[] };

/** SQLite ticket store: tickets, their SLA clocks (queryable by state) and their timelines. */
export class SqliteTicketStore implements TicketStore {
  private readonly stmts;
  private readonly tx;
  /** Statements whose text varies (filters, page sizes): prepared once per text. */
  private readonly stmt: (sql: string) => Statement;

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
        `INSERT INTO sla_clocks (ticket_seq, target, start_at, due_at, met_at, calendar, target_ms, worked_ms,
         running_since, paused_at, warn_at, notified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        const { ticket, events } = mutate(this.hydrate(row));
        this.write(ticket);
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
    // better-sqlite3 transactions are synchronous, so nothing in this process interleaves; the
    // partial unique index keeps the pair unique against other writers of the same file.
    return this.tx.openOrRecur.immediate(input, at);
  }

  async recur(ruleId: string, deviceId: string, at: number): Promise<Ticket | undefined> {
    return this.tx.recur(ruleId, deviceId, at);
  }

  async count(ruleId: string, deviceId: string, at: number): Promise<string | undefined> {
    const row = this.stmts.count.get({ at, ruleId, deviceId }) as { seq: number } | undefined;
    return row ? idOf(row.seq) : undefined;
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
    return this.tx.create.immediate(input, event);
  }

  async get(id: string): Promise<Ticket | undefined> {
    const seq = seqOf(id);
    if (seq === undefined) return undefined;
    const row = this.stmts.get.get(seq) as Row | undefined;
    return row ? this.hydrate(row) : undefined;
  }

  async update(
    id: string,
    mutate: (t: Ticket) => { ticket: Ticket; events: NewTicketEvent[] },
  ): Promise<Ticket | undefined> {
    const seq = seqOf(id);
    if (seq === undefined) return undefined;
    return this.tx.update.immediate(seq, mutate);
  }

  async noteOnOpen(ruleId: string, deviceId: string, event: NewTicketEvent): Promise<string | undefined> {
    const row = this.stmts.openPairSeq.get(ruleId, deviceId) as { seq: number } | undefined;
    if (!row) return undefined;
    this.addEvent(row.seq, event);
    return idOf(row.seq);
  }

  async timeline(id: string): Promise<TicketEvent[]> {
    const seq = seqOf(id);
    if (seq === undefined) return [];
    const rows = this.stmts.events.all(seq) as {
      at: number;
      type: TicketEvent['type'];
      actor: string;
      from_status: TicketEvent['from'];
      to_status: TicketEvent['to'];
      note: string | null;
    }[];
    return rows.map((r) => ({
      ticketId: id,
      at: r.at,
      type: r.type,
      actor: r.actor,
      from: r.from_status,
      to: r.to_status,
      note: r.note,
    }));
  }

  async list(q: ListQuery): Promise<Page<Ticket>> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const inList = (col: string, values: readonly string[] | undefined) => {
      if (!values?.length) return;
      where.push(`${col} IN (${values.map(() => '?').join(',')})`);
      params.push(...values);
    };
    const f = q.filter;
    inList('t.status', f.status);
    inList('t.priority', f.priority);
    // The same conditions on the columns the urgency index leads with, which SQLite cannot derive:
    // a list of resolved emergencies seeks to them instead of walking every open ticket first.
    const open = new Set(f.status?.map((x) => isOpen(x)));
    if (open.size === 1) where.push(`t.is_open = ${open.has(true) ? 1 : 0}`);
    if (f.priority?.length) {
      where.push(`t.priority_rank IN (${f.priority.map(() => '?').join(',')})`);
      params.push(...f.priority.map((x) => PRIORITY_RANK[x]));
    }
    inList('t.source', f.source);
    for (const [cond, v] of [
      ['t.created_at >= ?', f.createdFrom],
      ['t.created_at < ?', f.createdTo],
      ['t.updated_at >= ?', f.updatedFrom],
      ['t.updated_at < ?', f.updatedTo],
    ] as const) {
      if (v !== undefined) {
        where.push(cond);
        params.push(v);
      }
    }
    if (f.siteIn) {
      // An empty list sees nothing.
      if (f.siteIn.length === 0) where.push('0');
      inList('t.site', f.siteIn);
    }
    for (const [col, v] of [
      ['t.device_id', f.deviceId],
      ['t.site', f.site],
      ['t.customer', f.customer],
      ['t.team', f.team],
      ['t.fault_type', f.faultType],
      ['t.rule_id', f.ruleId],
    ] as const) {
      if (v !== undefined) {
        where.push(`${col} = ?`);
        params.push(v);
      }
    }
    if (f.assignee !== undefined) {
      where.push('EXISTS (SELECT 1 FROM json_each(t.assignees) WHERE json_each.value = ?)');
      params.push(f.assignee);
    }
    if (f.q) {
      where.push(
        "(t.title LIKE ? ESCAPE '\\' OR t.description LIKE ? ESCAPE '\\' OR t.customer LIKE ? ESCAPE '\\')",
      );
      const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      params.push(like, like, like);
    }
    if (f.slaState?.length) {
      const { sql, args } = slaStateCondition(f.slaState, q.now);
      where.push(`EXISTS (SELECT 1 FROM sla_clocks c WHERE c.ticket_seq = t.seq AND (${sql}))`);
      params.push(...args);
    }
    let order: string;
    let keyLength: number;
    if (q.sort === 'urgency') {
      order = 't.is_open DESC, t.priority_rank, t.due_key, t.seq';
      keyLength = 4;
      if (q.cursor) {
        const [open, rank, due, seq] = decodeCursor(q.cursor, 4) as number[];
        where.push(`(t.is_open < ? OR (t.is_open = ? AND (t.priority_rank > ? OR (t.priority_rank = ? AND
          (t.due_key > ? OR (t.due_key = ? AND t.seq > ?))))))`);
        params.push(open!, open!, rank!, rank!, due!, due!, seq!);
      }
    } else {
      order = 't.seq DESC';
      keyLength = 1;
      if (q.cursor) {
        const [seq] = decodeCursor(q.cursor, 1) as number[];
        where.push('t.seq < ?');
        params.push(seq!);
      }
    }
    const sql = `SELECT t.* FROM tickets t ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${order} LIMIT ?`;
    const rows = this.stmt(sql).all(...params, q.limit + 1) as Row[];
    const page = rows.slice(0, q.limit);
    const items = this.hydrateMany(page);
    const last = page[page.length - 1];
    let nextCursor: string | null = null;
    if (rows.length > q.limit && last) {
      nextCursor = encodeCursor(
        keyLength === 4 ? [last.is_open, last.priority_rank, last.due_key, last.seq] : [last.seq],
      );
    }
    return { items, nextCursor };
  }

  async openByPriority(): Promise<Record<string, number>> {
    const rows = this.stmts.openByPriority.all() as { priority: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.priority, r.n]));
  }

  async ticketsOfAlerts(alertIds: readonly string[]): Promise<Map<string, string>> {
    if (alertIds.length === 0) return new Map();
    const rows = this.stmts.ticketsOfAlerts.all(JSON.stringify(alertIds)) as {
      alert_id: string;
      seq: number;
    }[];
    return new Map(rows.map((r) => [r.alert_id, idOf(r.seq)]));
  }

  async openCounts(sites?: readonly string[] | null): Promise<Map<string, number>> {
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
    const info = this.stmts.insert.run(toParams(input));
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
      ...toParams(t),
      seq,
      occurrences: t.occurrences,
      last_occurrence_at: t.lastOccurrenceAt,
    });
    this.stmts.deleteClocks.run(seq);
    this.writeClocks(seq, t.sla);
  }

  private writeClocks(seq: number, sla: Ticket['sla']): void {
    for (const [target, c] of Object.entries(sla) as [SlaTarget, SlaClock][]) {
      this.stmts.insertClock.run(
        seq,
        target,
        c.startAt,
        c.dueAt,
        c.metAt,
        c.calendar,
        c.targetMs,
        c.workedMs,
        c.runningSince,
        c.pausedAt,
        this.warnAtOf(c),
        c.notified,
      );
    }
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
    const bySeq = new Map<number, Ticket['sla']>();
    for (const c of clocks) {
      let sla = bySeq.get(c.ticket_seq);
      if (!sla) {
        sla = {};
        bySeq.set(c.ticket_seq, sla);
      }
      sla[c.target] = {
        calendar: c.calendar,
        targetMs: c.target_ms,
        startAt: c.start_at,
        workedMs: c.worked_ms,
        runningSince: c.running_since,
        dueAt: c.due_at,
        metAt: c.met_at,
        pausedAt: c.paused_at,
        notified: c.notified,
      };
    }
    return rows.map((r) => ({
      id: idOf(r.seq),
      title: r.title,
      description: r.description,
      priority: r.priority,
      status: r.status,
      source: r.source,
      deviceId: r.device_id,
      site: r.site,
      area: r.area,
      customer: r.customer,
      equipmentModel: r.equipment_model,
      ruleId: r.rule_id,
      alertId: r.alert_id,
      faultType: r.fault_type,
      occurrences: r.occurrences,
      lastOccurrenceAt: r.last_occurrence_at,
      reportedAt: r.reported_at,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      finalAt: r.final_at,
      assignees: JSON.parse(r.assignees) as string[],
      team: r.team,
      labels: JSON.parse(r.labels) as Record<string, string>,
      reporter: r.reporter ? (JSON.parse(r.reporter) as Reporter) : null,
      report: r.report ? (JSON.parse(r.report) as RepairReport) : null,
      feedback: r.feedback ? (JSON.parse(r.feedback) as Feedback) : null,
      waitingOn: r.waiting_on,
      waitingFor: r.waiting_for ? (JSON.parse(r.waiting_for) as Ticket['waitingFor']) : null,
      dispatch: r.dispatch ? (JSON.parse(r.dispatch) as Dispatch) : null,
      sla: bySeq.get(r.seq) ?? {},
    }));
  }
}

/**
 * SQL for "this clock is in one of these states", mirroring `clockState`: clocks of final
 * tickets are judged at the time the ticket became final.
 */
function slaStateCondition(states: readonly string[], now: number) {
  const evalAt = `COALESCE((SELECT final_at FROM tickets x WHERE x.seq = c.ticket_seq), ?)`;
  const running = `c.met_at IS NULL AND c.paused_at IS NULL AND ${evalAt} <= c.due_at`;
  const parts: string[] = [];
  const args: number[] = [];
  for (const s of states) {
    switch (s) {
      case 'met':
        parts.push('(c.met_at IS NOT NULL AND c.worked_ms <= c.target_ms)');
        break;
      case 'breached':
        parts.push(
          `((c.met_at IS NOT NULL AND c.worked_ms > c.target_ms) OR (c.met_at IS NULL AND c.paused_at IS NULL AND ${evalAt} > c.due_at) OR (c.met_at IS NULL AND c.paused_at IS NOT NULL AND c.worked_ms > c.target_ms))`,
        );
        args.push(now);
        break;
      case 'paused':
        parts.push('(c.met_at IS NULL AND c.paused_at IS NOT NULL AND c.worked_ms <= c.target_ms)');
        break;
      case 'warning':
        parts.push(`(${running} AND c.warn_at IS NOT NULL AND ${evalAt} >= c.warn_at)`);
        args.push(now, now);
        break;
      case 'running':
        parts.push(`(${running} AND (c.warn_at IS NULL OR ${evalAt} < c.warn_at))`);
        args.push(now, now);
        break;
      default:
        parts.push('0');
    }
  }
  return { sql: parts.join(' OR '), args };
}
