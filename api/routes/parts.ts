import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { duration } from '../../lib/duration.js';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import type { Part } from '../../parts/config.js';
import { supplierOf } from '../../parts/forecast.js';
import type { PartsPlanner } from '../../parts/planner.js';
import type { PartsStock, Reservation } from '../../parts/stock.js';
import type { TicketService } from '../../tickets/service.js';
import { type Principal, seesSite } from '../auth.js';
import { principalOf, seesTicket } from '../guard.js';
import { timeParam } from '../problem.js';

const tags = ['spare parts'];
const quantity = z.number().positive().max(1_000_000);
const partParam = z.object({ number: z.string().min(1).max(64) });

function reservationView(r: Reservation) {
  return { ...r, createdAt: toIso(r.createdAt), closedAt: toIsoOrNull(r.closedAt) };
}

/** Spare parts (R4.2): the catalogue with stock, suppliers and flags; receipts, counts, movements, reservations. */
export function partRoutes(stock: PartsStock, planner: PartsPlanner, tickets: TicketService) {
  const view = async (p: Part) => {
    const total = await stock.total(p.number);
    return {
      ...p,
      suppliers: p.suppliers.map((s) => ({ ...s, leadTimeMs: s.leadTime })),
      stock: total,
      ...(await stock.flags(p.number)),
      // A critical part with fewer than two suppliers waits on one company (R4.2).
      singleSource: p.critical && p.suppliers.length < 2,
    };
  };
  /**
   * What of the stock's history a caller may see (issue 18): a reservation or movement for a ticket,
   * when it sees the ticket; one without (receipts, counts), when the location serves one of its
   * sites or no site in particular. Unlimited keys see everything.
   */
  const scopeOf = (principal: Principal) => {
    if (principal.sites === null && principal.role !== 'customer') return null;
    const seen = new Map<string, Promise<boolean>>();
    const ticketVisible = (id: string) => {
      let v = seen.get(id);
      if (!v) {
        v = tickets.get(id).then(
          (t) => seesTicket(principal, t),
          () => false,
        );
        seen.set(id, v);
      }
      return v;
    };
    const locationVisible = (id: string) => {
      const sites = stock.config.locations.find((l) => l.id === id)?.sites ?? [];
      return (
        principal.role !== 'customer' && (sites.length === 0 || sites.some((x) => seesSite(principal, x)))
      );
    };
    return async <T extends { ticketId: string | null; location: string }>(items: T[]): Promise<T[]> => {
      const out: T[] = [];
      for (const it of items)
        if (it.ticketId !== null ? await ticketVisible(it.ticketId) : locationVisible(it.location))
          out.push(it);
      return out;
    };
  };
  const scoped = async <T extends { ticketId: string | null; location: string }>(
    principal: Principal,
    items: T[],
  ) => {
    const filter = scopeOf(principal);
    return filter ? filter(items) : items;
  };
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/parts',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary:
            'The catalogue with stock totals and flags (below minimum or reorder level, single source)',
          querystring: z
            .object({
              category: z.string().min(1).optional(),
              flag: z.enum(['belowMinimum', 'belowReorderLevel', 'singleSource']).optional(),
            })
            .strict(),
        },
      },
      async (req) => ({
        items: (
          await Promise.all(
            stock.config.catalogue
              .filter((p) => req.query.category === undefined || p.category === req.query.category)
              .map(view),
          )
        ).filter((p) => req.query.flag === undefined || p[req.query.flag]),
      }),
    );

    app.get(
      '/parts/fault-map',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary:
            'Per model and fault type: tickets, repairs, rate per device-month and the parts a repair takes (learnt from repair reports, or configured)',
        },
      },
      async () => ({ items: await planner.faultMap() }),
    );

    const mapParams = z.object({ model: z.string().min(1).max(128), faultType: z.string().min(1).max(64) });
    app.put(
      '/parts/fault-map/:model/:faultType',
      {
        config: { access: 'parts:write' },
        schema: {
          tags,
          summary: 'Set what a repair of this fault on this model takes (instead of what the reports say)',
          params: mapParams,
          body: z
            .object({
              parts: z
                .array(
                  z.object({ part: z.string().min(1).max(64), quantity: z.number().positive() }).strict(),
                )
                .max(50),
            })
            .strict(),
        },
      },
      async (req) => {
        await stock.setFaultMap(
          req.params.model,
          req.params.faultType,
          req.body.parts,
          principalOf(req).name,
        );
        planner.invalidate();
        return (await planner.faultMap()).find(
          (f) => f.model === req.params.model && f.faultType === req.params.faultType,
        );
      },
    );

    app.delete(
      '/parts/fault-map/:model/:faultType',
      {
        config: { access: 'parts:write' },
        schema: {
          tags,
          summary: 'Forget an edited entry: the repair reports decide again',
          params: mapParams,
        },
      },
      async (req, reply) => {
        if (!(await stock.clearFaultMap(req.params.model, req.params.faultType)))
          throw new FaultlineError(
            'FL_ERR_PART_NOT_FOUND',
            `no edited entry for ${req.params.model} / ${req.params.faultType}`,
          );
        planner.invalidate();
        return reply.code(204).send();
      },
    );

    app.get(
      '/stats/parts',
      {
        config: { access: 'stats:read' },
        schema: {
          tags: ['statistics'],
          summary: 'Parts used in a period per part, category or equipment model: quantity, tickets, value',
          querystring: z
            .object({
              from: timeParam.optional(),
              to: timeParam.optional(),
              groupBy: z.enum(['part', 'category', 'model']).default('part'),
            })
            .strict(),
        },
      },
      async (req) => {
        const to = req.query.to ?? Date.now();
        const from = req.query.from ?? to - 30 * 86_400_000;
        if (from >= to) throw new FaultlineError('FL_ERR_API_VALIDATION', 'query from: must be before to');
        const used = await scoped(
          principalOf(req),
          await stock.movements({ kind: 'use', from, to }, 100_000),
        );
        const models = new Map<string, string>();
        if (req.query.groupBy === 'model')
          for (const id of new Set(used.map((m) => m.ticketId).filter((x): x is string => x !== null)))
            models.set(id, (await tickets.get(id).catch(() => undefined))?.equipmentModel ?? '(unknown)');
        const groups = new Map<string, { quantity: number; tickets: Set<string>; value: number }>();
        for (const m of used) {
          const p = stock.part(m.part);
          const key =
            req.query.groupBy === 'part'
              ? m.part
              : req.query.groupBy === 'category'
                ? (p?.category ?? '(none)')
                : (models.get(m.ticketId ?? '') ?? '(unknown)');
          const g = groups.get(key) ?? { quantity: 0, tickets: new Set<string>(), value: 0 };
          const q = -m.quantity;
          g.quantity += q;
          if (m.ticketId) g.tickets.add(m.ticketId);
          g.value += q * ((p && supplierOf(p)?.price) ?? 0);
          groups.set(key, g);
        }
        return {
          from: toIso(from),
          to: toIso(to),
          groupBy: req.query.groupBy,
          items: [...groups.entries()]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([key, g]) => ({
              key,
              quantity: g.quantity,
              tickets: g.tickets.size,
              value: Math.round(g.value * 100) / 100,
            })),
        };
      },
    );

    app.get(
      '/parts/forecast',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary:
            'Expected consumption per part over a horizon, from fault rates, the installed base and repair history',
          querystring: z.object({ horizon: duration.prefault('90d') }).strict(),
        },
      },
      async (req) => ({
        horizonMs: req.query.horizon,
        items: await Promise.all(
          (await planner.forecast(req.query.horizon)).map(async (f) => ({
            ...f,
            stock: stock.tracked(f.part) ? await stock.total(f.part) : null,
          })),
        ),
      }),
    );

    app.get(
      '/parts/reorder',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary:
            'What to order now: stock minus reservations minus the forecast until a delivery falls below the minimum',
        },
      },
      async () => ({
        items: (await planner.reorder()).map((r) => ({
          ...r,
          expectedArrivalAt: toIsoOrNull(r.expectedArrivalAt),
        })),
      }),
    );

    app.get(
      '/tickets/:id/parts',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary:
            "The parts a ticket's fault usually takes, with their availability near it, and its reservations",
          params: z.object({ id: z.string().min(1).max(64) }),
        },
      },
      async (req) => {
        const p = principalOf(req);
        const t = await tickets.get(req.params.id);
        if (!seesTicket(p, t))
          throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${req.params.id}" does not exist`);
        const near = { site: t.site, technicians: t.dispatch?.technicians ?? t.assignees, team: t.team };
        return {
          ticket: t.id,
          model: t.equipmentModel,
          faultType: t.faultType,
          likely: await planner.suggest(t.equipmentModel, t.faultType, near),
          reservations: (await stock.reservations(t.id)).map(reservationView),
        };
      },
    );

    app.get(
      '/parts/:number',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary: 'A part: stock per location, suppliers, active reservations',
          params: partParam,
        },
      },
      async (req) => {
        const p = stock.part(req.params.number);
        if (!p)
          throw new FaultlineError(
            'FL_ERR_PART_NOT_FOUND',
            `part "${req.params.number}" is not in the catalogue`,
          );
        return {
          ...(await view(p)),
          locations: await stock.levels({ part: p.number }),
          reservations: (
            await scoped(
              principalOf(req),
              (await stock.reservations()).filter((r) => r.part === p.number),
            )
          ).map(reservationView),
        };
      },
    );

    app.get(
      '/stock',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary: 'Stock levels per part and location',
          querystring: z
            .object({ part: z.string().min(1).optional(), location: z.string().min(1).optional() })
            .strict(),
        },
      },
      async (req) => {
        const f: { part?: string; location?: string } = {};
        if (req.query.part) f.part = req.query.part;
        if (req.query.location) f.location = req.query.location;
        // Levels kept per location (a van's kit), where configured.
        return {
          items: (await stock.levels(f)).map((l) => {
            const kept = stock.config.stock.find((s) => s.part === l.part && s.location === l.location);
            return {
              ...l,
              minimum: kept?.minimum ?? null,
              reorderLevel: kept?.reorderLevel ?? null,
              belowMinimum: kept?.minimum !== undefined && l.available < kept.minimum,
              belowReorderLevel: kept?.reorderLevel !== undefined && l.available <= kept.reorderLevel,
            };
          }),
        };
      },
    );

    app.post(
      '/stock/receipts',
      {
        config: { access: 'parts:write' },
        schema: {
          tags,
          summary: 'Goods in: a delivery adds to on hand',
          body: z
            .object({
              part: z.string().min(1).max(64),
              location: z.string().min(1).max(64),
              quantity,
              note: z.string().max(1000).optional(),
            })
            .strict(),
        },
      },
      async (req, reply) => {
        const b = req.body;
        reply.code(201);
        return stock.receive(b.part, b.location, b.quantity, principalOf(req).name, b.note ?? null);
      },
    );

    app.post(
      '/stock/adjustments',
      {
        config: { access: 'parts:write' },
        schema: {
          tags,
          summary: 'A counted quantity (stocktaking): on hand set, never below what is reserved',
          body: z
            .object({
              part: z.string().min(1).max(64),
              location: z.string().min(1).max(64),
              onHand: z.number().nonnegative().max(1_000_000),
              note: z.string().min(1).max(1000),
            })
            .strict(),
        },
      },
      async (req, reply) => {
        const b = req.body;
        reply.code(201);
        return stock.adjust(b.part, b.location, b.onHand, principalOf(req).name, b.note);
      },
    );

    app.get(
      '/stock/movements',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary: 'Every change of stock, oldest first: receipts, adjustments, reservations, use, releases',
          querystring: z
            .object({
              part: z.string().min(1).optional(),
              location: z.string().min(1).optional(),
              ticketId: z.string().min(1).optional(),
              limit: z.coerce.number().int().min(1).max(500).default(100),
            })
            .strict(),
        },
      },
      async (req) => {
        const { limit, ...rest } = req.query;
        const f: { part?: string; location?: string; ticketId?: string } = {};
        for (const k of ['part', 'location', 'ticketId'] as const) if (rest[k]) f[k] = rest[k];
        const items = await scoped(principalOf(req), await stock.movements(f, limit));
        return { items: items.map((m) => ({ ...m, at: toIso(m.at) })) };
      },
    );

    app.get(
      '/reservations',
      {
        config: { access: 'parts:read' },
        schema: {
          tags,
          summary: "Active reservations, or a ticket's (all states)",
          querystring: z.object({ ticketId: z.string().min(1).optional() }).strict(),
        },
      },
      async (req) => ({
        items: (await scoped(principalOf(req), await stock.reservations(req.query.ticketId))).map(
          reservationView,
        ),
      }),
    );
  };
}
