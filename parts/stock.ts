import { FaultlineError } from '../lib/errors.js';
import type { Part, PartsConfig, StockLocation } from './config.js';
import { supplierOf } from './forecast.js';
import type {
  FaultMapEntry,
  Movement,
  MovementFilter,
  Reservation,
  StockLevel,
  StockStore,
} from './store.js';

export type { Movement, MovementKind, Reservation, StockLevel } from './store.js';

/** Where a ticket's parts should come from first: the technicians' vans, the team's stock, stores near the site. */
export interface Nearby {
  site: string | null;
  technicians: readonly string[];
  team: string | null;
}

/**
 * The parts stock as the gateway uses it: the catalogue and locations of the configuration, which
 * location is nearest a ticket, low-stock notices; the counts, reservations and movements are kept by
 * a `StockStore` (atomic per change).
 */
export class PartsStock {
  private readonly parts: Map<string, Part>;
  private readonly locations: Map<string, StockLocation>;
  private readonly listeners: ((part: string) => void)[] = [];
  private readonly touched = new Set<string>();

  constructor(
    private readonly store: StockStore,
    readonly config: PartsConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.parts = new Map(config.catalogue.map((p) => [p.number, p]));
    this.locations = new Map(config.locations.map((l) => [l.id, l]));
  }

  /** Opening stock of the configuration: once per (part, location) that has no record yet. */
  start(): Promise<void> {
    return this.store.seed(this.config.stock, this.now());
  }

  /** Told (once per part, after the change) when a part's stock changed: low-stock alerts. */
  onChange(l: (part: string) => void): void {
    this.listeners.push(l);
  }

  private changed(parts: Iterable<string>): void {
    for (const p of parts) {
      if (this.touched.size === 0) queueMicrotask(() => this.flush());
      this.touched.add(p);
    }
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
  async flags(number: string): Promise<{ belowMinimum: boolean; belowReorderLevel: boolean }> {
    const p = this.parts.get(number);
    const a = (await this.total(number)).available;
    return {
      belowMinimum: p !== undefined && a < p.minimum,
      belowReorderLevel: p?.reorderLevel !== undefined && a <= p.reorderLevel,
    };
  }

  /** Whether the part is kept in stock (in the catalogue); other parts are recorded, not counted. */
  tracked(number: string): boolean {
    return this.parts.has(number);
  }

  levels(filter: { part?: string; location?: string } = {}): Promise<StockLevel[]> {
    return this.store.levels(filter);
  }

  /** Totals of a part over all locations. */
  total(part: string): Promise<{ onHand: number; reserved: number; available: number }> {
    return this.store.total(part);
  }

  /** Available stock of every catalogue part, over all locations. */
  async available(): Promise<Map<string, number>> {
    const m = new Map<string, number>();
    for (const l of await this.store.levels()) m.set(l.part, (m.get(l.part) ?? 0) + l.available);
    return m;
  }

  level(part: string, location: string): Promise<StockLevel> {
    return this.store.level(part, location);
  }

  private known(part: string, location: string): void {
    if (!this.parts.has(part))
      throw new FaultlineError('FL_ERR_PART_NOT_FOUND', `part "${part}" is not in the catalogue`);
    if (!this.locations.has(location))
      throw new FaultlineError('FL_ERR_API_VALIDATION', `unknown stock location "${location}"`);
  }

  /** Goods in (a delivery): on hand goes up. */
  async receive(
    part: string,
    location: string,
    quantity: number,
    actor: string,
    note: string | null,
  ): Promise<StockLevel> {
    this.known(part, location);
    const level = await this.store.receive(part, location, quantity, actor, note, this.now());
    this.changed([part]);
    return level;
  }

  /** A count corrected (stocktaking): on hand set; never below what is reserved. */
  async adjust(
    part: string,
    location: string,
    onHand: number,
    actor: string,
    note: string,
  ): Promise<StockLevel> {
    this.known(part, location);
    const level = await this.store.adjust(part, location, onHand, actor, note, this.now());
    this.changed([part]);
    return level;
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
  async reserve(
    ticketId: string,
    items: readonly { part: string; quantity: number; from?: string }[],
    near: Nearby,
    actor: string,
  ): Promise<Reservation[]> {
    const places = this.candidates(near);
    const wanted = items
      .filter((it) => this.tracked(it.part))
      .map((it) => {
        if (it.from) this.known(it.part, it.from);
        return { part: it.part, quantity: it.quantity, locations: it.from ? [it.from] : places };
      });
    if (wanted.length === 0) return [];
    const made = await this.store.reserve(ticketId, wanted, actor, this.now());
    this.changed(made.map((r) => r.part));
    return made;
  }

  /**
   * The parts a repair used: taken from the ticket's reservations first, then from the nearest
   * available stock; what stays reserved for the ticket is released. Untracked parts are skipped.
   */
  async use(
    ticketId: string,
    items: readonly { part: string; quantity: number }[],
    near: Nearby,
    actor: string,
  ): Promise<{
    used: { part: string; quantity: number; location: string }[];
    missing: { part: string; quantity: number }[];
  }> {
    const places = this.candidates(near);
    const wanted = items
      .filter((it) => this.tracked(it.part))
      .map((it) => ({ part: it.part, quantity: it.quantity, locations: places }));
    const r = await this.store.use(ticketId, wanted, actor, this.now());
    this.changed(r.used.map((u) => u.part));
    return r;
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
  async faultMap(): Promise<FaultMapEntry[]> {
    const stored = await this.store.faultMap();
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
  ): Promise<void> {
    return this.store.setFaultMap({ model, faultType, parts, by }, this.now());
  }

  /** Forgets an edited entry: the reports (or the configuration) decide again. */
  clearFaultMap(model: string, faultType: string): Promise<boolean> {
    return this.store.clearFaultMap(model, faultType);
  }

  /** Whether the ticket's repair has taken parts from stock already. */
  hasUsed(ticketId: string): Promise<boolean> {
    return this.store.hasUsed(ticketId);
  }

  /** Releases what a ticket still has reserved (cancelled, closed without using it); returns what was released. */
  async release(ticketId: string, actor: string, only?: readonly number[]): Promise<Reservation[]> {
    const back = await this.store.release(ticketId, actor, this.now(), only);
    this.changed(back.map((r) => r.part));
    return back;
  }

  reservations(ticketId?: string): Promise<Reservation[]> {
    return this.store.reservations(ticketId);
  }

  movements(filter: MovementFilter = {}, limit = 500): Promise<Movement[]> {
    return this.store.movements(filter, limit);
  }
}
