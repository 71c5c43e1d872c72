import { alertView } from '../api/routes/alerts.js';
import { customerOf, type DeviceRegistry } from '../ingest/devices.js';
import type { Ingest } from '../ingest/ingest.js';
import type { Logger } from '../lib/log.js';
import type { Outbox } from '../notify/outbox.js';
import type { AlertTracker } from '../rules/alerts.js';
import type { TicketService } from '../tickets/service.js';
import type { Notice } from '../tickets/sla-watcher.js';

/**
 * Every change the outside world hears of becomes an outbox event (SSE, webhooks): tickets (created,
 * updated, another occurrence), SLA escalations, warnings and breaches, alerts firing and resolved,
 * devices going online or offline, and the updates to customers.
 */
export function wireEvents(d: {
  outbox: Outbox;
  tickets: TicketService;
  alerts: AlertTracker;
  ingest: Ingest;
  registry: DeviceRegistry;
  /** Whether this instance evaluates the device (its online/offline changes are its to tell). */
  owns: (deviceId: string) => boolean;
  logger: Logger;
}): { slaNotice: (n: Notice) => void } {
  const { outbox, tickets, registry } = d;
  const publish = (e: Parameters<Outbox['publish']>[0]): void => {
    outbox.publish(e).catch((err: unknown) => {
      d.logger.error({ err, type: e.type, subject: e.subject }, 'event could not be stored');
    });
  };
  tickets.onChange(({ kind, ticket }) =>
    publish({
      type:
        kind === 'created'
          ? 'ticket.created'
          : kind === 'occurrence'
            ? 'ticket.occurrence'
            : 'ticket.updated',
      at: ticket.updatedAt,
      subject: ticket.id,
      site: ticket.site,
      customer: ticket.customer,
      data: tickets.view(ticket),
    }),
  );
  tickets.onCustomerNotice((n) =>
    publish({
      type: 'customer.notice',
      at: n.at,
      subject: n.ticketId,
      site: n.site,
      customer: n.customer,
      data: n,
    }),
  );
  const siteOfDevice = (id: string) => registry.get(id)?.site ?? null;
  const customerOfDevice = (id: string) => {
    const dev = registry.get(id);
    return dev ? customerOf(dev, registry.site(dev.site)) : null;
  };
  for (const [hook, type] of [
    [d.alerts.onFiring.bind(d.alerts), 'alert.firing'],
    [d.alerts.onResolved.bind(d.alerts), 'alert.resolved'],
  ] as const)
    hook(async (alert) =>
      publish({
        type,
        at: alert.updatedAt,
        subject: alert.id,
        site: siteOfDevice(alert.deviceId),
        customer: customerOfDevice(alert.deviceId),
        data: alertView(alert),
      }),
    );
  d.ingest.onReading((point, device) => {
    if (!point.connectivity || !d.owns(device.id)) return;
    publish({
      type: point.connectivity.state === 'online' ? 'device.online' : 'device.offline',
      at: point.ts,
      subject: device.id,
      site: device.site,
      customer: customerOfDevice(device.id),
      data: { deviceId: device.id, state: point.connectivity.state, reason: point.connectivity.reason },
    });
  });
  return {
    slaNotice: (n) => {
      void tickets.get(n.ticketId).then(
        (t) =>
          publish({
            type:
              n.stage === 'created'
                ? 'ticket.escalated'
                : n.stage === 'warning'
                  ? 'sla.warning'
                  : 'sla.breach',
            at: n.at,
            subject: n.ticketId,
            site: t.site,
            customer: t.customer,
            data: n,
          }),
        (err: unknown) => d.logger.error({ err, ticketId: n.ticketId }, 'SLA event could not be stored'),
      );
    },
  };
}
