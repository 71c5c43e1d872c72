import { alertView } from '../api/routes/alerts.js';
import { customerOf, type DeviceRegistry } from '../ingest/devices.js';
import type { Ingest } from '../ingest/ingest.js';
import { Coalescer } from '../lib/coalesce.js';
import type { Logger } from '../lib/log.js';
import type { Outbox } from '../notify/outbox.js';
import type { Alert, AlertTracker } from '../rules/alerts.js';
import { type Scheduler, systemScheduler } from '../rules/engine.js';
import { NOTE_WINDOW_MS, NOTES_PER_WINDOW } from '../tickets/alert-intake.js';
import type { TicketService } from '../tickets/service.js';
import type { Notice } from '../tickets/sla-watcher.js';

/** What the pipeline keeps of the events wiring: the SLA notice sink, and the stop's flush. */
export interface EventsWiring {
  slaNotice: (n: Notice) => void;
  /** Tells the alert changes held back (a flapping alert's latest state) now, and stores every event published: the stop. */
  flush: () => Promise<void>;
}

/**
 * Every change the outside world hears of becomes an outbox event (SSE, webhooks): tickets (created,
 * updated, another occurrence), SLA escalations, warnings and breaches, alerts firing and resolved,
 * devices going online or offline, and the updates to customers.
 *
 * A flapping alert is told as its ticket's timeline tells it (tickets/alert-intake.ts): its first
 * NOTES_PER_WINDOW changes in any NOTE_WINDOW_MS each as an `alert.*` event; of the rest only the
 * latest, when the window ends — its state then, `fireCount` counting every firing (issue 19:
 * an event row per flicker was ~40 % of an alert transition's cost, and noise to every receiver).
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
  scheduler?: Scheduler;
}): EventsWiring {
  const { outbox, tickets, registry } = d;
  const publish = (e: Parameters<Outbox['publish']>[0]): void => {
    outbox.publish(e).catch((err: unknown) => {
      d.logger.error({ err, type: e.type, subject: e.subject }, 'event could not be stored');
    });
  };
  const siteOfDevice = (id: string) => registry.get(id)?.site ?? null;
  const customerOfDevice = (id: string) => {
    const dev = registry.get(id);
    return dev ? customerOf(dev, registry.site(dev.site)) : null;
  };
  const alertEvents = new Coalescer<Alert>(
    (alert) =>
      publish({
        type: alert.state === 'firing' ? 'alert.firing' : 'alert.resolved',
        at: alert.updatedAt,
        subject: alert.id,
        site: siteOfDevice(alert.deviceId),
        customer: customerOfDevice(alert.deviceId),
        data: alertView(alert),
      }),
    { max: NOTES_PER_WINDOW, windowMs: NOTE_WINDOW_MS, scheduler: d.scheduler ?? systemScheduler },
  );
  d.alerts.onFiring((alert) => alertEvents.change(alert.id, alert));
  d.alerts.onResolved((alert) => alertEvents.change(alert.id, alert));
  tickets.onChange(({ kind, ticket }) => {
    // An alert's event before the ticket it opened or occurred on.
    if (ticket.alertId && (kind === 'created' || kind === 'occurrence')) alertEvents.release(ticket.alertId);
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
    });
  });
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
    flush: () => {
      alertEvents.stop();
      return outbox.idle();
    },
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
