import type { Part } from './config.js';

/**
 * Which parts the faults will need (R4.2), from what Faultline knows: how often each fault type
 * happens per model (tickets per device-month over a history window), how many devices of each
 * model are installed now, and what each repair of that fault consumed (repair reports; or the
 * configured fault → parts map where it says otherwise). Pure, so a fixture checks it by hand.
 *
 * forecast(part, horizon) = Σ over (model, fault type):
 *   tickets / device-months in the window × devices installed now × horizon in months
 *   × mean quantity of the part per repair of that fault
 * A month is 365.25/12 days.
 */
export const MONTH_MS = (365.25 / 12) * 86_400_000;

export interface HistoryTicket {
  model: string | null;
  faultType: string;
  reportedAt: number;
  /** The repair report's parts; null when the ticket has no report (yet). */
  partsUsed: readonly { part: string; quantity: number }[] | null;
}

export interface InstalledDevice {
  model: string | null;
  /** Since when it is installed (first seen); null: before any window. */
  since: number | null;
}

/** What the repairs of one fault on one model used: per part, how often and how much. */
export interface FaultParts {
  model: string;
  faultType: string;
  /** Tickets in the window (all, for the rate). */
  tickets: number;
  /** Tickets with a repair report (the base of the means). */
  repairs: number;
  /** Tickets per device-month. */
  rate: number;
  parts: { part: string; share: number; meanQuantity: number; source: 'reports' | 'configured' }[];
}

export interface Override {
  model: string;
  faultType: string;
  parts: readonly { part: string; quantity: number }[];
}

export interface History {
  from: number;
  to: number;
  tickets: readonly HistoryTicket[];
  devices: readonly InstalledDevice[];
  /** The configured fault → parts map: replaces what the reports say for that (model, fault type). */
  overrides?: readonly Override[];
}

/** Device-months of each model within [from, to). */
export function deviceMonths(h: History): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of h.devices) {
    if (d.model === null) continue;
    const start = Math.max(h.from, d.since ?? h.from);
    const months = Math.max(0, h.to - start) / MONTH_MS;
    out.set(d.model, (out.get(d.model) ?? 0) + months);
  }
  return out;
}

/** The fault → parts map learnt from the repair reports of the window (and the configured overrides). */
export function faultParts(h: History): FaultParts[] {
  const months = deviceMonths(h);
  const groups = new Map<
    string,
    { model: string; faultType: string; tickets: number; reports: HistoryTicket[] }
  >();
  for (const t of h.tickets) {
    if (t.model === null || t.reportedAt < h.from || t.reportedAt >= h.to) continue;
    const key = `${t.model}\u0000${t.faultType}`;
    const g = groups.get(key) ?? { model: t.model, faultType: t.faultType, tickets: 0, reports: [] };
    g.tickets++;
    if (t.partsUsed) g.reports.push(t);
    groups.set(key, g);
  }
  for (const o of h.overrides ?? []) {
    const key = `${o.model}\u0000${o.faultType}`;
    if (!groups.has(key))
      groups.set(key, { model: o.model, faultType: o.faultType, tickets: 0, reports: [] });
  }
  const out: FaultParts[] = [];
  for (const g of groups.values()) {
    const exposure = months.get(g.model) ?? 0;
    const override = h.overrides?.find((o) => o.model === g.model && o.faultType === g.faultType);
    let parts: FaultParts['parts'];
    if (override)
      parts = override.parts.map((p) => ({
        part: p.part,
        share: 1,
        meanQuantity: p.quantity,
        source: 'configured',
      }));
    else {
      const used = new Map<string, { repairs: number; quantity: number }>();
      for (const r of g.reports)
        for (const p of r.partsUsed ?? []) {
          const u = used.get(p.part) ?? { repairs: 0, quantity: 0 };
          u.repairs++;
          u.quantity += p.quantity;
          used.set(p.part, u);
        }
      parts = [...used.entries()]
        .map(([part, u]) => ({
          part,
          share: u.repairs / g.reports.length,
          meanQuantity: u.quantity / g.reports.length,
          source: 'reports' as const,
        }))
        .sort((a, b) => b.share - a.share || (a.part < b.part ? -1 : 1));
    }
    out.push({
      model: g.model,
      faultType: g.faultType,
      tickets: g.tickets,
      repairs: g.reports.length,
      rate: exposure > 0 ? g.tickets / exposure : 0,
      parts,
    });
  }
  return out.sort((a, b) => (a.model + a.faultType < b.model + b.faultType ? -1 : 1));
}

export interface PartForecast {
  part: string;
  /** Expected consumption over the horizon. */
  quantity: number;
  /** Where it comes from: (model, fault type) → quantity. */
  sources: { model: string; faultType: string; quantity: number }[];
}

/** Expected consumption of every part over `horizonMs`, given the devices installed now. */
export function forecast(
  h: History,
  installed: ReadonlyMap<string, number>,
  horizonMs: number,
): PartForecast[] {
  const byPart = new Map<string, PartForecast>();
  for (const f of faultParts(h)) {
    const base = installed.get(f.model) ?? 0;
    for (const p of f.parts) {
      const q = f.rate * base * (horizonMs / MONTH_MS) * p.meanQuantity;
      if (q <= 0) continue;
      const entry = byPart.get(p.part) ?? { part: p.part, quantity: 0, sources: [] };
      entry.quantity += q;
      entry.sources.push({ model: f.model, faultType: f.faultType, quantity: q });
      byPart.set(p.part, entry);
    }
  }
  return [...byPart.values()].sort((a, b) => b.quantity - a.quantity || (a.part < b.part ? -1 : 1));
}

export interface ReorderSuggestion {
  part: string;
  available: number;
  /** Expected consumption until a new delivery could arrive. */
  demandDuringLeadTime: number;
  /** Available minus that demand: what is left when the delivery arrives. */
  projected: number;
  minimum: number;
  /** Enough to be back at the minimum (or the reorder level) when the delivery arrives. */
  orderQuantity: number;
  supplier: { id: string; leadTimeMs: number; price: number | null; currency: string } | null;
  expectedArrivalAt: number | null;
}

/** The supplier to order from: the preferred one, else the one that delivers soonest. */
export function supplierOf(p: Part): Part['suppliers'][number] | undefined {
  return p.suppliers.find((s) => s.preferred) ?? [...p.suppliers].sort((a, b) => a.leadTime - b.leadTime)[0];
}

/**
 * Parts to order now: where available stock minus the forecast consumption during the supplier's
 * lead time falls below the minimum (or to the reorder level) before a new delivery could arrive.
 */
export function reorder(
  parts: readonly Part[],
  available: (part: string) => number,
  demand: (part: string, horizonMs: number) => number,
  now: number,
): ReorderSuggestion[] {
  const out: ReorderSuggestion[] = [];
  for (const p of parts) {
    const s = supplierOf(p);
    const lead = s?.leadTime ?? 0;
    const have = available(p.number);
    const need = demand(p.number, lead);
    const projected = have - need;
    const floor = Math.max(p.minimum, p.reorderLevel ?? 0);
    const low = p.reorderLevel !== undefined ? projected <= p.reorderLevel : projected < p.minimum;
    if (!low) continue;
    out.push({
      part: p.number,
      available: have,
      demandDuringLeadTime: need,
      projected,
      minimum: p.minimum,
      orderQuantity: Math.max(1, Math.ceil(floor - projected)),
      supplier: s ? { id: s.id, leadTimeMs: s.leadTime, price: s.price ?? null, currency: s.currency } : null,
      expectedArrivalAt: s ? now + s.leadTime : null,
    });
  }
  return out;
}
