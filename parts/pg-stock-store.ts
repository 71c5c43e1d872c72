import { FaultlineError } from '../lib/errors.js';
import { inTransaction, migratePg, type PgClient, type PgPool } from '../lib/pg.js';
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

const MIGRATIONS = [
  {
    version: 1,
    description: 'stock, reservations, movements and the edited fault → parts map',
    up: `CREATE TABLE stock (
      part TEXT NOT NULL,
      location TEXT NOT NULL,
      on_hand DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
      reserved DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
      PRIMARY KEY (part, location)
    );
    CREATE TABLE reservations (
      id BIGSERIAL PRIMARY KEY,
      ticket_id TEXT NOT NULL,
      part TEXT NOT NULL,
      location TEXT NOT NULL,
      quantity DOUBLE PRECISION NOT NULL CHECK (quantity > 0),
      state TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      closed_at BIGINT
    );
    CREATE INDEX reservations_ticket ON reservations (ticket_id, state);
    CREATE TABLE stock_movements (
      seq BIGSERIAL PRIMARY KEY,
      at BIGINT NOT NULL,
      part TEXT NOT NULL,
      location TEXT NOT NULL,
      kind TEXT NOT NULL,
      quantity DOUBLE PRECISION NOT NULL,
      ticket_id TEXT,
      actor TEXT NOT NULL,
      note TEXT
    );
    CREATE INDEX stock_movements_part ON stock_movements (part, seq);
    CREATE INDEX stock_movements_ticket ON stock_movements (ticket_id);
    CREATE TABLE fault_map (
      model TEXT NOT NULL,
      fault_type TEXT NOT NULL,
      parts JSONB NOT NULL,
      updated_by TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (model, fault_type)
    );`,
  },
];

type Q = Pick<PgClient, 'query'>;
type Used = { part: string; quantity: number; location: string };

const levelOf = (r: { part: string; location: string; on_hand: number; reserved: number }): StockLevel => ({
  part: r.part,
  location: r.location,
  onHand: r.on_hand,
  reserved: r.reserved,
  available: r.on_hand - r.reserved,
});

interface ReservationRow {
  id: string;
  ticket_id: string;
  part: string;
  location: string;
  quantity: number;
  state: Reservation['state'];
  created_at: string;
  closed_at: string | null;
}

const reservationOf = (r: ReservationRow): Reservation => ({
  id: Number(r.id),
  ticketId: r.ticket_id,
  part: r.part,
  location: r.location,
  quantity: r.quantity,
  state: r.state,
  createdAt: Number(r.created_at),
  closedAt: r.closed_at === null ? null : Number(r.closed_at),
});

/**
 * Parts stock in PostgreSQL (issue 20). Every change is one transaction that first locks the stock
 * rows of the parts it touches (`FOR UPDATE`, in part order so that two never wait on each other):
 * instances reserving the same part at once queue on the lock; the CHECK constraints keep the counts
 * sound whatever happens.
 */
export class PgStockStore implements StockStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgStockStore> {
    await migratePg(pool, 'parts', MIGRATIONS);
    return new PgStockStore(pool);
  }

  private async move(
    c: Q,
    at: number,
    m: { part: string; location: string; kind: MovementKind; quantity: number; ticketId: string | null },
    actor: string,
    note: string | null,
  ): Promise<void> {
    await c.query(
      'INSERT INTO stock_movements (at, part, location, kind, quantity, ticket_id, actor, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [at, m.part, m.location, m.kind, m.quantity, m.ticketId, actor, note],
    );
  }

  private async levelIn(c: Q, part: string, location: string): Promise<StockLevel> {
    const { rows } = await c.query('SELECT * FROM stock WHERE part = $1 AND location = $2', [part, location]);
    return rows[0] ? levelOf(rows[0]) : { part, location, onHand: 0, reserved: 0, available: 0 };
  }

  /** Locks the stock rows of these parts for the rest of the transaction. */
  private async lock(c: Q, parts: readonly string[]): Promise<void> {
    const sorted = [...new Set(parts)].sort();
    if (sorted.length)
      await c.query('SELECT 1 FROM stock WHERE part = ANY($1::text[]) ORDER BY part, location FOR UPDATE', [
        sorted,
      ]);
  }

  async seed(
    entries: readonly { part: string; location: string; quantity: number }[],
    at: number,
  ): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      for (const s of entries) {
        const made = await c.query(
          'INSERT INTO stock (part, location, on_hand) VALUES ($1, $2, $3) ON CONFLICT (part, location) DO NOTHING',
          [s.part, s.location, s.quantity],
        );
        if (made.rowCount)
          await this.move(c, at, { ...s, kind: 'receipt', ticketId: null }, 'configuration', 'opening stock');
      }
    });
  }

  level(part: string, location: string): Promise<StockLevel> {
    return this.levelIn(this.pool, part, location);
  }

  async levels(filter: { part?: string; location?: string } = {}): Promise<StockLevel[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM stock WHERE ($1::text IS NULL OR part = $1) AND ($2::text IS NULL OR location = $2)
       ORDER BY part, location`,
      [filter.part ?? null, filter.location ?? null],
    );
    return rows.map(levelOf);
  }

  async total(part: string): Promise<{ onHand: number; reserved: number; available: number }> {
    const { rows } = await this.pool.query(
      'SELECT coalesce(sum(on_hand), 0) AS h, coalesce(sum(reserved), 0) AS r FROM stock WHERE part = $1',
      [part],
    );
    const h = Number(rows[0]?.h ?? 0);
    const r = Number(rows[0]?.r ?? 0);
    return { onHand: h, reserved: r, available: h - r };
  }

  receive(part: string, location: string, quantity: number, actor: string, note: string | null, at: number) {
    return inTransaction(this.pool, async (c) => {
      await c.query(
        `INSERT INTO stock (part, location, on_hand) VALUES ($1, $2, $3)
         ON CONFLICT (part, location) DO UPDATE SET on_hand = stock.on_hand + excluded.on_hand`,
        [part, location, quantity],
      );
      await this.move(c, at, { part, location, kind: 'receipt', quantity, ticketId: null }, actor, note);
      return this.levelIn(c, part, location);
    });
  }

  adjust(part: string, location: string, onHand: number, actor: string, note: string, at: number) {
    return inTransaction(this.pool, async (c) => {
      await this.lock(c, [part]);
      const before = await this.levelIn(c, part, location);
      if (onHand < before.reserved)
        throw new FaultlineError(
          'FL_ERR_STOCK_SHORT',
          `${part} at ${location}: ${before.reserved} are reserved; on hand cannot be ${onHand}`,
        );
      await c.query(
        `INSERT INTO stock (part, location, on_hand) VALUES ($1, $2, $3)
         ON CONFLICT (part, location) DO UPDATE SET on_hand = excluded.on_hand`,
        [part, location, onHand],
      );
      const delta = onHand - before.onHand;
      await this.move(
        c,
        at,
        { part, location, kind: 'adjustment', quantity: delta, ticketId: null },
        actor,
        note,
      );
      return this.levelIn(c, part, location);
    });
  }

  reserve(
    ticketId: string,
    items: readonly PartRequest[],
    actor: string,
    at: number,
  ): Promise<Reservation[]> {
    return inTransaction(this.pool, async (c) => {
      await this.lock(
        c,
        items.map((i) => i.part),
      );
      const made: Reservation[] = [];
      const short: string[] = [];
      for (const it of items) {
        let from: string | undefined;
        for (const l of it.locations)
          if ((await this.levelIn(c, it.part, l)).available >= it.quantity) {
            from = l;
            break;
          }
        if (!from) {
          const { rows } = await c.query(
            'SELECT * FROM stock WHERE part = $1 AND on_hand - reserved > 0 ORDER BY location',
            [it.part],
          );
          const where = rows.map(levelOf).map((l) => `${l.available} at ${l.location}`);
          short.push(
            `${it.quantity}× ${it.part} (${where.length ? `available: ${where.join(', ')}` : 'none available'})`,
          );
          continue;
        }
        await c.query('UPDATE stock SET reserved = reserved + $1 WHERE part = $2 AND location = $3', [
          it.quantity,
          it.part,
          from,
        ]);
        const { rows } = await c.query<ReservationRow>(
          `INSERT INTO reservations (ticket_id, part, location, quantity, state, created_at)
           VALUES ($1, $2, $3, $4, 'active', $5) RETURNING *`,
          [ticketId, it.part, from, it.quantity, at],
        );
        const kind = 'reserve';
        await this.move(
          c,
          at,
          { part: it.part, location: from, kind, quantity: it.quantity, ticketId },
          actor,
          null,
        );
        made.push(reservationOf(rows[0] as ReservationRow));
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
    });
  }

  use(ticketId: string, items: readonly PartRequest[], actor: string, at: number) {
    return inTransaction(this.pool, async (c) => {
      const active = (await this.reservationsIn(c, ticketId)).filter((r) => r.state === 'active');
      await this.lock(c, [...items.map((i) => i.part), ...active.map((r) => r.part)]);
      const used: Used[] = [];
      const missing: { part: string; quantity: number }[] = [];
      const consumed = new Map<number, number>();
      const take = async (part: string, location: string, quantity: number, fromReserved: number) => {
        await c.query(
          'UPDATE stock SET on_hand = on_hand - $1, reserved = reserved - $2 WHERE part = $3 AND location = $4',
          [quantity, fromReserved, part, location],
        );
        await this.move(c, at, { part, location, kind: 'use', quantity: -quantity, ticketId }, actor, null);
        used.push({ part, quantity, location });
      };
      for (const it of items) {
        let left = it.quantity;
        for (const r of active.filter((x) => x.part === it.part)) {
          const n = Math.min(left, r.quantity - (consumed.get(r.id) ?? 0));
          if (n <= 0) continue;
          await take(it.part, r.location, n, n);
          consumed.set(r.id, (consumed.get(r.id) ?? 0) + n);
          left -= n;
        }
        for (const l of it.locations) {
          if (left <= 0) break;
          const n = Math.min(left, (await this.levelIn(c, it.part, l)).available);
          if (n <= 0) continue;
          await take(it.part, l, n, 0);
          left -= n;
        }
        if (left > 0) missing.push({ part: it.part, quantity: left });
      }
      for (const r of active) await this.close(c, r, consumed.get(r.id) ?? 0, actor, at);
      return { used, missing };
    });
  }

  /** Closes a reservation of which `consumed` was used: the rest is released. */
  private async close(c: Q, r: Reservation, consumed: number, actor: string, at: number): Promise<void> {
    const rest = r.quantity - consumed;
    if (rest > 0) {
      await c.query('UPDATE stock SET reserved = reserved - $1 WHERE part = $2 AND location = $3', [
        rest,
        r.part,
        r.location,
      ]);
      const m = {
        part: r.part,
        location: r.location,
        kind: 'release' as const,
        quantity: -rest,
        ticketId: r.ticketId,
      };
      await this.move(c, at, m, actor, null);
    }
    await c.query('UPDATE reservations SET state = $1, closed_at = $2 WHERE id = $3', [
      consumed > 0 ? 'used' : 'released',
      at,
      r.id,
    ]);
  }

  release(ticketId: string, actor: string, at: number, only?: readonly number[]): Promise<Reservation[]> {
    return inTransaction(this.pool, async (c) => {
      const open = (await this.reservationsIn(c, ticketId, true)).filter(
        (r) => r.state === 'active' && (only === undefined || only.includes(r.id)),
      );
      await this.lock(
        c,
        open.map((r) => r.part),
      );
      for (const r of open) await this.close(c, r, 0, actor, at);
      return open;
    });
  }

  private async reservationsIn(c: Q, ticketId?: string, forUpdate = false): Promise<Reservation[]> {
    const lock = forUpdate ? ' FOR UPDATE' : '';
    const { rows } = ticketId
      ? await c.query<ReservationRow>(`SELECT * FROM reservations WHERE ticket_id = $1 ORDER BY id${lock}`, [
          ticketId,
        ])
      : await c.query<ReservationRow>(`SELECT * FROM reservations WHERE state = 'active' ORDER BY id${lock}`);
    return rows.map(reservationOf);
  }

  reservations(ticketId?: string): Promise<Reservation[]> {
    return this.reservationsIn(this.pool, ticketId);
  }

  async movements(f: MovementFilter, limit: number): Promise<Movement[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM stock_movements WHERE ($1::text IS NULL OR part = $1) AND ($2::text IS NULL OR location = $2)
         AND ($3::text IS NULL OR ticket_id = $3) AND ($4::text IS NULL OR kind = $4)
         AND ($5::bigint IS NULL OR at >= $5) AND ($6::bigint IS NULL OR at < $6)
       ORDER BY seq LIMIT $7`,
      [
        f.part ?? null,
        f.location ?? null,
        f.ticketId ?? null,
        f.kind ?? null,
        f.from ?? null,
        f.to ?? null,
        limit,
      ],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: Number(r.at),
      part: r.part,
      location: r.location,
      kind: r.kind,
      quantity: r.quantity,
      ticketId: r.ticket_id,
      actor: r.actor,
      note: r.note,
    }));
  }

  async hasUsed(ticketId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `SELECT 1 FROM stock_movements WHERE ticket_id = $1 AND kind = 'use' LIMIT 1`,
      [ticketId],
    );
    return (rowCount ?? 0) > 0;
  }

  async faultMap(): Promise<FaultMapEntry[]> {
    const { rows } = await this.pool.query('SELECT * FROM fault_map ORDER BY model, fault_type');
    return rows.map((r) => ({ model: r.model, faultType: r.fault_type, parts: r.parts, by: r.updated_by }));
  }

  async setFaultMap(e: FaultMapEntry, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO fault_map (model, fault_type, parts, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (model, fault_type) DO UPDATE SET parts = excluded.parts, updated_by = excluded.updated_by,
       updated_at = excluded.updated_at`,
      [e.model, e.faultType, JSON.stringify(e.parts), e.by, at],
    );
  }

  async clearFaultMap(model: string, faultType: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM fault_map WHERE model = $1 AND fault_type = $2', [
      model,
      faultType,
    ]);
    return (r.rowCount ?? 0) > 0;
  }
}
