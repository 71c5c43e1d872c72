import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DeviceRegistry } from '../../ingest/devices.js';
import { FaultlineError } from '../../lib/errors.js';
import type { Customer } from '../../tickets/customers.js';
import { OPEN_STATUSES } from '../../tickets/model.js';
import type { TicketService } from '../../tickets/service.js';
import { parseOrThrow } from '../problem.js';

const idParams = z.object({ id: z.string().min(1).max(128) }).strict();

/** Customer records with their sites, devices and open tickets (R5.1). */
export function customerRoutes(tickets: TicketService, devices: DeviceRegistry) {
  const sitesOf = (c: Customer) => devices.siteList().filter((s) => s.customer === c.id);
  const devicesOf = (c: Customer) => {
    const sites = new Set(sitesOf(c).map((s) => s.id));
    return devices
      .list()
      .filter((d) => d.customer === c.id || (d.customer === null && sites.has(d.site)))
      .map((d) => ({
        id: d.id,
        name: d.name,
        model: d.model,
        site: d.site,
        connectivity: d.connectivity.state,
      }));
  };
  return async (app: FastifyInstance) => {
    app.get('/customers', async () => ({
      items: tickets.customers().map((c) => ({
        id: c.id,
        name: c.name,
        contract: c.contract ?? null,
        contacts: c.contacts.length,
        sites: sitesOf(c).map((s) => s.id),
      })),
    }));

    app.get('/customers/:id', async (req) => {
      const { id } = parseOrThrow(idParams, req.params, 'path');
      const c = tickets.customer(id);
      if (!c) throw new FaultlineError('FL_ERR_CUSTOMER_NOT_FOUND', `customer "${id}" does not exist`);
      const open = await tickets.list({ customer: c.id, status: [...OPEN_STATUSES] }, 'urgency', 100);
      return {
        ...c,
        contract: c.contract ?? null,
        sites: sitesOf(c).map((s) => ({ id: s.id, name: s.name ?? s.id, area: s.area })),
        devices: devicesOf(c),
        openTickets: open.items.map((t) => ({
          id: t.id,
          title: t.title,
          priority: t.priority,
          status: t.status,
        })),
      };
    });
  };
}
