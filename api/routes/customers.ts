import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { customerOf, type DeviceRegistry } from '../../ingest/devices.js';
import { FaultlineError } from '../../lib/errors.js';
import type { Customer } from '../../tickets/customers.js';
import { OPEN_STATUSES } from '../../tickets/model.js';
import type { TicketService } from '../../tickets/service.js';
import { seesSite } from '../auth.js';
import { principalOf, scopeTickets } from '../guard.js';

const idParams = z.object({ id: z.string().min(1).max(128) }).strict();

/** Customer records with their sites, devices and open tickets (R5.1). */
export function customerRoutes(tickets: TicketService, devices: DeviceRegistry) {
  const sitesOf = (c: Customer) => devices.siteList().filter((s) => s.customer === c.id);
  const devicesOf = (c: Customer) => {
    return devices
      .list()
      .filter((d) => customerOf(d, devices.site(d.site)) === c.id)
      .map((d) => ({
        id: d.id,
        name: d.name,
        model: d.model,
        site: d.site,
        connectivity: d.connectivity.state,
      }));
  };
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    /** A customer the caller may see: a customer key its own; a key limited to sites those with a site there. */
    const sees = (req: Parameters<typeof principalOf>[0], c: Customer) => {
      const p = principalOf(req);
      if (p.role === 'customer') return p.customer === c.id;
      return p.sites === null || sitesOf(c).some((s) => seesSite(p, s.id));
    };
    const tags = ['customers'];
    app.get(
      '/customers',
      { config: { access: 'customers:read' }, schema: { tags, summary: 'Customer records' } },
      async (req) => ({
        items: tickets
          .customers()
          .filter((c) => sees(req, c))
          .map((c) => ({
            id: c.id,
            name: c.name,
            contract: c.contract ?? null,
            contacts: c.contacts.length,
            sites: sitesOf(c).map((s) => s.id),
          })),
      }),
    );

    app.get(
      '/customers/:id',
      {
        config: { access: 'customers:read' },
        schema: { tags, summary: 'A customer with its sites, devices and open tickets', params: idParams },
      },
      async (req) => {
        const { id } = req.params;
        const c = tickets.customer(id);
        if (!c || !sees(req, c))
          throw new FaultlineError('FL_ERR_CUSTOMER_NOT_FOUND', `customer "${id}" does not exist`);
        const p = principalOf(req);
        const open = await tickets.list(
          scopeTickets(p, { customer: c.id, status: [...OPEN_STATUSES] }),
          'urgency',
          100,
        );
        return {
          ...c,
          contract: c.contract ?? null,
          sites: sitesOf(c).map((s) => ({ id: s.id, name: s.name ?? s.id, area: s.area })),
          devices: devicesOf(c).filter((d) => seesSite(p, d.site)),
          openTickets: open.items.map((t) => ({
            id: t.id,
            title: t.title,
            priority: t.priority,
            status: t.status,
          })),
        };
      },
    );
  };
}
