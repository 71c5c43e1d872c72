import type { Statement } from 'better-sqlite3';
import { FaultlineError } from '../lib/errors.js';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import type {
  FaultMapEntry,
  Movement,
  MovementFilter,
  MovementKind,
  PartRequest,
  Reservation,
  StockLevel,
  StockStore,
} from './store.js';

/**
 * Stock per (part, location): on hand and reserved, in state.db. The database keeps it sound:
 * `reserved <= on_hand` and neither below zero are CHECK constraints, and every change is one
 * immediate transaction that writes its movement, so concurrent requests never take a part twice.
 */
const MIGRATIONS = [
  {
    version: 1,
    description: 'stock, reservations and movements',
    up: `CREATE TABLE stock (
      part TEXT NOT NULL,
      location TEXT NOT NULL,
      on_hand REAL NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
      reserved REAL NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
      PRIMARY KEY (part, location)
    );
    CREATE TABLE reservations (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      ticket_id TEXT NOT NULL,
      part TEXT NOT NULL,
      location TEXT NOT NULL,
      quantity REAL NOT NULL CHECK (quantity > 0),
      state TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      closed_at INTEGER
    );
    CREATE INDEX reservations_ticket ON reservations (ticket_id, state);
    CREATE TABLE stock_movements (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      part TEXT NOT NULL,
      location TEXT NOT NULL,
      kind TEXT NOT NULL,
      quantity REAL NOT NULL,
      ticket_id TEXT,
      actor TEXT NOT NULL,
      note TEXT
    );
    CREATE INDEX stock_movements_part ON stock_movements (part, seq);
    CREATE INDEX stock_movements_ticket ON stock_movements (ticket_id);`,
  },
  {
    version: 2,
    description: 'fault → parts map entries edited through the API',
    up: `CREATE TABLE fault_map (
      model TEXT NOT NULL,
      fault_type TEXT NOT NULL,
      parts TEXT NOT NULL,
      updated_by TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (model, fault_type)
    );`,
  },
];

interface StockRow {
  part: string;
  location: string;
  on_hand: number;
  reserved: number;
}

const levelOf = (r: StockRow): StockLevel => ({
  part: r.part,
  location: r.location,
  onHand: r.on_hand,
  reserved: r.reserved,
  available: r.on_hand - r.reserved,
});

interface ReservationRow {
  id: number;
  ticket_id: string;
  part: string;
  location: string;
  quantity: number;
  state: Reservation['state'];
  created_at: number;
  closed_at: number | null;
}

const reservationOf = (r: ReservationRow): Reservation => ({
  id: r.id,
  ticketId: r.ticket_id,
  part: r.part,
  location: r.location,
  quantity: r.quantity,
  state: r.state,
  createdAt: r.created_at,
  closedAt: r.closed_at,
});

interface MovementRow {
  seq: number;
  at: number;
  part: string;
  location: string;
  kind: MovementKind;
  quantity: number;
  ticket_id: string | null;
  actor: string;
  note: string | null;
}

const movementOf = (r: MovementRow): Movement => ({
  seq: r.seq,
  at: r.at,
  part: r.part,
  location: r.location,
  kind: r.kind,
  quantity: r.quantity,
  ticketId: r.ticket_id,
  actor: r.actor,
  note: r.note,
});

type Used = { part: string; quantity: number; location: string };

/** Parts stock in SQLite (state.db): each change one immediate transaction. */
export class SqliteStockStore implements StockStore {
  private readonly sql: (text: string) => Statement;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'parts', MIGRATIONS);
    this.sql = statementCache(db);
  }

  private move(
    at: number,
    part: string,
    location: string,
    kind: MovementKind,
    quantity: number,
    ticketId: string | null,
    actor: string,
    note: string | null,
  ): void {
    this.sql(
      'INSERT INTO stock_movements (at, part, location, kind, quantity, ticket_id, actor, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(at, part, location, kind, quantity, ticketId, actor, note);
  }

  private levelNow(part: string, location: string): StockLevel {
    const r = this.sql('SELECT * FROM stock WHERE part = ? AND location = ?').get(part, location) as
      | StockRow
      | undefined;
    return r ? levelOf(r) : { part, location, onHand: 0, reserved: 0, available: 0 };
  }

  private levelsNow(filter: { part?: string; location?: string } = {}): StockLevel[] {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.part) {
      where.push('part = ?');
      params.push(filter.part);
    }
    if (filter.location) {
      where.push('location = ?');
      params.push(filter.location);
    }
    const rows = this.sql(
      `SELECT * FROM stock ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY part, location`,
    ).all(...params) as StockRow[];
    return rows.map(levelOf);
  }

  private reservationsNow(ticketId?: string): Reservation[] {
    const rows = ticketId
      ? this.sql('SELECT * FROM reservations WHERE ticket_id = ? ORDER BY id').all(ticketId)
      : this.sql(`SELECT * FROM reservations WHERE state = 'active' ORDER BY id`).all();
    return (rows as ReservationRow[]).map(reservationOf);
  }

  async seed(
    entries: readonly { part: string; location: string; quantity: number }[],
    at: number,
  ): Promise<void> {
    this.db
      .transaction(() => {
        for (const s of entries) {
          const made = this.sql(
            'INSERT INTO stock (part, location, on_hand) VALUES (?, ?, ?) ON CONFLICT (part, location) DO NOTHING',
          ).run(s.part, s.location, s.quantity);
          if (made.changes > 0)
            this.move(at, s.part, s.location, 'receipt', s.quantity, null, 'configuration', 'opening stock');
        }
      })
      .immediate();
  }

  async level(part: string, location: string): Promise<StockLevel> {
    return this.levelNow(part, location);
  }

  async levels(filter: { part?: string; location?: string } = {}): Promise<StockLevel[]> {
    return this.levelsNow(filter);
  }

  async total(part: string): Promise<{ onHand: number; reserved: number; available: number }> {
    const r = this.sql(
      'SELECT coalesce(sum(on_hand), 0) AS h, coalesce(sum(reserved), 0) AS r FROM stock WHERE part = ?',
    ).get(part) as { h: number; r: number };
    return { onHand: r.h, reserved: r.r, available: r.h - r.r };
  }

  async receive(
    part: string,
    location: string,
    quantity: number,
    actor: string,
    note: string | null,
    at: number,
  ): Promise<StockLevel> {
    return this.db
      .transaction(() => {
        this.sql(
          `INSERT INTO stock (part, location, on_hand) VALUES (?, ?, ?)
           ON CONFLICT (part, location) DO UPDATE SET on_hand = on_hand + excluded.on_hand`,
        ).run(part, location, quantity);
        this.move(at, part, location, 'receipt', quantity, null, actor, note);
        return this.levelNow(part, location);
      })
      .immediate();
  }

  async adjust(
    part: string,
    location: string,
    onHand: number,
    actor: string,
    note: string,
    at: number,
  ): Promise<StockLevel> {
    return this.db
      .transaction(() => {
        const before = this.levelNow(part, location);
        if (onHand < before.reserved)
          throw new FaultlineError(
            'FL_ERR_STOCK_SHORT',
            `${part} at ${location}: ${before.reserved} are reserved; on hand cannot be ${onHand}`,
          );
        this.sql(
          `INSERT INTO stock (part, location, on_hand) VALUES (?, ?, ?)
           ON CONFLICT (part, location) DO UPDATE SET on_hand = excluded.on_hand`,
        ).run(part, location, onHand);
        this.move(at, part, location, 'adjustment', onHand - before.onHand, null, actor, note);
        return this.levelNow(part, location);
      })
      .immediate();
  }

  async reserve(
    ticketId: string,
    items: readonly PartRequest[],
    actor: string,
    at: number,
  ): Promise<Reservation[]> {
    return this.db
      .transaction(() => {
        const made: Reservation[] = [];
        const short: string[] = [];
        for (const it of items) {
          const from = it.locations.find((l) => this.levelNow(it.part, l).available >= it.quantity);
          if (!from) {
            const where = this.levelsNow({ part: it.part })
              .filter((l) => l.available > 0)
              .map((l) => `${l.available} at ${l.location}`);
            short.push(
              `${it.quantity}× ${it.part} (${where.length ? `available: ${where.join(', ')}` : 'none available'})`,
            );
            continue;
          }
          this.sql('UPDATE stock SET reserved = reserved + ? WHERE part = ? AND location = ?').run(
            it.quantity,
            it.part,
            from,
          );
          const r = this.sql(
            `INSERT INTO reservations (ticket_id, part, location, quantity, state, created_at)
             VALUES (?, ?, ?, ?, 'active', ?) RETURNING *`,
          ).get(ticketId, it.part, from, it.quantity, at) as ReservationRow;
          this.move(at, it.part, from, 'reserve', it.quantity, ticketId, actor, null);
          made.push(reservationOf(r));
        }
        if (short.length)
          throw new FaultlineError(
            'FL_ERR_STOCK_SHORT',
            `not enough in stock for ticket ${ticketId}: ${short.join('; ')}`,
            {
              details: short,
            },
          );
        return made;
      })
      .immediate();
  }

  async use(
    ticketId: string,
    items: readonly PartRequest[],
    actor: string,
    at: number,
  ): Promise<{ used: Used[]; missing: { part: string; quantity: number }[] }> {
    return this.db
      .transaction(() => {
        const used: Used[] = [];
        const missing: { part: string; quantity: number }[] = [];
        const active = this.reservationsNow(ticketId).filter((r) => r.state === 'active');
        const consumed = new Map<number, number>();
        const take = (part: string, location: string, quantity: number, fromReserved: number) => {
          this.sql(
            'UPDATE stock SET on_hand = on_hand - ?, reserved = reserved - ? WHERE part = ? AND location = ?',
          ).run(quantity, fromReserved, part, location);
          this.move(at, part, location, 'use', -quantity, ticketId, actor, null);
          used.push({ part, quantity, location });
        };
        for (const it of items) {
          let left = it.quantity;
          for (const r of active.filter((x) => x.part === it.part)) {
            const n = Math.min(left, r.quantity - (consumed.get(r.id) ?? 0));
            if (n <= 0) continue;
            take(it.part, r.location, n, n);
            consumed.set(r.id, (consumed.get(r.id) ?? 0) + n);
            left -= n;
          }
          // Used more than was reserved: from the nearest stock that has it. What the records do not
          // have is reported (the count is off), never taken below zero.
          for (const l of it.locations) {
            if (left <= 0) break;
            const n = Math.min(left, this.levelNow(it.part, l).available);
            if (n <= 0) continue;
            take(it.part, l, n, 0);
            left -= n;
          }
          if (left > 0) missing.push({ part: it.part, quantity: left });
        }
        // What stays reserved for the ticket goes back to available.
        for (const r of active) this.close(r, consumed.get(r.id) ?? 0, actor, at);
        return { used, missing };
      })
      .immediate();
  }

  /** Closes a reservation of which `consumed` was used: the rest is released. */
  private close(r: Reservation, consumed: number, actor: string, at: number): void {
    const rest = r.quantity - consumed;
    if (rest > 0) {
      this.sql('UPDATE stock SET reserved = reserved - ? WHERE part = ? AND location = ?').run(
        rest,
        r.part,
        r.location,
      );
      this.move(at, r.part, r.location, 'release', -rest, r.ticketId, actor, null);
    }
    this.sql('UPDATE reservations SET state = ?, closed_at = ? WHERE id = ?').run(
      consumed > 0 ? 'used' : 'released',
      at,
      r.id,
    );
  }

  async release(
    ticketId: string,
    actor: string,
    at: number,
    only?: readonly number[],
  ): Promise<Reservation[]> {
    return this.db
      .transaction(() => {
        const open = this.reservationsNow(ticketId).filter(
          (r) => r.state === 'active' && (only === undefined || only.includes(r.id)),
        );
        for (const r of open) this.close(r, 0, actor, at);
        return open;
      })
      .immediate();
  }

  async reservations(ticketId?: string): Promise<Reservation[]> {
    return this.reservationsNow(ticketId);
  }

  async movements(filter: MovementFilter, limit: number): Promise<Movement[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    for (const [cond, v] of [
      ['part = ?', filter.part],
      ['location = ?', filter.location],
      ['ticket_id = ?', filter.ticketId],
      ['kind = ?', filter.kind],
      ['at >= ?', filter.from],
      ['at < ?', filter.to],
    ] as const)
      if (v !== undefined) {
        where.push(cond);
        params.push(v);
      }
    const rows = this.sql(
      `SELECT * FROM stock_movements ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`,
    ).all(...params, limit) as MovementRow[];
    return rows.map(movementOf);
  }

  async hasUsed(ticketId: string): Promise<boolean> {
    return (
      this.sql(`SELECT 1 FROM stock_movements WHERE ticket_id = ? AND kind = 'use' LIMIT 1`).get(ticketId) !==
      undefined
    );
  }

  async faultMap(): Promise<FaultMapEntry[]> {
    const rows = this.sql('SELECT * FROM fault_map ORDER BY model, fault_type').all() as {
      model: string;
      fault_type: string;
      parts: string;
      updated_by: string;
    }[];
    return rows.map((r) => ({
      model: r.model,
      faultType: r.fault_type,
      parts: JSON.parse(r.parts) as { part: string; quantity: number }[],
      by: r.updated_by,
    }));
  }

  async setFaultMap(e: FaultMapEntry, at: number): Promise<void> {
    this.sql(
      `INSERT INTO fault_map (model, fault_type, parts, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (model, fault_type) DO UPDATE SET parts = excluded.parts, updated_by = excluded.updated_by,
       updated_at = excluded.updated_at`,
    ).run(e.model, e.faultType, JSON.stringify(e.parts), e.by, at);
  }

  async clearFaultMap(model: string, faultType: string): Promise<boolean> {
    return (
      this.sql('DELETE FROM fault_map WHERE model = ? AND fault_type = ?').run(model, faultType).changes > 0
    );
  }
}
