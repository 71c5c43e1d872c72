import type { SiteConfig } from '../ingest/config.js';
import type { Device } from '../ingest/devices.js';
import type { Page } from '../lib/cursor.js';
import { FaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { toIso, toIsoOrNull } from '../lib/time.js';
import type { Alert } from '../rules/alerts.js';
import type { AlertTransition } from '../rules/engine.js';
import type { Comparison } from '../rules/schema.js';
import { render, type TemplateVars } from '../rules/template.js';
import { retarget } from './clock.js';
import { applyTransition } from './lifecycle.js';
import {
  isOpen as isOpenStatus,
  type NewTicketEvent,
  OPEN_STATUSES,
  PRIORITY_RANK,
  type RepairReport,
  type Reporter,
  type SlaClock,
  type SlaState,
  type SlaTarget,
  type Status,
  type Ticket,
  type TicketEvent,
} from './model.js';
import type { PreventiveSchedule } from './preventive.js';
import { type Route, route, type Team } from './routing.js';
import { calendarOf, clockState, computeClocks, type SlaPolicy } from './sla-policy.js';
import type { ListQuery, TicketFilter, TicketSort, TicketStore } from './store.js';

type TimeKeys = 'lastOccurrenceAt' | 'reportedAt' | 'createdAt' | 'updatedAt';

/** A ticket as the API shows it: ISO times, each clock with its state now. */
export type TicketView = Omit<Ticket, TimeKeys | 'finalAt' | 'sla' | 'report' | 'feedback'> & {
  report:
    | (Omit<RepairReport, 'at' | 'review'> & {
        at: string;
        review: Omit<RepairReport['review'], 'at'> & { at: string | null };
      })
    | null;
  feedback: { score: number; comment: string | null; at: string } | null;
  lastOccurrenceAt: string | null;
  reportedAt: string;
  createdAt: string;
  updatedAt: string;
  sla: Partial<
    Record<SlaTarget, { dueAt: string; state: SlaState; metAt: string | null; pausedAt: string | null }>
  >;
};

export interface TicketServiceOptions {
  store: TicketStore;
  policy: SlaPolicy;
  logger: Logger;
  /** The site a device stands at (for the service area and customer). */
  site: (id: string) => SiteConfig;
  /** Teams a new ticket is routed to (none: tickets wait for dispatch). */
  teams?: readonly Team[];
  routing?: { autoAssign: boolean };
  /** A device of the registry, for manual tickets naming the equipment. */
  device?: (id: string) => Device | undefined;
  now?: () => number;
}

export interface ManualTicketInput {
  title: string;
  description: string;
  priority: 'emergency' | 'general';
  source: 'phone' | 'portal' | 'email';
  reporter: Reporter;
  faultType: string;
  deviceId?: string;
  /** Without a device: the site (default: `default`). */
  site?: string;
  customer?: string;
  equipmentModel?: string;
  team?: string;
  labels?: Record<string, string>;
  /** When the fault was reported (default: now; never in the future). */
  reportedAt?: number;
  actor: string;
}

export interface ReportInput {
  cause: string;
  actions: string;
  partsUsed: { part: string; quantity: number }[];
  prevention: string;
}

function newReport(r: ReportInput, by: string, at: number): RepairReport {
  return { ...r, by, at, review: { state: 'pending', by: null, at: null, findings: null } };
}

function reportEvent(t: Ticket, by: string, at: number): NewTicketEvent {
  const parts = t.report?.partsUsed.map((p) => `${p.quantity}× ${p.part}`).join(', ') || 'no parts';
  return {
    at,
    type: 'report',
    actor: by,
    from: null,
    to: null,
    note: `repair report: ${t.report?.cause ?? ''} (${parts})`,
  };
}

export type TicketListener = (e: { kind: 'created' | 'occurrence' | 'transition'; ticket: Ticket }) => void;

/** The ticket side of the plan: intake from monitoring, lifecycle, SLA clocks. */
export class TicketService {
  private readonly now: () => number;
  private readonly listeners: TicketListener[] = [];

  constructor(private readonly opts: TicketServiceOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Told of every ticket change (notifications, live events, the demo). */
  onChange(l: TicketListener): void {
    this.listeners.push(l);
  }

  private emit(kind: 'created' | 'occurrence' | 'transition', ticket: Ticket): void {
    for (const l of this.listeners) {
      try {
        l({ kind, ticket });
      } catch (err) {
        this.opts.logger.error({ err, ticketId: ticket.id }, 'ticket listener failed');
      }
    }
  }

  get policy(): SlaPolicy {
    return this.opts.policy;
  }

  /**
   * A firing alert opens a ticket for its (rule, device), or counts an occurrence on the one
   * already open. Clocks start at the reading's time.
   */
  async openFromAlert(alert: Alert, t: AlertTransition): Promise<{ ticket: Ticket; created: boolean }> {
    const { rule, device, event } = t;
    const site = this.opts.site(device.site);
    const vars = templateVars(t, device);
    const title = render(event.entry?.title ?? rule.ticket.title ?? defaultTitle(t), vars);
    const description = render(rule.ticket.description ?? defaultDescription(t), vars);
    const now = this.now();
    const routed = rule.ticket.team ? null : await this.route(alert.faultType, site, now);
    const result = await this.opts.store.openOrRecur(
      {
        title,
        description,
        priority: alert.priority,
        status: 'open',
        source: 'monitoring',
        deviceId: device.id,
        site: site.id,
        area: site.area,
        customer: device.customer ?? site.customer ?? null,
        equipmentModel: device.model,
        ruleId: rule.id,
        alertId: alert.id,
        faultType: alert.faultType,
        reportedAt: event.at,
        createdAt: now,
        updatedAt: now,
        assignees: routed?.technician && this.opts.routing?.autoAssign ? [routed.technician] : [],
        team: rule.ticket.team ?? routed?.team ?? null,
        labels: rule.ticket.labels,
        reporter: null,
        sla: computeClocks(this.opts.policy, alert.priority, site.area, event.at),
      },
      now,
    );
    if (result.created && routed) {
      // Why the ticket went where it went, on its timeline.
      const t = await this.opts.store.update(result.ticket.id, (x) => ({
        ticket: x,
        events: [{ at: now, type: 'routed', actor: 'routing', from: null, to: null, note: routed.reason }],
      }));
      if (t) result.ticket = t;
    }
    this.opts.logger.info(
      { ticketId: result.ticket.id, ruleId: rule.id, deviceId: device.id, created: result.created },
      result.created ? 'ticket opened' : 'ticket occurrence',
    );
    this.emit(result.created ? 'created' : 'occurrence', result.ticket);
    return result;
  }

  /**
   * A ticket filed by a person (R2.1, R2.2): a hotline operator, the customer portal, an e-mail.
   * Same store, same clocks and routing as monitoring tickets; the reporter is kept on the ticket.
   */
  async createManual(input: ManualTicketInput): Promise<Ticket> {
    const now = this.now();
    const reportedAt = input.reportedAt ?? now;
    const device = input.deviceId ? this.opts.device?.(input.deviceId) : undefined;
    if (input.deviceId && !device)
      throw new FaultlineError('FL_ERR_DEVICE_NOT_FOUND', `device "${input.deviceId}" is not known`);
    const site = this.opts.site(device?.site ?? input.site ?? 'default');
    const routed = await this.route(input.faultType, site, now);
    const ticket = await this.opts.store.create(
      {
        title: input.title,
        description: input.description,
        priority: input.priority,
        status: 'open',
        source: input.source,
        deviceId: device?.id ?? null,
        site: site.id,
        area: site.area,
        customer: input.customer ?? device?.customer ?? site.customer ?? null,
        equipmentModel: device?.model ?? input.equipmentModel ?? null,
        ruleId: null,
        alertId: null,
        faultType: input.faultType,
        reportedAt,
        createdAt: now,
        updatedAt: now,
        assignees: routed?.technician && this.opts.routing?.autoAssign ? [routed.technician] : [],
        team: input.team ?? routed?.team ?? null,
        labels: input.labels ?? {},
        reporter: input.reporter,
        sla: computeClocks(this.opts.policy, input.priority, site.area, reportedAt),
      },
      {
        at: now,
        type: 'created',
        actor: input.actor,
        from: null,
        to: 'open',
        note: `filed via ${input.source} by ${input.reporter.name}${input.reporter.takenBy ? ` (taken by ${input.reporter.takenBy})` : ''}`,
      },
    );
    let t = ticket;
    if (routed && !input.team) {
      const r = await this.opts.store.update(t.id, (x) => ({
        ticket: x,
        events: [{ at: now, type: 'routed', actor: 'routing', from: null, to: null, note: routed.reason }],
      }));
      if (r) t = r;
    }
    this.opts.logger.info({ ticketId: t.id, source: input.source, priority: t.priority }, 'ticket filed');
    this.emit('created', t);
    return t;
  }

  /**
   * The preventive ticket of one planned visit (R1.3): opened `notice` before the visit, with the
   * visit as its deadline (arriving on time is its SLA). De-duplicated per (schedule, visit) by the
   * store, so a visit never gets two tickets. Returns the ticket, or null if the visit has one.
   */
  async openPreventive(s: PreventiveSchedule, device: Device, visitAt: number): Promise<Ticket | null> {
    const now = this.now();
    const site = this.opts.site(device.site);
    const routed = s.team ? null : await this.route(s.faultType, site, now);
    const when = new Date(visitAt).toISOString();
    const result = await this.opts.store.openOrRecur(
      {
        title: `${s.title}: ${device.name}`,
        description: `${s.description ? `${s.description}\n` : ''}Preventive visit planned for ${when} (schedule ${s.id}). Contact the customer to agree the time.`,
        priority: 'preventive',
        status: 'open',
        source: 'preventive',
        deviceId: device.id,
        site: site.id,
        area: site.area,
        customer: device.customer ?? site.customer ?? null,
        equipmentModel: device.model,
        ruleId: `preventive:${s.id}:${when}`,
        alertId: null,
        faultType: s.faultType,
        reportedAt: now,
        createdAt: now,
        updatedAt: now,
        assignees: routed?.technician && this.opts.routing?.autoAssign ? [routed.technician] : [],
        team: s.team ?? routed?.team ?? null,
        labels: { schedule: s.id },
        reporter: null,
        sla: computeClocks(this.opts.policy, 'preventive', site.area, now, visitAt),
      },
      now,
    );
    if (!result.created) return null;
    let t = result.ticket;
    if (routed) {
      const r = await this.opts.store.update(t.id, (x) => ({
        ticket: x,
        events: [{ at: now, type: 'routed', actor: 'routing', from: null, to: null, note: routed.reason }],
      }));
      if (r) t = r;
    }
    this.opts.logger.info(
      { ticketId: t.id, schedule: s.id, deviceId: device.id, visitAt: when },
      'preventive ticket opened',
    );
    this.emit('created', t);
    return t;
  }

  /** Team and suggested technician for a new ticket (see routing.ts), with the reason. */
  private async route(faultType: string, site: SiteConfig, at: number): Promise<Route | null> {
    const teams = this.opts.teams ?? [];
    if (teams.length === 0) return null;
    const ids = [...new Set(teams.flatMap((t) => t.technicians.map((p) => p.id)))];
    const loads = new Map<string, number>();
    for (const id of ids) {
      const page = await this.opts.store.list({
        filter: { assignee: id, status: [...OPEN_STATUSES] },
        sort: 'urgency',
        limit: 500,
        now: at,
        warnAt: this.opts.policy.warnAt,
      });
      loads.set(id, page.items.length);
    }
    return route(
      teams,
      { faultType, site: { id: site.id, area: site.area }, at },
      (id) => loads.get(id) ?? 0,
      (name) => calendarOf(this.opts.policy, name),
    );
  }

  /**
   * The alert behind an open ticket became an emergency: the ticket's class rises and its targets
   * are computed again from the original report time (clocks already met stay met).
   */
  async raiseFromAlert(alert: Alert, t: AlertTransition): Promise<Ticket | undefined> {
    const page = await this.opts.store.list({
      filter: { ruleId: alert.ruleId, deviceId: alert.deviceId, status: [...OPEN_STATUSES] },
      sort: 'urgency',
      limit: 1,
      now: this.now(),
      warnAt: this.opts.policy.warnAt,
    });
    const open = page.items[0];
    if (!open || PRIORITY_RANK[open.priority] <= PRIORITY_RANK[alert.priority]) return open;
    const at = this.now();
    const area = this.opts.site(t.device.site).area;
    const ticket = await this.opts.store.update(open.id, (current) => {
      // The new class's targets from the original report time; working time used and pauses carry over.
      const clocks = computeClocks(this.opts.policy, alert.priority, area, current.reportedAt);
      for (const [k, c] of Object.entries(clocks) as [SlaTarget, SlaClock][]) {
        const before = current.sla[k];
        if (!before) continue;
        if (before.calendar === c.calendar)
          clocks[k] = retarget(calendarOf(this.opts.policy, c.calendar), before, c.targetMs);
        else if (before.metAt !== null) clocks[k] = { ...c, metAt: before.metAt, runningSince: null };
      }
      return {
        ticket: { ...current, priority: alert.priority, sla: clocks, updatedAt: at },
        events: [
          {
            at,
            type: 'priority_raised',
            actor: 'monitoring',
            from: null,
            to: null,
            note: `priority ${current.priority} → ${alert.priority}: alert ${alert.id} (value ${t.event.value ?? 'n/a'})`,
          },
        ],
      };
    });
    if (ticket) {
      this.opts.logger.warn(
        { ticketId: ticket.id, ruleId: alert.ruleId, deviceId: alert.deviceId, priority: alert.priority },
        'ticket priority raised',
      );
      this.emit('transition', ticket);
    }
    return ticket;
  }

  /**
   * An alert fired on a device under the maintenance window of this ticket (a preventive visit):
   * noted on the ticket's timeline instead of opening a ticket of its own.
   */
  async noteMaintenanceAlert(ticketId: string, alert: Alert, silenceId: string): Promise<Ticket | undefined> {
    const at = this.now();
    return this.opts.store.update(ticketId, (t) => ({
      ticket: { ...t, updatedAt: at },
      events: [
        {
          at: alert.firedAt ?? at,
          type: 'maintenance_alert',
          actor: 'monitoring',
          from: null,
          to: null,
          note: `alert ${alert.id} fired during maintenance window ${silenceId} (value ${alert.value ?? 'n/a'})`,
        },
      ],
    }));
  }

  /** The alert behind an open ticket cleared: recorded on the timeline; the work goes on. */
  async alertResolved(alert: Alert): Promise<void> {
    await this.opts.store.noteOnOpen(alert.ruleId, alert.deviceId, {
      at: alert.resolvedAt ?? this.now(),
      type: 'alert_resolved',
      actor: 'monitoring',
      from: null,
      to: null,
      note: `alert ${alert.id} resolved`,
    });
  }

  async get(id: string): Promise<Ticket> {
    const t = await this.opts.store.get(id);
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    return t;
  }

  list(filter: TicketFilter, sort: TicketSort, limit: number, cursor?: string): Promise<Page<Ticket>> {
    const q: ListQuery = { filter, sort, limit, now: this.now(), warnAt: this.opts.policy.warnAt };
    if (cursor !== undefined) q.cursor = cursor;
    return this.opts.store.list(q);
  }

  timeline(id: string): Promise<TicketEvent[]> {
    return this.opts.store.timeline(id);
  }

  async transition(
    id: string,
    to: Status,
    actor: string,
    note: string | null,
    report?: ReportInput,
  ): Promise<Ticket> {
    const at = this.now();
    const t = await this.opts.store.update(id, (current) => {
      const events: NewTicketEvent[] = [];
      let base = current;
      if (report) {
        base = { ...current, report: newReport(report, actor, at) };
        events.push(reportEvent(base, actor, at));
      }
      // Resolving needs the repair report; closing needs the lead to have accepted it (R5.2).
      if (to === 'resolved' && !base.report)
        throw new FaultlineError(
          'FL_ERR_TICKET_TRANSITION',
          `ticket ${id} cannot be resolved without a repair report (cause, actions, parts used, prevention)`,
        );
      if (to === 'closed' && base.report && base.report.review.state !== 'accepted')
        throw new FaultlineError(
          'FL_ERR_TICKET_TRANSITION',
          `ticket ${id} cannot be closed before its repair report is accepted (review: ${base.report.review.state})`,
        );
      events.push({ at, type: 'status', actor, from: current.status, to, note });
      return { ticket: applyTransition(base, to, at, (name) => calendarOf(this.opts.policy, name)), events };
    });
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    this.emit('transition', t);
    return t;
  }

  /**
   * Assigns people (the lead and the experts the lead calls in) or takes them off; the first one is
   * the lead of the work. Recorded on the timeline.
   */
  async assign(
    id: string,
    add: readonly string[],
    remove: readonly string[],
    actor: string,
  ): Promise<Ticket> {
    const at = this.now();
    const t = await this.opts.store.update(id, (current) => {
      if (!isOpenStatus(current.status))
        throw new FaultlineError(
          'FL_ERR_TICKET_TRANSITION',
          `ticket ${id} is ${current.status}: assignments are closed`,
        );
      const assignees = [...current.assignees.filter((a) => !remove.includes(a))];
      for (const a of add) if (!assignees.includes(a)) assignees.push(a);
      const parts = [
        add.length ? `added ${add.join(', ')}` : '',
        remove.length ? `removed ${remove.join(', ')}` : '',
      ].filter(Boolean);
      return {
        ticket: { ...current, assignees, updatedAt: at },
        events: [
          {
            at,
            type: 'assigned',
            actor,
            from: null,
            to: null,
            note: `${parts.join('; ')} → ${assignees.join(', ') || 'nobody'}`,
          },
        ],
      };
    });
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    this.emit('transition', t);
    return t;
  }

  /** The repair report (again, after it was returned): the lead's review starts afresh. */
  async submitReport(id: string, input: ReportInput, by: string): Promise<Ticket> {
    const at = this.now();
    const t = await this.opts.store.update(id, (current) => {
      const ticket = { ...current, report: newReport(input, by, at), updatedAt: at };
      return { ticket, events: [reportEvent(ticket, by, at)] };
    });
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    return t;
  }

  /** The team lead accepts the report, or returns it with findings (which feed process improvements). */
  async reviewReport(id: string, accepted: boolean, findings: string | null, by: string): Promise<Ticket> {
    const at = this.now();
    const t = await this.opts.store.update(id, (current) => {
      if (!current.report)
        throw new FaultlineError('FL_ERR_TICKET_TRANSITION', `ticket ${id} has no repair report to review`);
      if (!accepted && !findings)
        throw new FaultlineError('FL_ERR_API_VALIDATION', 'body findings: a returned report needs findings');
      const review = { state: accepted ? ('accepted' as const) : ('returned' as const), by, at, findings };
      return {
        ticket: { ...current, report: { ...current.report, review }, updatedAt: at },
        events: [
          {
            at,
            type: 'review',
            actor: by,
            from: null,
            to: null,
            note: accepted ? 'report accepted' : `report returned: ${findings}`,
          },
        ],
      };
    });
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    return t;
  }

  /** The customer's satisfaction (1–5) and comment, once the work is done. */
  async feedback(id: string, score: 1 | 2 | 3 | 4 | 5, comment: string | null): Promise<Ticket> {
    const at = this.now();
    const t = await this.opts.store.update(id, (current) => {
      if (current.status !== 'resolved' && current.status !== 'closed')
        throw new FaultlineError(
          'FL_ERR_TICKET_TRANSITION',
          `ticket ${id} is ${current.status}: feedback comes after the work`,
        );
      return {
        ticket: { ...current, feedback: { score, comment, at }, updatedAt: at },
        events: [
          {
            at,
            type: 'feedback',
            actor: 'customer',
            from: null,
            to: null,
            note: `${score}/5${comment ? `: ${comment}` : ''}`,
          },
        ],
      };
    });
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    return t;
  }

  /** A comment on the timeline: remote support given while the technician travels, a call back, … */
  async comment(id: string, note: string, actor: string): Promise<Ticket> {
    const at = this.now();
    const t = await this.opts.store.update(id, (current) => ({
      ticket: { ...current, updatedAt: at },
      events: [{ at, type: 'comment', actor, from: null, to: null, note }],
    }));
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    return t;
  }

  view(t: Ticket): TicketView {
    const judgeAt = t.finalAt ?? this.now();
    const sla: TicketView['sla'] = {};
    for (const [k, c] of Object.entries(t.sla) as [SlaTarget, NonNullable<Ticket['sla'][SlaTarget]>][]) {
      sla[k] = {
        dueAt: toIso(c.dueAt),
        state: clockState(this.opts.policy, c, judgeAt),
        metAt: toIsoOrNull(c.metAt),
        pausedAt: toIsoOrNull(c.pausedAt),
      };
    }
    const { finalAt: _finalAt, ...rest } = t;
    return {
      ...rest,
      lastOccurrenceAt: toIsoOrNull(t.lastOccurrenceAt),
      reportedAt: toIso(t.reportedAt),
      createdAt: toIso(t.createdAt),
      updatedAt: toIso(t.updatedAt),
      sla,
      report: t.report
        ? {
            ...t.report,
            at: toIso(t.report.at),
            review: { ...t.report.review, at: toIsoOrNull(t.report.review.at) },
          }
        : null,
      feedback: t.feedback ? { ...t.feedback, at: toIso(t.feedback.at) } : null,
    };
  }
}

function templateVars(t: AlertTransition, device: Device): TemplateVars {
  const c = t.rule.condition;
  return {
    'device.id': device.id,
    'device.name': device.name,
    'device.model': device.model,
    'device.site': device.site,
    'device.customer': device.customer,
    'rule.id': t.rule.id,
    'rule.description': t.rule.description,
    metric: 'metric' in c && c.metric ? c.metric : c.kind,
    value: typeof t.event.value === 'boolean' ? String(t.event.value) : t.event.value,
    threshold: 'cmp' in c ? levelOf(c.cmp) : null,
    codes: c.kind === 'errorCode' ? String(t.event.value ?? '') : null,
  };
}

function levelOf(c: Comparison): string | number {
  return 'level' in c ? c.level : `${c.op} ${c.low}..${c.high}`;
}

function defaultTitle(t: AlertTransition): string {
  return t.rule.condition.kind === 'errorCode'
    ? '{{device.name}}: error {{codes}}'
    : `{{device.name}}: {{metric}} at {{value}} (${t.rule.description || t.rule.id})`;
}

function defaultDescription(t: AlertTransition): string {
  const what = t.rule.description ? `${t.rule.description}. ` : '';
  return t.rule.condition.kind === 'errorCode'
    ? `${what}Device {{device.id}} reported error code(s) {{codes}}. Rule {{rule.id}}.`
    : `${what}Device {{device.id}} reported {{metric}} = {{value}} (threshold {{threshold}}). Rule {{rule.id}}.`;
}
