import { FaultlineError } from '../lib/errors.js';
import { migrate, type SqliteDatabase } from '../lib/sqlite.js';
import type { Part, PartsConfig, StockLocation } from './config.js';
import { supplierOf } from './forecast.js';

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

export interface StockLevel {
  part: string;
  location: string;
  onHand: number;
  reserved: number;
  available: number;
}

export interface Reservation {
  id: number;
  ticketId: string;
  part: string;
  location: string;
  quantity: number;
  state: 'active' | 'used' | 'released';
  createdAt: number;
  closedAt: number | null;
}

export type MovementKind = 'receipt' | 'adjustment' | 'reserve' | 'release' | 'use';

export interface Movement {
  seq: number;
  at: number;
  part: string;
  location: string;
  kind: MovementKind;
  /** Change of on hand (receipt, adjustment, use) or of reserved (reserve, release). */
  quantity: number;
  ticketId: string | null;
  actor: string;
  note: string | null;
}

/** Where a ticket's parts should come from first: the technicians' vans, the team's stock, stores near the site. */
export interface Nearby {
  site: string | null;
  technicians: readonly string[];
  team: string | null;
}

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

export class PartsStock {
  private readonly parts: Map<string, Part>;
  private readonly locations: Map<string, StockLocation>;
  private readonly listeners: ((part: string) => void)[] = [];
  private readonly touched = new Set<string>();

  constructor(
    private readonly db: SqliteDatabase,
    readonly config: PartsConfig,
    private readonly now: () => number = Date.now,
  ) {
    migrate(db, 'parts', MIGRATIONS);
    this.parts = new Map(config.catalogue.map((p) => [p.number, p]));
    this.locations = new Map(config.locations.map((l) => [l.id, l]));
    // Opening stock: once per (part, location) that has no record yet.
    this.db.transaction(() => {
      for (const s of config.stock) {
        const exists = this.db
          .prepare('SELECT 1 FROM stock WHERE part = ? AND location = ?')
          .get(s.part, s.location);
        if (exists) continue;
        this.db
          .prepare('INSERT INTO stock (part, location, on_hand) VALUES (?, ?, ?)')
          .run(s.part, s.location, s.quantity);
        this.move(s.part, s.location, 'receipt', s.quantity, null, 'configuration', 'opening stock');
      }
    })();
  }

  /** Told (once per part, after the change) when a part's stock changed: low-stock alerts. */
  onChange(l: (part: string) => void): void {
    this.listeners.push(l);
  }

  private flush(): void {
    const parts = [...this.touched];
    this.touched.clear();
    for (const p of parts)
      for (const l of this.listeners) {
        try {
          l(p);
        } catch {
          // a listener's failure is its own
        }
      }
  }

  part(number: string): Part | undefined {
    return this.parts.get(number);
  }

  location(id: string): StockLocation | undefined {
    return this.locations.get(id);
  }

  /** Whether a part's available stock (all locations) is below its minimum, or at its reorder level. */
  flags(number: string): { belowMinimum: boolean; belowReorderLevel: boolean } {
    const p = this.parts.get(number);
    const a = this.total(number).available;
    return {
      belowMinimum: p !== undefined && a < p.minimum,
      belowReorderLevel: p?.reorderLevel !== undefined && a <= p.reorderLevel,
    };
  }

  /** Whether the part is kept in stock (in the catalogue); other parts are recorded, not counted. */
  tracked(number: string): boolean {
    return this.parts.has(number);
  }

  levels(filter: { part?: string; location?: string } = {}): StockLevel[] {
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
    return (
      this.db
        .prepare(
          `SELECT * FROM stock ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY part, location`,
        )
        .all(...params) as StockRow[]
    ).map(levelOf);
  }

  /** Totals of a part over all locations. */
  total(part: string): { onHand: number; reserved: number; available: number } {
    const r = this.db
      .prepare(
        'SELECT coalesce(sum(on_hand), 0) AS h, coalesce(sum(reserved), 0) AS r FROM stock WHERE part = ?',
      )
      .get(part) as { h: number; r: number };
    return { onHand: r.h, reserved: r.r, available: r.h - r.r };
  }

  private known(part: string, location: string): void {
    if (!this.parts.has(part))
      throw new FaultlineError('FL_ERR_PART_NOT_FOUND', `part "${part}" is not in the catalogue`);
    if (!this.locations.has(location))
      throw new FaultlineError('FL_ERR_API_VALIDATION', `unknown stock location "${location}"`);
  }

  private move(
    part: string,
    location: string,
    kind: MovementKind,
    quantity: number,
    ticketId: string | null,
    actor: string,
    note: string | null,
  ): void {
    this.db
      .prepare(
        'INSERT INTO stock_movements (at, part, location, kind, quantity, ticket_id, actor, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(this.now(), part, location, kind, quantity, ticketId, actor, note);
    if (this.touched.size === 0) queueMicrotask(() => this.flush());
    this.touched.add(part);
  }

  /** Goods in (a delivery): on hand goes up. */
  receive(part: string, location: string, quantity: number, actor: string, note: string | null): StockLevel {
    this.known(part, location);
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO stock (part, location, on_hand) VALUES (?, ?, ?)
             ON CONFLICT (part, location) DO UPDATE SET on_hand = on_hand + excluded.on_hand`,
          )
          .run(part, location, quantity);
        this.move(part, location, 'receipt', quantity, null, actor, note);
        return this.level(part, location);
      })
      .immediate();
  }

  /** A count corrected (stocktaking): on hand set; never below what is reserved. */
  adjust(part: string, location: string, onHand: number, actor: string, note: string): StockLevel {
    this.known(part, location);
    return this.db
      .transaction(() => {
        const before = this.level(part, location);
        if (onHand < before.reserved)
          throw new FaultlineError(
            'FL_ERR_STOCK_SHORT',
            `${part} at ${location}: ${before.reserved} are reserved; on hand cannot be ${onHand}`,
          );
        this.db
          .prepare(
            `INSERT INTO stock (part, location, on_hand) VALUES (?, ?, ?)
             ON CONFLICT (part, location) DO UPDATE SET on_hand = excluded.on_hand`,
          )
          .run(part, location, onHand);
        this.move(part, location, 'adjustment', onHand - before.onHand, null, actor, note);
        return this.level(part, location);
      })
      .immediate();
  }

  level(part: string, location: string): StockLevel {
    const r = this.db.prepare('SELECT * FROM stock WHERE part = ? AND location = ?').get(part, location) as
      | StockRow
      | undefined;
    return r ? levelOf(r) : { part, location, onHand: 0, reserved: 0, available: 0 };
  }

  /** Locations to take a ticket's parts from, nearest first. */
  candidates(near: Nearby): string[] {
    const order: string[] = [];
    const add = (l: StockLocation) => {
      if (!order.includes(l.id)) order.push(l.id);
    };
    const all = [...this.locations.values()];
    for (const l of all)
      if (l.kind === 'van' && l.technician && near.technicians.includes(l.technician)) add(l);
    for (const l of all) if (l.kind === 'partner' && l.team !== undefined && l.team === near.team) add(l);
    for (const l of all) if (near.site !== null && l.sites.includes(near.site)) add(l);
    for (const l of all) if (l.kind === 'store') add(l);
    return order;
  }

  /**
   * Reserves a ticket's parts, all or nothing: each from `from` when given, else from the nearest
   * location that has enough available. Parts not in the catalogue are not reserved (not stocked).
   */
  reserve(
    ticketId: string,
    items: readonly { part: string; quantity: number; from?: string }[],
    near: Nearby,
    actor: string,
  ): Reservation[] {
    return this.db
      .transaction(() => {
        const made: Reservation[] = [];
        const short: string[] = [];
        for (const it of items) {
          if (!this.tracked(it.part)) continue;
          const places = it.from ? [it.from] : this.candidates(near);
          if (it.from) this.known(it.part, it.from);
          const at = places.find((l) => this.level(it.part, l).available >= it.quantity);
          if (!at) {
            const where = this.levels({ part: it.part })
              .filter((l) => l.available > 0)
              .map((l) => `${l.available} at ${l.location}`);
            short.push(
              `${it.quantity}× ${it.part} (${where.length ? `available: ${where.join(', ')}` : 'none available'})`,
            );
            continue;
          }
          this.db
            .prepare('UPDATE stock SET reserved = reserved + ? WHERE part = ? AND location = ?')
            .run(it.quantity, it.part, at);
          const r = this.db
            .prepare(
              `INSERT INTO reservations (ticket_id, part, location, quantity, state, created_at) VALUES (?, ?, ?, ?, 'active', ?) RETURNING *`,
            )
            .get(ticketId, it.part, at, it.quantity, this.now()) as ReservationRow;
          this.move(it.part, at, 'reserve', it.quantity, ticketId, actor, null);
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

  /**
   * The parts a repair used: taken from the ticket's reservations first, then from the nearest
   * available stock; what stays reserved for the ticket is released. Untracked parts are skipped.
   */
  use(
    ticketId: string,
    items: readonly { part: string; quantity: number }[],
    near: Nearby,
    actor: string,
  ): {
    used: { part: string; quantity: number; location: string }[];
    missing: { part: string; quantity: number }[];
  } {
    return this.db
      .transaction(() => {
        const used: { part: string; quantity: number; location: string }[] = [];
        const missing: { part: string; quantity: number }[] = [];
        const active = this.reservations(ticketId).filter((r) => r.state === 'active');
        const consumed = new Map<number, number>();
        const takeFrom = (part: string, location: string, quantity: number, fromReserved: number) => {
          this.take(part, location, quantity, fromReserved, ticketId, actor);
          used.push({ part, quantity, location });
        };
        for (const it of items) {
          if (!this.tracked(it.part)) continue;
          let left = it.quantity;
          for (const r of active.filter((x) => x.part === it.part)) {
            const take = Math.min(left, r.quantity - (consumed.get(r.id) ?? 0));
            if (take <= 0) continue;
            takeFrom(it.part, r.location, take, take);
            consumed.set(r.id, (consumed.get(r.id) ?? 0) + take);
            left -= take;
          }
          // Used more than was reserved: from the nearest stock that has it. What the records do not
          // have is reported (the count is off), never taken below zero.
          for (const l of this.candidates(near)) {
            if (left <= 0) break;
            const take = Math.min(left, this.level(it.part, l).available);
            if (take <= 0) continue;
            takeFrom(it.part, l, take, 0);
            left -= take;
          }
          if (left > 0) missing.push({ part: it.part, quantity: left });
        }
        // What stays reserved for the ticket goes back to available.
        for (const r of active) this.close(r, consumed.get(r.id) ?? 0, ticketId, actor);
        return { used, missing };
      })
      .immediate();
  }

  /** When an order placed at `from` would arrive: the preferred supplier's lead time, else the fastest. */
  expectedArrival(part: string, from: number): number | null {
    const p = this.parts.get(part);
    const s = p ? supplierOf(p) : undefined;
    return s ? from + s.leadTime : null;
  }

  /**
   * The fault → parts map as edited: the configured entries, and those set through the API (which
   * win for the same model and fault type).
   */
  faultMap(): {
    model: string;
    faultType: string;
    parts: { part: string; quantity: number }[];
    by: string;
  }[] {
    const stored = (
      this.db.prepare('SELECT * FROM fault_map ORDER BY model, fault_type').all() as {
        model: string;
        fault_type: string;
        parts: string;
        updated_by: string;
      }[]
    ).map((r) => ({
      model: r.model,
      faultType: r.fault_type,
      parts: JSON.parse(r.parts) as { part: string; quantity: number }[],
      by: r.updated_by,
    }));
    const configured = this.config.faultMap
      .filter((c) => !stored.some((s) => s.model === c.model && s.faultType === c.faultType))
      .map((c) => ({ ...c, parts: [...c.parts], by: 'configuration' }));
    return [...configured, ...stored];
  }

  setFaultMap(
    model: string,
    faultType: string,
    parts: { part: string; quantity: number }[],
    by: string,
  ): void {
    this.db
      .prepare(
        `INSERT INTO fault_map (model, fault_type, parts, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (model, fault_type) DO UPDATE SET parts = excluded.parts, updated_by = excluded.updated_by,
         updated_at = excluded.updated_at`,
      )
      .run(model, faultType, JSON.stringify(parts), by, this.now());
  }

  /** Forgets an edited entry: the reports (or the configuration) decide again. */
  clearFaultMap(model: string, faultType: string): boolean {
    return (
      this.db.prepare('DELETE FROM fault_map WHERE model = ? AND fault_type = ?').run(model, faultType)
        .changes > 0
    );
  }

  /** Whether the ticket's repair has taken parts from stock already. */
  hasUsed(ticketId: string): boolean {
    return (
      this.db
        .prepare(`SELECT 1 FROM stock_movements WHERE ticket_id = ? AND kind = 'use' LIMIT 1`)
        .get(ticketId) !== undefined
    );
  }

  private take(
    part: string,
    location: string,
    quantity: number,
    fromReserved: number,
    ticketId: string,
    actor: string,
  ) {
    this.db
      .prepare(
        'UPDATE stock SET on_hand = on_hand - ?, reserved = reserved - ? WHERE part = ? AND location = ?',
      )
      .run(quantity, fromReserved, part, location);
    this.move(part, location, 'use', -quantity, ticketId, actor, null);
  }

  /** Closes a reservation of which `consumed` was used: the rest is released. */
  private close(r: Reservation, consumed: number, ticketId: string, actor: string): void {
    const rest = r.quantity - consumed;
    if (rest > 0) {
      this.db
        .prepare('UPDATE stock SET reserved = reserved - ? WHERE part = ? AND location = ?')
        .run(rest, r.part, r.location);
      this.move(r.part, r.location, 'release', -rest, ticketId, actor, null);
    }
    this.db
      .prepare('UPDATE reservations SET state = ?, closed_at = ? WHERE id = ?')
      .run(consumed > 0 ? 'used' : 'released', this.now(), r.id);
  }

  /** Releases what a ticket still has reserved (cancelled, closed without using it); returns what was released. */
  release(ticketId: string, actor: string, only?: readonly number[]): Reservation[] {
    return this.db
      .transaction(() => {
        const open = this.reservations(ticketId).filter(
          (r) => r.state === 'active' && (only === undefined || only.includes(r.id)),
        );
        for (const r of open) this.close(r, 0, ticketId, actor);
        return open;
      })
      .immediate();
  }

  reservations(ticketId?: string): Reservation[] {
    const rows = ticketId
      ? this.db.prepare('SELECT * FROM reservations WHERE ticket_id = ? ORDER BY id').all(ticketId)
      : this.db.prepare(`SELECT * FROM reservations WHERE state = 'active' ORDER BY id`).all();
    return (rows as ReservationRow[]).map(reservationOf);
  }

  movements(
    filter: {
      part?: string;
      location?: string;
      ticketId?: string;
      kind?: MovementKind;
      from?: number;
      to?: number;
    } = {},
    limit = 500,
  ): Movement[] {
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
    return this.movementRows(where.length ? `WHERE ${where.join(' AND ')}` : '', params, limit);
  }

  private movementRows(where: string, params: (string | number)[], limit: number): Movement[] {
    const rows = this.db
      .prepare(`SELECT * FROM stock_movements ${where} ORDER BY seq LIMIT ?`)
      .all(...params, limit) as {
      seq: number;
      at: number;
      part: string;
      location: string;
      kind: MovementKind;
      quantity: number;
      ticket_id: string | null;
      actor: string;
      note: string | null;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      at: r.at,
      part: r.part,
      location: r.location,
      kind: r.kind,
      quantity: r.quantity,
      ticketId: r.ticket_id,
      actor: r.actor,
      note: r.note,
    }));
  }
}
