import type { DeviceRegistry } from '../ingest/devices.js';
import type { Logger } from '../lib/log.js';
import type { Outbox } from '../notify/outbox.js';
import { PartsPlanner } from '../parts/planner.js';
import type { PartsStock } from '../parts/stock.js';
import type { TicketService } from '../tickets/service.js';

/**
 * Spare parts in the running gateway: the planner learns fault rates and parts per repair from the
 * ticket history and the installed base; a new ticket's likely parts go on its timeline with where
 * they are; a part falling below its minimum (or to its reorder level) is an event, once per fall.
 */
export async function wireParts(d: {
  stock: PartsStock;
  tickets: TicketService;
  registry: DeviceRegistry;
  outbox: Outbox;
  logger: Logger;
  now?: () => number;
}): Promise<PartsPlanner> {
  const { stock, tickets, registry, outbox, logger } = d;
  const planner = new PartsPlanner({
    stock,
    ...(d.now ? { now: d.now } : {}),
    history: async (from, to) => ({
      from,
      to,
      tickets: (await tickets.filedIn({}, from, to)).map((t) => ({
        model: t.equipmentModel,
        faultType: t.faultType,
        reportedAt: t.reportedAt,
        partsUsed: t.report?.partsUsed ?? null,
      })),
      devices: registry.list().map((x) => ({ model: x.model, since: x.firstSeenAt })),
    }),
    installed: () => {
      const m = new Map<string, number>();
      for (const x of registry.list()) if (x.model) m.set(x.model, (m.get(x.model) ?? 0) + 1);
      return m;
    },
  });

  tickets.onChange(({ kind, ticket }) => {
    if (kind === 'transition' && ticket.report) planner.invalidate();
    if (kind !== 'created' || ticket.priority === 'preventive') return;
    const near = { site: ticket.site, technicians: ticket.assignees, team: ticket.team };
    void planner
      .suggest(ticket.equipmentModel, ticket.faultType, near)
      .then(async (likely) => {
        if (likely.length === 0) return;
        const text = likely
          .map(
            (p) =>
              `${p.part}${p.name ? ` (${p.name})` : ''}: ${Math.round(p.share * 100)} % of repairs` +
              (!p.stocked
                ? ', not kept in stock'
                : p.available.length
                  ? `, ${p.available.map((a) => `${a.quantity} at ${a.location}`).join(', ')}`
                  : ', none in stock'),
          )
          .join('; ');
        await tickets.note(ticket.id, 'parts', `likely parts: ${text}`, 'parts');
      })
      .catch((err: unknown) => logger.error({ err, ticketId: ticket.id }, 'parts suggestion failed'));
  });

  const isLow = async (n: string) => {
    const f = await stock.flags(n);
    return f.belowMinimum || f.belowReorderLevel;
  };
  const low = new Set<string>();
  for (const p of stock.config.catalogue) if (await isLow(p.number)) low.add(p.number);
  stock.onChange(
    (n) => void lowStock(n).catch((err: unknown) => logger.error({ err, part: n }, 'low-stock check failed')),
  );
  const lowStock = async (n: string) => {
    if (!(await isLow(n))) {
      low.delete(n);
      return;
    }
    if (low.has(n)) return;
    low.add(n);
    const p = stock.part(n);
    await outbox.publish({
      type: 'parts.low_stock',
      at: Date.now(),
      subject: n,
      site: null,
      customer: null,
      data: {
        part: n,
        name: p?.name,
        stock: await stock.total(n),
        minimum: p?.minimum,
        reorderLevel: p?.reorderLevel ?? null,
      },
    });
  };
  return planner;
}
