import {
  type FaultParts,
  faultParts,
  forecast,
  type History,
  type PartForecast,
  type ReorderSuggestion,
  reorder,
} from './forecast.js';
import type { Nearby, PartsStock } from './stock.js';

/** A likely part for a fault, with where it is available (nearest first). */
export interface Suggestion {
  part: string;
  name: string | null;
  share: number;
  meanQuantity: number;
  source: 'reports' | 'configured';
  /** Kept in stock (in the catalogue); other parts are consumables bought as needed. */
  stocked: boolean;
  available: { location: string; quantity: number }[];
}

/**
 * Forecasts, reorder suggestions and likely parts, from the ticket history (fault rates, repair
 * reports) and the installed base. The history is read at most once a minute.
 */
export class PartsPlanner {
  private cached: { at: number; history: History } | undefined;

  constructor(
    private readonly o: {
      stock: PartsStock;
      /** Tickets and devices over the learning window ending now. */
      history: (from: number, to: number) => Promise<Omit<History, 'overrides'>>;
      /** Devices installed now, per model. */
      installed: () => ReadonlyMap<string, number>;
      now?: () => number;
    },
  ) {}

  private get now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** A repair was reported: the next question reads the history again. */
  invalidate(): void {
    this.cached = undefined;
  }

  async history(): Promise<History> {
    const now = this.now;
    if (this.cached && now - this.cached.at < 60_000) return this.cached.history;
    // The window [from, to) takes in this millisecond: a ticket being filed now counts.
    const h = await this.o.history(now - this.o.stock.config.history, now + 1);
    const history: History = { ...h, overrides: await this.o.stock.faultMap() };
    this.cached = { at: now, history };
    return history;
  }

  async faultMap(): Promise<FaultParts[]> {
    return faultParts(await this.history());
  }

  async forecast(horizonMs: number): Promise<PartForecast[]> {
    return forecast(await this.history(), this.o.installed(), horizonMs);
  }

  async reorder(): Promise<ReorderSuggestion[]> {
    const h = await this.history();
    const installed = this.o.installed();
    const stock = this.o.stock;
    const available = await stock.available();
    return reorder(
      stock.config.catalogue,
      (part) => available.get(part) ?? 0,
      (part, ms) => forecast(h, installed, ms).find((f) => f.part === part)?.quantity ?? 0,
      this.now,
    );
  }

  /** The parts a fault of this model usually takes, with their availability near the ticket. */
  async suggest(model: string | null, faultType: string, near: Nearby): Promise<Suggestion[]> {
    if (model === null) return [];
    const entry = (await this.faultMap()).find((f) => f.model === model && f.faultType === faultType);
    if (!entry) return [];
    const places = this.o.stock.candidates(near);
    const levels = new Map<string, number>();
    for (const p of entry.parts)
      for (const l of places) levels.set(`${p.part}@${l}`, (await this.o.stock.level(p.part, l)).available);
    return entry.parts.map((p) => ({
      part: p.part,
      name: this.o.stock.part(p.part)?.name ?? null,
      share: p.share,
      meanQuantity: p.meanQuantity,
      source: p.source,
      stocked: this.o.stock.tracked(p.part),
      available: places
        .map((l) => ({ location: l, quantity: levels.get(`${p.part}@${l}`) ?? 0 }))
        .filter((x) => x.quantity > 0),
    }));
  }
}
