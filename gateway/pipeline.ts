import type { ConnectivityMonitor } from '../ingest/connectivity.js';
import type { DeviceRegistry } from '../ingest/devices.js';
import type { History } from '../ingest/history.js';
import type { Ingest, ReadingListener } from '../ingest/ingest.js';
import type { Logger } from '../lib/log.js';
import { RateLimitedLog } from '../lib/log.js';
import type { UnitOfWork } from '../lib/unit-of-work.js';
import type { Outbox } from '../notify/outbox.js';
import type { AlertTracker } from '../rules/alerts.js';
import type { RuleEngine } from '../rules/engine.js';
import type { Silences } from '../rules/silences.js';
import type { AlertIntake } from '../tickets/alert-intake.js';
import type { PreventivePlanner } from '../tickets/preventive.js';
import type { TicketService } from '../tickets/service.js';
import type { SlaWatcher } from '../tickets/sla-watcher.js';
import { type EventsWiring, wireEvents } from './events.js';

/** The stages of the pipeline, built by the composition root (gateway.ts). */
export interface Stages {
  /** decode → spool: adapters hand decoded readings to `ingest.accept`; listeners hear durable ones. */
  ingest: Ingest;
  registry: DeviceRegistry;
  /** Durable readings → per-minute rollups. */
  history: History;
  /** Durable readings → online / offline (itself a reading, back through ingest). */
  connectivity: ConnectivityMonitor;
  /** Durable readings → alert transitions. */
  engine: RuleEngine;
  /** Durable readings → usage counters of preventive schedules. */
  planner: PreventivePlanner;
  /** The turn's transaction, joined by every state change the readings cause. */
  unitOfWork: UnitOfWork;
  /** Alert transitions → stored alerts (firing, resolved, escalated). */
  alerts: AlertTracker;
  /** Alert changes → tickets (opened, occurrences, notes), with the maintenance policy. */
  intake: AlertIntake;
  /** Ticket changes → SLA timers. */
  tickets: TicketService;
  slaWatcher: SlaWatcher;
  /** Maintenance windows that follow their visit's ticket. */
  silences: Silences;
  /** Every change the outside world hears of → outbox (webhooks, e-mail, SSE). */
  outbox: Outbox;
  /**
   * Several instances share the store (PostgreSQL): the SLA clocks follow the ticket events of all
   * of them (gateway/shared-state.ts relays them), not only this instance's changes.
   */
  shared: boolean;
  /**
   * Runs a device's evaluation here if this instance evaluates that device (rules/ownership.ts;
   * always, with one instance); `owns` says whether it does without claiming it.
   */
  route: (deviceId: string, evaluate: () => void) => void;
  owns: (deviceId: string) => boolean;
  logger: Logger;
}

/**
 * Wires the pipeline in one place (issue 19), in the order a reading travels:
 *
 *   readings → decode → spool → rules → alerts → tickets → notify
 *
 * Adapters decode and call `ingest.accept`; the spool makes readings durable once per turn and then
 * tells the reading listeners (history, connectivity, rules, preventive usage). Alert transitions
 * join the turn's unit of work and go to the alert tracker; its changes go to the ticket intake
 * (tickets/alert-intake.ts: the domain policy) and, like ticket changes, to the outbox. Listeners
 * run in the order registered here: an alert's event is stored before the ticket it opens.
 *
 * Returns the SLA notice sink (the watcher announces warnings and breaches through it) and the
 * flush of alert changes held back (a flapping alert's), for the stop.
 */
export function wirePipeline(s: Stages): EventsWiring {
  // spool → durable-reading consumers.
  s.ingest.onReading((point) => s.history.add(point));
  s.ingest.onReading(routed(s, (point, device) => s.connectivity.onReading(point, device)));
  // notify: tickets, customer notices, alerts, connectivity → outbox.
  const events = wireEvents({
    outbox: s.outbox,
    tickets: s.tickets,
    alerts: s.alerts,
    ingest: s.ingest,
    registry: s.registry,
    owns: s.owns,
    logger: s.logger,
  });
  // tickets → SLA timers (an occurrence changes no clock); a visit moved moves its window.
  if (s.shared)
    s.outbox.on((e) => {
      if (e.type === 'ticket.created' || e.type === 'ticket.updated')
        void s.slaWatcher.changed(e.subject, e.type === 'ticket.created');
    });
  else
    s.tickets.onChange(({ kind, ticket }) => {
      if (kind !== 'occurrence') void s.slaWatcher.changed(ticket, kind === 'created');
    });
  s.tickets.onChange(({ kind, ticket }) => {
    const visit = ticket.sla.visit;
    if (kind !== 'visit' || !visit) return;
    s.silences.rescheduleVisit(ticket.id, visit.dueAt).catch((err: unknown) => {
      s.logger.error(
        { err, ticketId: ticket.id },
        'the visit moved, its maintenance window could not be moved',
      );
    });
  });
  // rules → alerts, in the turn's unit of work.
  s.engine.onTransition((t) => {
    s.unitOfWork.join();
    s.alerts.handle(t);
  });
  const evalWarn = new RateLimitedLog(s.logger.child({ component: 'rules' }));
  s.engine.onError((alertId, err) => evalWarn.warn(alertId, { err, alertId }, 'rule evaluation failed'));
  // alerts → tickets.
  s.alerts.onFiring((alert, t) => s.intake.firing(alert, t));
  s.alerts.onResolved((alert) => s.intake.resolved(alert));
  s.alerts.onEscalated((alert, t) => s.intake.escalated(alert, t));
  // spool → rules, and preventive usage.
  s.ingest.onReading(
    routed(s, (point, device) => {
      try {
        s.engine.onReading(point, device);
      } finally {
        s.planner.observe(point.fields, device, point.ts); // as a listener of its own: even if the rules threw
      }
    }),
  );
  return events;
}

/**
 * A reading listener that runs only where the device is evaluated (`Stages.route`); a device this
 * instance owns — every device, with one instance — is handled at once, without a closure per
 * reading (two per reading were a tenth of the state path's allocations).
 */
function routed(s: Stages, handle: ReadingListener): ReadingListener {
  return (point, device) => {
    if (s.owns(device.id)) handle(point, device);
    else s.route(device.id, () => handle(point, device));
  };
}
