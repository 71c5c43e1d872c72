/**
 * The parts folder's stored state behind an async interface (issue 19): SQLite today
 * (`sqlite-stock-store.ts`), PostgreSQL for several instances next; every implementation passes
 * `test/contracts/parts-store.ts`. The catalogue, the locations and which location is nearest are
 * the configuration's, kept by `PartsStock` (stock.ts); the store keeps the counts and their history.
 */

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

export interface MovementFilter {
  part?: string;
  location?: string;
  ticketId?: string;
  kind?: MovementKind;
  /** at in [from, to), ms. */
  from?: number;
  to?: number;
}

/** A fault → parts entry set through the API (it wins over the configuration's for its pair). */
export interface FaultMapEntry {
  model: string;
  faultType: string;
  parts: { part: string; quantity: number }[];
  by: string;
}

/** Parts wanted or used by a ticket, each with the locations to take it from, nearest first. */
export interface PartRequest {
  part: string;
  quantity: number;
  locations: readonly string[];
}

/**
 * Stock per (part, location), reservations per ticket, and every movement. Each change is atomic and
 * writes its movements: on hand and reserved never go below zero, reserved never above on hand, and
 * two concurrent requests never take the same part (with several instances too).
 */
export interface StockStore {
  /** Opening stock: for each (part, location) with no record yet, on hand = quantity and a receipt. */
  seed(entries: readonly { part: string; location: string; quantity: number }[], at: number): Promise<void>;
  /** The level of (part, location); zeros when it has no record. */
  level(part: string, location: string): Promise<StockLevel>;
  /** The recorded levels, by part then location. */
  levels(filter?: { part?: string; location?: string }): Promise<StockLevel[]>;
  /** Totals of a part over all locations. */
  total(part: string): Promise<{ onHand: number; reserved: number; available: number }>;
  /** Goods in: on hand rises by `quantity`; returns the new level. */
  receive(
    part: string,
    location: string,
    quantity: number,
    actor: string,
    note: string | null,
    at: number,
  ): Promise<StockLevel>;
  /** A count corrected: on hand set; FL_ERR_STOCK_SHORT (nothing changed) below what is reserved. */
  adjust(
    part: string,
    location: string,
    onHand: number,
    actor: string,
    note: string,
    at: number,
  ): Promise<StockLevel>;
  /**
   * Reserves all or nothing: each request from the first of its locations that has the quantity
   * available. When one cannot be met nothing is reserved and FL_ERR_STOCK_SHORT says, per part
   * short, what is available where (`details`: one line per part).
   */
  reserve(ticketId: string, items: readonly PartRequest[], actor: string, at: number): Promise<Reservation[]>;
  /**
   * The parts a repair used: from the ticket's active reservations first, then from its locations in
   * order, as far as available (never below zero: what is not there is `missing`); then closes every
   * active reservation of the ticket (`used` if any of it was used, else `released`), the rest
   * going back to available. One transaction.
   */
  use(
    ticketId: string,
    items: readonly PartRequest[],
    actor: string,
    at: number,
  ): Promise<{
    used: { part: string; quantity: number; location: string }[];
    missing: { part: string; quantity: number }[];
  }>;
  /** Releases the ticket's active reservations (or only those ids); returns those released. */
  release(ticketId: string, actor: string, at: number, only?: readonly number[]): Promise<Reservation[]>;
  /** A ticket's reservations in order made, or (no ticket) every active reservation. */
  reservations(ticketId?: string): Promise<Reservation[]>;
  /** Movements in order, oldest first, at most `limit`. */
  movements(filter: MovementFilter, limit: number): Promise<Movement[]>;
  /** Whether parts were used from stock for this ticket already. */
  hasUsed(ticketId: string): Promise<boolean>;
  /** The fault → parts entries set through the API, by model then fault type. */
  faultMap(): Promise<FaultMapEntry[]>;
  /** Sets (replacing) the entry of (model, faultType). */
  setFaultMap(entry: FaultMapEntry, at: number): Promise<void>;
  /** Removes the entry of (model, faultType); false when there was none. */
  clearFaultMap(model: string, faultType: string): Promise<boolean>;
}
