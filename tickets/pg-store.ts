import type { Page } from '../lib/cursor.js';
import { inTransaction, migratePg, type PgClient, type PgPool } from '../lib/pg.js';
import type { NewTicketEvent, SlaClock, SlaTarget, Ticket, TicketEvent } from './model.js';
import type { ListQuery, NewTicket, OpenResult, TicketStore } from './store.js';
import { listSql, nextCursor, POSTGRES } from './ticket-list-sql.js';
import {
  CLOCK_COLUMNS,
  type ClockRow,
  clocksBySeq,
  clockValues,
  type EventRow,
  eventOf,
  HALFWAY,
  idOf,
  seqOf,
  type TicketRow,
  ticketColumns,
  ticketOf,
  type WarnAtOf,
} from './ticket-rows.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'tickets, SLA clocks, timeline',
    up: `CREATE TABLE tickets (
      seq BIGSERIAL PRIMARY KEY,
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
      last_occurrence_at BIGINT,
      reported_at BIGINT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      final_at BIGINT,
      assignees JSONB NOT NULL,
      team TEXT,
      labels JSONB NOT NULL,
      reporter JSONB,
      report JSONB,
      feedback JSONB,
      waiting_on TEXT,
      waiting_for JSONB,
      dispatch JSONB,
      due_key BIGINT NOT NULL
    );
    -- De-duplication across instances: at most one open ticket per (rule, device).
    CREATE UNIQUE INDEX tickets_open_pair ON tickets (rule_id, device_id) WHERE is_open = 1 AND rule_id IS NOT NULL;
    CREATE INDEX tickets_urgency ON tickets (is_open DESC, priority_rank, due_key, seq);
    CREATE INDEX tickets_status_urgency ON tickets (status, is_open, priority_rank, due_key, seq);
    CREATE INDEX tickets_device ON tickets (device_id);
    CREATE INDEX tickets_alert ON tickets (alert_id, seq) WHERE alert_id IS NOT NULL;
    CREATE INDEX tickets_assignees ON tickets USING GIN (assignees);
    CREATE TABLE sla_clocks (
      ticket_seq BIGINT NOT NULL REFERENCES tickets (seq) ON DELETE CASCADE,
      target TEXT NOT NULL,
      start_at BIGINT NOT NULL,
      due_at BIGINT NOT NULL,
      met_at BIGINT,
      calendar TEXT NOT NULL,
      target_ms BIGINT NOT NULL,
      worked_ms BIGINT NOT NULL,
      running_since BIGINT,
      paused_at BIGINT,
      warn_at BIGINT,
      notified INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (ticket_seq, target)
    );
    CREATE INDEX sla_clocks_due ON sla_clocks (due_at) WHERE met_at IS NULL;
    CREATE TABLE ticket_events (
      id BIGSERIAL PRIMARY KEY,
      ticket_seq BIGINT NOT NULL REFERENCES tickets (seq) ON DELETE CASCADE,
      at BIGINT NOT NULL,
      type TEXT NOT NULL,
      actor TEXT NOT NULL,
      from_status TEXT,
      to_status TEXT,
      note TEXT
    );
    CREATE INDEX ticket_events_ticket ON ticket_events (ticket_seq, id);`,
  },
];

// The column names, in the order `ticketColumns` gives the values (read off an empty ticket once).
const COLUMNS = Object.keys(ticketColumns({ sla: {} } as never));
const INSERT = `INSERT INTO tickets (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
const UPDATE = `UPDATE tickets SET ${COLUMNS.map((c, i) => `${c} = $${i + 1}`).join(', ')},
  occurrences = $${COLUMNS.length + 1}, last_occurrence_at = $${COLUMNS.length + 2} WHERE seq = $${COLUMNS.length + 3}`;
const INSERT_CLOCK = `INSERT INTO sla_clocks (${CLOCK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;
const INSERT_EVENT =
  'INSERT INTO ticket_events (ticket_seq, at, type, actor, from_status, to_status, note) VALUES ($1, $2, $3, $4, $5, $6, $7)';
const OPEN_PAIR = 'rule_id = $2 AND device_id = $3 AND is_open = 1';
/** One more occurrence at $1; concurrent ones commit in any order, so the latest time wins. */
const COUNTED = `occurrences = occurrences + 1, last_occurrence_at = GREATEST(last_occurrence_at, $1),
  updated_at = GREATEST(updated_at, $1)`;

type Query = Pick<PgClient, 'query'>;

/**
 * Tickets, their SLA clocks and timelines in PostgreSQL (issue 20), shared by several gateway
 * instances. De-duplication holds across them by the partial unique index on the open (rule, device)
 * pair: an instance that loses the race to file a ticket finds the winner's and counts an occurrence
 * on it (`INSERT … ON CONFLICT DO NOTHING` waits for the other's transaction to end). Read-modify-
 * write updates lock the ticket's row (`FOR UPDATE`), so two instances changing one ticket queue.
 */
export class PgTicketStore implements TicketStore {
  private constructor(
    private readonly pool: PgPool,
    private readonly warnAtOf: WarnAtOf,
  ) {}

  static async open(pool: PgPool, warnAtOf: WarnAtOf = HALFWAY): Promise<PgTicketStore> {
    await migratePg(pool, 'tickets', MIGRATIONS);
    return new PgTicketStore(pool, warnAtOf);
  }

  async openOrRecur(
    input: NewTicket & { ruleId: string; deviceId: string },
    at: number,
  ): Promise<OpenResult> {
    return inTransaction(this.pool, async (c) => {
      const values = Object.values(ticketColumns(input));
      const inserted = await c.query<{ seq: number }>(
        `${INSERT} ON CONFLICT (rule_id, device_id) WHERE is_open = 1 AND rule_id IS NOT NULL DO NOTHING RETURNING seq`,
        values,
      );
      const seq = inserted.rows[0]?.seq;
      if (seq === undefined) {
        const ticket = await this.occurrence(c, input.ruleId, input.deviceId, at);
        if (ticket) return { ticket, created: false };
        // The other's ticket was closed between our insert and our look: file ours after all.
        return { ticket: await this.insert(c, input, createdEvent(input)), created: true };
      }
      await this.writeClocks(c, seq, input.sla);
      await addEvent(c, seq, createdEvent(input));
      return { ticket: newTicket(seq, input), created: true };
    });
  }

  async recur(ruleId: string, deviceId: string, at: number): Promise<Ticket | undefined> {
    return inTransaction(this.pool, (c) => this.occurrence(c, ruleId, deviceId, at));
  }

  async count(ruleId: string, deviceId: string, at: number): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ seq: number }>(
      `UPDATE tickets SET ${COUNTED}
       WHERE ${OPEN_PAIR} RETURNING seq`,
      [at, ruleId, deviceId],
    );
    return rows[0] ? idOf(rows[0].seq) : undefined;
  }

  async create(input: NewTicket, event: NewTicketEvent): Promise<Ticket> {
    return inTransaction(this.pool, (c) => this.insert(c, input, event));
  }

  async get(id: string): Promise<Ticket | undefined> {
    const seq = seqOf(id);
    if (seq === undefined) return undefined;
    const { rows } = await this.pool.query<TicketRow>('SELECT * FROM tickets WHERE seq = $1', [seq]);
    return (await this.hydrate(this.pool, rows))[0];
  }

  async update(
    id: string,
    mutate: (t: Ticket) => { ticket: Ticket; events: NewTicketEvent[] },
  ): Promise<Ticket | undefined> {
    const seq = seqOf(id);
    if (seq === undefined) return undefined;
    return inTransaction(this.pool, async (c) => {
      const { rows } = await c.query<TicketRow>('SELECT * FROM tickets WHERE seq = $1 FOR UPDATE', [seq]);
      const current = (await this.hydrate(c, rows))[0];
      if (!current) return undefined;
      const { ticket, events } = mutate(current);
      // The same object back: only timeline entries to add (a routing note, a notice).
      if (ticket !== current) {
        await c.query(UPDATE, [
          ...Object.values(ticketColumns(ticket)),
          ticket.occurrences,
          ticket.lastOccurrenceAt,
          seq,
        ]);
        await c.query('DELETE FROM sla_clocks WHERE ticket_seq = $1', [seq]);
        await this.writeClocks(c, seq, ticket.sla);
      }
      for (const e of events) await addEvent(c, seq, e);
      return ticket;
    });
  }

  async noteOnOpen(ruleId: string, deviceId: string, e: NewTicketEvent): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ ticket_seq: number }>(
      `INSERT INTO ticket_events (ticket_seq, at, type, actor, from_status, to_status, note)
       SELECT seq, $1, $4, $5, $6, $7, $8 FROM tickets WHERE ${OPEN_PAIR} RETURNING ticket_seq`,
      [e.at, ruleId, deviceId, e.type, e.actor, e.from, e.to, e.note],
    );
    return rows[0] ? idOf(rows[0].ticket_seq) : undefined;
  }

  async timeline(id: string): Promise<TicketEvent[]> {
    const seq = seqOf(id);
    if (seq === undefined) return [];
    const { rows } = await this.pool.query<EventRow>(
      'SELECT at, type, actor, from_status, to_status, note FROM ticket_events WHERE ticket_seq = $1 ORDER BY id',
      [seq],
    );
    return rows.map((r) => eventOf(id, r));
  }

  async list(q: ListQuery): Promise<Page<Ticket>> {
    const { sql, params } = listSql(q, POSTGRES);
    const { rows } = await this.pool.query<TicketRow>(sql, params);
    return { items: await this.hydrate(this.pool, rows.slice(0, q.limit)), nextCursor: nextCursor(q, rows) };
  }

  async openCounts(sites?: readonly string[] | null): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ assignee: string; n: number }>(
      `SELECT a AS assignee, count(*) AS n FROM tickets t, jsonb_array_elements_text(t.assignees) a
       WHERE t.is_open = 1 AND ($1::text[] IS NULL OR t.site = ANY($1)) GROUP BY a`,
      [sites ?? null],
    );
    return new Map(rows.map((r) => [r.assignee, r.n]));
  }

  async openByPriority(): Promise<Record<string, number>> {
    const { rows } = await this.pool.query<{ priority: string; n: number }>(
      'SELECT priority, count(*) AS n FROM tickets WHERE is_open = 1 GROUP BY priority',
    );
    return Object.fromEntries(rows.map((r) => [r.priority, r.n]));
  }

  async ticketsOfAlerts(alertIds: readonly string[]): Promise<Map<string, string>> {
    if (alertIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ alert_id: string; seq: number }>(
      'SELECT alert_id, max(seq) AS seq FROM tickets WHERE alert_id = ANY($1) GROUP BY alert_id',
      [alertIds],
    );
    return new Map(rows.map((r) => [r.alert_id, idOf(r.seq)]));
  }

  async close(): Promise<void> {
    // The pool is owned by whoever opened it.
  }

  /** An occurrence on the open ticket of the pair: counter, last time, one timeline entry. */
  private async occurrence(c: PgClient, ruleId: string, deviceId: string, at: number) {
    const { rows } = await c.query<TicketRow>(
      `UPDATE tickets SET ${COUNTED}
       WHERE ${OPEN_PAIR} RETURNING *`,
      [at, ruleId, deviceId],
    );
    const row = rows[0];
    if (!row) return undefined;
    await addEvent(c, row.seq, {
      at,
      type: 'occurrence',
      actor: 'monitoring',
      from: null,
      to: null,
      note: null,
    });
    return (await this.hydrate(c, rows))[0];
  }

  private async insert(c: PgClient, input: NewTicket, event: NewTicketEvent): Promise<Ticket> {
    const { rows } = await c.query<{ seq: number }>(
      `${INSERT} RETURNING seq`,
      Object.values(ticketColumns(input)),
    );
    const seq = (rows[0] as { seq: number }).seq;
    await this.writeClocks(c, seq, input.sla);
    await addEvent(c, seq, event);
    return newTicket(seq, input);
  }

  private async writeClocks(c: PgClient, seq: number, sla: Ticket['sla']): Promise<void> {
    for (const [target, clock] of Object.entries(sla) as [SlaTarget, SlaClock][])
      await c.query(INSERT_CLOCK, clockValues(seq, target, clock, this.warnAtOf));
  }

  private async hydrate(q: Query, rows: TicketRow[]): Promise<Ticket[]> {
    if (rows.length === 0) return [];
    const clocks = await q.query<ClockRow>('SELECT * FROM sla_clocks WHERE ticket_seq = ANY($1)', [
      rows.map((r) => r.seq),
    ]);
    const bySeq = clocksBySeq(clocks.rows);
    return rows.map((r) => ticketOf(r, bySeq.get(r.seq) ?? {}));
  }
}

function addEvent(c: PgClient, seq: number, e: NewTicketEvent) {
  return c.query(INSERT_EVENT, [seq, e.at, e.type, e.actor, e.from, e.to, e.note]);
}

const createdEvent = (input: NewTicket): NewTicketEvent => ({
  at: input.createdAt,
  type: 'created',
  actor: 'monitoring',
  from: null,
  to: input.status,
  note: null,
});

function newTicket(seq: number, input: NewTicket): Ticket {
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
