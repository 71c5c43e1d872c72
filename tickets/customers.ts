import { z } from 'zod';
import { toIso } from '../lib/time.js';
import type { Ticket } from './model.js';

/**
 * Customers (R5.1): who owns the equipment, and the people there who hear what happens to their
 * tickets. Sites and devices name their customer (`sites[].customer`, `devices[].customer`); once
 * `customers` is configured those names must be customer ids.
 */
export const CUSTOMER_UPDATES = ['received', 'visit', 'resolved', 'closed'] as const;
export type CustomerUpdate = (typeof CUSTOMER_UPDATES)[number];

const contactSchema = z
  .object({
    name: z.string().min(1),
    email: z.email().optional(),
    phone: z.string().min(3).max(50).optional(),
    /** What the person does there (maintenance manager, shift lead, …). */
    role: z.string().min(1).optional(),
    /**
     * Which updates the person gets: `received` (the ticket is open, and when to expect a response),
     * `visit` (a visit planned, moved, or a preventive visit proposed), `resolved`, `closed` (the
     * customer report). Default: all.
     */
    notify: z.array(z.enum(CUSTOMER_UPDATES)).default([...CUSTOMER_UPDATES]),
    /** Only for tickets at these sites (default: every site of the customer). */
    sites: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .refine((c) => c.email !== undefined || c.phone !== undefined, {
    message: 'a contact needs an email or a phone',
    path: ['email'],
  });

export const customerSchema = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'ids are 1-128 letters, digits, ".", "_", ":" or "-"'),
    name: z.string().min(1),
    contacts: z.array(contactSchema).default([]),
    /** The service contract's reference, shown on reports. */
    contract: z.string().min(1).optional(),
  })
  .strict();

export type Customer = z.output<typeof customerSchema>;
export type Contact = Customer['contacts'][number];

/** An update to the customer's people: on the ticket's timeline, and to whoever delivers it. */
export interface CustomerNotice {
  ticketId: string;
  customer: string;
  /** The ticket's site. */
  site: string | null;
  update: CustomerUpdate;
  at: number;
  contacts: { name: string; email?: string; phone?: string }[];
  text: string;
}

/** The contacts of `customer` who get `update` for a ticket at `site`. */
export function recipients(c: Customer, update: CustomerUpdate, site: string | null): Contact[] {
  return c.contacts.filter(
    (p) => p.notify.includes(update) && (!p.sites || (site !== null && p.sites.includes(site))),
  );
}

/** What the customer is told, in plain words. */
export function updateText(t: Ticket, update: CustomerUpdate): string {
  const what = `${t.id} "${t.title}"`;
  switch (update) {
    case 'received': {
      const r = t.sla.response;
      if (t.priority === 'preventive' && t.sla.visit)
        return `Preventive maintenance ${what} is planned for ${toIso(t.sla.visit.dueAt)}; we will contact you to agree the time.`;
      return `We received ${what} (${t.priority}).${r ? ` You can expect our response by ${toIso(r.dueAt)}.` : ''}`;
    }
    case 'visit': {
      if (t.dispatch) {
        const who = t.dispatch.by === 'partner' ? 'our partner team' : 'our technician';
        return `For ${what}, ${who} will be on site at ${toIso(t.dispatch.appointmentAt)}.`;
      }
      return `The visit for ${what} is agreed for ${toIso(t.sla.visit?.dueAt ?? t.updatedAt)}.`;
    }
    case 'resolved':
      return `${what} is resolved${t.report ? `: ${t.report.actions}` : ''}.`;
    case 'closed':
      return `${what} is closed; the report is available. Tell us how we did (1–5).`;
  }
}
