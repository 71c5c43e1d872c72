import type { Logger } from '../lib/log.js';
import type { Alert } from '../rules/alerts.js';
import type { AlertTransition } from '../rules/engine.js';
import type { TicketService } from './service.js';

/** The maintenance windows, as the intake needs them: which ticket, if any, a window belongs to. */
export interface MaintenanceWindows {
  /** The ticket of a window (a preventive visit's), or null; undefined when there is no such window. */
  ticketOf(windowId: string): Promise<string | null | undefined>;
}

/**
 * What an alert's change does to tickets — the policy between the alerts and tickets stages of the
 * pipeline (gateway/pipeline.ts):
 * - firing: opens a ticket for (rule, device), or counts an occurrence on its open one; during a
 *   maintenance window no ticket is opened — the alert is recorded, and the visit's ticket (if the
 *   window is a preventive visit) hears of it on its timeline;
 * - resolved: noted on the open ticket (the work goes on: a person closes tickets);
 * - escalated (priority rose while firing): the open ticket takes the higher class and its targets.
 */
export class AlertIntake {
  constructor(
    private readonly tickets: TicketService,
    private readonly windows: MaintenanceWindows,
    private readonly logger: Logger,
  ) {}

  async firing(alert: Alert, t: AlertTransition): Promise<void> {
    if (alert.silencedBy) {
      const ticketId = await this.windows.ticketOf(alert.silencedBy);
      this.logger.info(
        { alertId: alert.id, silence: alert.silencedBy },
        'alert during maintenance: no ticket',
      );
      if (ticketId) await this.tickets.noteMaintenanceAlert(ticketId, alert, alert.silencedBy);
      return;
    }
    await this.tickets.openFromAlert(alert, t);
  }

  async resolved(alert: Alert): Promise<void> {
    await this.tickets.alertResolved(alert);
  }

  async escalated(alert: Alert, t: AlertTransition): Promise<void> {
    await this.tickets.raiseFromAlert(alert, t);
  }
}
