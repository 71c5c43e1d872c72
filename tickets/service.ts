import type { SiteConfig } from '../ingest/config.js';
import { customerOf, type Device } from '../ingest/devices.js';
import type { Page } from '../lib/cursor.js';
import { FaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { toIso, toIsoOrNull } from '../lib/time.js';
import type { Alert } from '../rules/alerts.js';
import type { AlertTransition } from '../rules/engine.js';
import type { Comparison } from '../rules/schema.js';
import { render, type TemplateVars } from '../rules/template.js';
import { meetClock, retarget, worked } from './clock.js';
import {
  type Customer,
  type CustomerNotice,
  type CustomerUpdate,
  recipients,
  updateText,
} from './customers.js';
import { allowedTransitions, applyTransition, nextStatuses, type TransitionContext } from './lifecycle.js';
import {
  type Dispatch,
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
  type WaitReason,
} from './model.js';
import type { PreventiveSchedule } from './preventive.js';
import { levelIn, type Requirement, type Route, route, type Team, trained } from './routing.js';
import { calendarOf, clockState, computeClocks, pausedBy, type SlaPolicy } from './sla-policy.js';
import { computeStats, type GroupBy, type Stats, type TicketWithTimeline } from './stats.js';
import type { ListQuery, TicketFilter, TicketSort, TicketStore } from './store.js';

type TimeKeys = 'lastOccurrenceAt' | 'reportedAt' | 'createdAt' | 'updatedAt';

/** A ticket as the API shows it: ISO times, each clock with its state now. */
export type TicketView = Omit<
  Ticket,
  TimeKeys | 'finalAt' | 'sla' | 'report' | 'feedback' | 'dispatch' | 'waitingFor'
> & {
  waitingFor: { part: string; quantity: number; expectedAt: string | null }[] | null;
  dispatch:
    | (Omit<Dispatch, 'appointmentAt' | 'plannedAt'> & { appointmentAt: string; plannedAt: string })
    | null;
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
  sla: Partial<Record<SlaTarget, ClockView>>;
};

/**
 * A clock as the API shows it: its deadline and state, and — for a bar of the share elapsed — its
 * target and the working time it has used (business hours and pauses excluded), at the answer.
 */
export interface ClockView {
  dueAt: string;
  state: SlaState;
  metAt: string | null;
  pausedAt: string | null;
  targetMs: number;
  elapsedMs: number;
}

/** Where a ticket's parts come from first: the technicians' vans, the team's stock, stores near the site. */
export interface NearbyStock {
  site: string | null;
  technicians: readonly string[];
  team: string | null;
}

/**
 * Spare parts (R4.2) as the tickets need them: a dispatch reserves its parts, the repair report's
 * parts are taken from stock when the ticket is resolved, and a ticket cancelled or closed gives
 * back what it still holds. Implemented by parts/stock.ts.
 */
export interface PartsPort {
  tracked(part: string): boolean;
  reserve(
    ticketId: string,
    items: readonly { part: string; quantity: number; from?: string }[],
    near: NearbyStock,
    actor: string,
  ): Promise<{ id: number; part: string; quantity: number; location: string }[]>;
  use(
    ticketId: string,
    items: readonly { part: string; quantity: number }[],
    near: NearbyStock,
    actor: string,
  ): Promise<{
    used: { part: string; quantity: number; location: string }[];
    missing: { part: string; quantity: number }[];
  }>;
  release(
    ticketId: string,
    actor: string,
    only?: readonly number[],
  ): Promise<{ part: string; quantity: number; location: string }[]>;
  hasUsed(ticketId: string): Promise<boolean>;
  /** When an order placed now would arrive (the preferred, else fastest supplier); null: not known. */
  expectedArrival(part: string, from: number): number | null;
}

export interface TicketServiceOptions {
  store: TicketStore;
  policy: SlaPolicy;
  logger: Logger;
  /** The site a device stands at (for the service area and customer). */
  site: (id: string) => SiteConfig;
  /** Teams a new ticket is routed to (none: tickets wait for dispatch). */
  teams?: readonly Team[];
  routing?: { autoAssign: boolean; requirements?: Readonly<Record<string, Requirement>> };
  /** A device of the registry, for manual tickets naming the equipment. */
  device?: (id: string) => Device | undefined;
  /** Customer records: their contacts hear of new tickets, visits, resolution and closing. */
  customers?: readonly Customer[];
  /** Spare parts stock (reservations on dispatch, use on resolution). */
  parts?: PartsPort;
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

/** A status change and what goes with it. */
export interface TransitionInput {
  actor: string;
  note?: string | null;
  /** Resolving needs the repair report: give it here, or before with `submitReport`. */
  report?: ReportInput;
  /** Entering `waiting`: what the ticket waits on (default `customer`). */
  waitingOn?: WaitReason;
  /** Waiting on parts: which (the expected arrival follows from the supplier's lead time). */
  waitingFor?: { part: string; quantity: number }[];
  /** Entering `dispatched`: the planned visit (required). */
  dispatch?: DispatchInput;
}

export interface DispatchInput {
  /** Default: the team's kind (a partner team → `partner`). */
  by?: 'own' | 'partner';
  /** Default: the ticket's team. */
  team?: string;
  /** Who goes (default: the ticket's assignees); they are added to the assignees. */
  technicians?: string[];
  appointmentAt: number;
  tools?: string[];
  /** Parts to take along: reserved from stock (`from` a location, else the nearest that has them). */
  parts?: { part: string; quantity: number; from?: string }[];
  note?: string;
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

export type TicketChange = 'created' | 'occurrence' | 'transition' | 'visit';

/** Occurrences and recoveries of one ticket's alert counted since `since` but not yet on its timeline. */
export interface RecurrenceSummary {
  alertId: string;
  since: number;
  occurrences: { count: number; lastAt: number };
  recoveries: { count: number; lastAt: number };
}

const plural = (n: number, word: string) => (n === 1 ? word : `${word}s`);
export type TicketListener = (e: { kind: TicketChange; ticket: Ticket }) => void;

/** The ticket side of the plan: intake from monitoring, lifecycle, SLA clocks. */
export class TicketService {
  private readonly now: () => number;
  private loadCache: { at: number; loads: Map<string, number> } | undefined;
  private readonly listeners: TicketListener[] = [];

  constructor(private readonly opts: TicketServiceOptions) {
    this.now = opts.now ?? Date.now;
  }

  private readonly customerListeners: ((n: CustomerNotice) => void)[] = [];

  /** Told of every update to a customer (webhooks, mail); they are on the timeline either way. */
  onCustomerNotice(l: (n: CustomerNotice) => void): void {
    this.customerListeners.push(l);
  }

  /** Told of every ticket change (notifications, live events, the demo). */
  onChange(l: TicketListener): void {
    this.listeners.push(l);
  }

  private emit(kind: TicketChange, ticket: Ticket): void {
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
    const now = this.now();
    // An open ticket for the pair: one more occurrence, no routing or rendering (a flapping alert).
    const open = await this.opts.store.recur(rule.id, device.id, now);
    if (open) return this.occurred(open);
    const site = this.opts.site(device.site);
    const vars = templateVars(t, device);
    const title = render(event.entry?.title ?? rule.ticket.title ?? defaultTitle(t), vars);
    const description = render(rule.ticket.description ?? defaultDescription(t), vars);
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
        customer: customerOf(device, site),
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
    if (!result.created) return this.occurred(result.ticket);
    result.ticket = await this.afterCreate(result.ticket, routed, now);
    this.opts.logger.info(
      { ticketId: result.ticket.id, ruleId: rule.id, deviceId: device.id },
      'ticket opened',
    );
    this.emit('created', result.ticket);
    return result;
  }

  private occurred(ticket: Ticket): { ticket: Ticket; created: false } {
    this.opts.logger.debug(
      {
        ticketId: ticket.id,
        ruleId: ticket.ruleId,
        deviceId: ticket.deviceId,
        occurrences: ticket.occurrences,
      },
      'ticket occurrence',
    );
    this.emit('occurrence', ticket);
    return { ticket, created: false };
  }

  /**
   * A ticket filed by a person (R2.1, R2.2): a hotline operator, the customer portal, an e-mail.
   * Same store, same clocks and routing as monitoring tickets; the reporter is kept on the ticket.
   */
  async createManual(
    input: ManualTicketInput,
    mayFile: (scope: { site: string; customer: string | null }) => boolean = () => true,
  ): Promise<Ticket> {
    const now = this.now();
    const reportedAt = input.reportedAt ?? now;
    const device = input.deviceId ? this.opts.device?.(input.deviceId) : undefined;
    // A device the caller may not file for (another customer's, another site's) gets the same
    // answer as one that does not exist: no probing for device ids (issue 18).
    if (input.deviceId) {
      const owner = device ? customerOf(device, this.opts.site(device.site)) : null;
      if (!device || !mayFile({ site: device.site, customer: owner }))
        throw new FaultlineError('FL_ERR_DEVICE_NOT_FOUND', `device "${input.deviceId}" is not known`);
    }
    const site = this.opts.site(device?.site ?? input.site ?? 'default');
    // A named site must be the caller's; without one, the ticket is the caller's own request.
    const owner =
      input.site !== undefined ? (site.customer ?? null) : (input.customer ?? site.customer ?? null);
    if (!device && !mayFile({ site: input.site ?? site.id, customer: owner }))
      throw new FaultlineError(
        'FL_ERR_AUTH_FORBIDDEN',
        `this key may not file tickets at site "${input.site ?? site.id}"`,
      );
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
        customer: input.customer ?? customerOf(device ?? { customer: null }, site),
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
    const t = await this.afterCreate(ticket, input.team ? null : routed, now);
    this.opts.logger.info({ ticketId: t.id, source: input.source, priority: t.priority }, 'ticket filed');
    this.emit('created', t);
    return t;
  }

  /**
   * The preventive ticket of one planned visit (R1.3): opened `notice` before the visit, with the
   * visit as its deadline (arriving on time is its SLA). De-duplicated per (schedule, visit) by the
   * store, so a visit never gets two tickets. Returns the ticket, or null if the visit has one.
   */
  async openPreventive(
    s: PreventiveSchedule,
    device: Device,
    visitAt: number,
    usage?: { key: string; detail: string },
  ): Promise<Ticket | null> {
    const now = this.now();
    const site = this.opts.site(device.site);
    const routed = s.team ? null : await this.route(s.faultType, site, now);
    const when = new Date(visitAt).toISOString();
    const why = usage ? `${usage.detail} ` : '';
    const result = await this.opts.store.openOrRecur(
      {
        title: `${s.title}: ${device.name}`,
        description: `${s.description ? `${s.description}\n` : ''}${why}Preventive visit planned for ${when} (schedule ${s.id}). Contact the customer to agree the time.`,
        priority: 'preventive',
        status: 'open',
        source: 'preventive',
        deviceId: device.id,
        site: site.id,
        area: site.area,
        customer: customerOf(device, site),
        equipmentModel: device.model,
        ruleId: `preventive:${s.id}:${usage?.key ?? when}`,
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
    const t = await this.afterCreate(result.ticket, routed, now);
    this.opts.logger.info(
      { ticketId: t.id, schedule: s.id, deviceId: device.id, visitAt: when },
      'preventive ticket opened',
    );
    this.emit('created', t);
    return t;
  }

  /**
   * After a ticket is filed: why it went where it went (routing), and the customer told it was
   * received with the expected response time — on the timeline in one write.
   */
  private async afterCreate(t: Ticket, routed: Route | null, now: number): Promise<Ticket> {
    const notices: CustomerNotice[] = [];
    const r = await this.opts.store.update(t.id, (x) => {
      const events: NewTicketEvent[] = [];
      if (routed)
        events.push({ at: now, type: 'routed', actor: 'routing', from: null, to: null, note: routed.reason });
      events.push(...this.tellCustomer(x, 'received', now, notices));
      return { ticket: x, events };
    });
    this.deliver(notices);
    return r ?? t;
  }

  /** The customer's contacts for this update: timeline entries now, delivery after the write. */
  private tellCustomer(
    t: Ticket,
    update: CustomerUpdate,
    at: number,
    out: CustomerNotice[],
  ): NewTicketEvent[] {
    const c = t.customer ? this.opts.customers?.find((x) => x.id === t.customer) : undefined;
    if (!c) return [];
    const to = recipients(c, update, t.site);
    if (to.length === 0) return [];
    const text = updateText(t, update);
    const contacts = to.map((p) => ({
      name: p.name,
      ...(p.email ? { email: p.email } : {}),
      ...(p.phone ? { phone: p.phone } : {}),
    }));
    out.push({ ticketId: t.id, customer: c.id, site: t.site, update, at, contacts, text });
    const names = to.map((p) => `${p.name} <${p.email ?? p.phone}>`).join(', ');
    return [
      {
        at,
        type: 'notification',
        actor: 'customer-updates',
        from: null,
        to: null,
        note: `customer ${c.id} (${update}) → ${names}: ${text}`,
      },
    ];
  }

  private deliver(notices: CustomerNotice[]): void {
    for (const n of notices)
      for (const l of this.customerListeners) {
        try {
          l(n);
        } catch (err) {
          this.opts.logger.error({ err, ticketId: n.ticketId }, 'customer notice delivery failed');
        }
      }
  }

  /** A customer record by id. */
  customer(id: string): Customer | undefined {
    return this.opts.customers?.find((c) => c.id === id);
  }

  /** Whether customer records are configured (then tickets name one of them). */
  hasCustomers(): boolean {
    return (this.opts.customers?.length ?? 0) > 0;
  }

  customers(): readonly Customer[] {
    return this.opts.customers ?? [];
  }

  /**
   * The technicians (R4.1): team, skills with levels, trainings (valid now or not), whether on call
   * now, and how many open tickets they have.
   */
  /** Tickets in an open status per class (priority). */
  openByPriority(): Promise<Record<string, number>> {
    return this.opts.store.openByPriority();
  }

  /** The newest ticket of each alert: alert id → ticket id. */
  ticketsOfAlerts(alertIds: readonly string[]): Promise<Map<string, string>> {
    return this.opts.store.ticketsOfAlerts(alertIds);
  }

  async technicians(sites: readonly string[] | null = null): Promise<
    {
      id: string;
      name: string | null;
      team: string;
      partner: boolean;
      skills: { skill: string; level: number }[];
      training: { id: string; validUntil: string | null; valid: boolean }[];
      onCall: boolean;
      openTickets: number;
    }[]
  > {
    const at = this.now();
    // A caller limited to sites sees the load of those sites only.
    const loads = await this.opts.store.openCounts(sites);
    const out = [];
    for (const team of this.opts.teams ?? [])
      for (const p of team.technicians) {
        const open = loads.get(p.id) ?? 0;
        const skills = (p.skills ?? team.skills).map((s) => (typeof s === 'string' ? s : s.skill));
        out.push({
          id: p.id,
          name: p.name ?? null,
          team: team.id,
          partner: team.partner,
          skills: skills.map((skill) => ({ skill, level: levelIn(p, team, skill) })),
          training: p.training.map((t) => ({
            id: t.id,
            validUntil: t.validUntil ?? null,
            valid: trained(p, t.id, at),
          })),
          onCall: !p.onCall || calendarOf(this.opts.policy, p.onCall).isOpen(at),
          openTickets: open,
        });
      }
    return out;
  }

  /** How many open tickets a technician has (up to 500: enough to compare loads). */
  /** Team and suggested technician for a new ticket (see routing.ts), with the reason. */
  private async route(faultType: string, site: SiteConfig, at: number): Promise<Route | null> {
    const teams = this.opts.teams ?? [];
    if (teams.length === 0) return null;
    const loads = await this.routingLoads(at);
    const r = route(
      teams,
      { faultType, site: { id: site.id, area: site.area }, at },
      (id) => loads.get(id) ?? 0,
      (name) => calendarOf(this.opts.policy, name),
      this.opts.routing?.requirements,
    );
    // Counted at once, so that a burst of tickets within the cache's second is spread out.
    if (r?.technician && this.opts.routing?.autoAssign)
      loads.set(r.technician, (loads.get(r.technician) ?? 0) + 1);
    return r;
  }

  /**
   * Open tickets per technician for routing, read from the store at most once a second (with many
   * open tickets the count costs milliseconds, and a burst of faults opens many tickets at once).
   */
  private async routingLoads(at: number): Promise<Map<string, number>> {
    const c = this.loadCache;
    if (c && at >= c.at && at - c.at < 1_000) return c.loads;
    const loads = await this.opts.store.openCounts();
    this.loadCache = { at, loads };
    return loads;
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
  /**
   * Counts an occurrence on the open ticket of (rule, device) without a timeline entry or an event —
   * the intake sums them (tickets/alert-intake.ts); returns the ticket's id, `undefined`: none open.
   */
  countOccurrence(ruleId: string, deviceId: string): Promise<string | undefined> {
    return this.opts.store.count(ruleId, deviceId, this.now());
  }

  /**
   * One timeline entry for occurrences and one for recoveries that were counted but not noted one by
   * one (a flapping alert), in the order they ended; then a `ticket.occurrence` event if any fired.
   */
  async noteRecurrences(ticketId: string, s: RecurrenceSummary): Promise<void> {
    const entries: NewTicketEvent[] = [];
    const base = { actor: 'monitoring', from: null, to: null } as const;
    if (s.occurrences.count > 0)
      entries.push({
        ...base,
        at: s.occurrences.lastAt,
        type: 'occurrence',
        note: `${s.occurrences.count} more ${plural(s.occurrences.count, 'occurrence')} since ${toIso(s.since)}, the last at ${toIso(s.occurrences.lastAt)}`,
      });
    if (s.recoveries.count > 0)
      entries.push({
        ...base,
        at: s.recoveries.lastAt,
        type: 'alert_resolved',
        note: `alert ${s.alertId} resolved ${s.recoveries.count} more ${plural(s.recoveries.count, 'time')} since ${toIso(s.since)}, the last at ${toIso(s.recoveries.lastAt)}`,
      });
    if (entries.length === 0) return;
    entries.sort((a, b) => a.at - b.at);
    const ticket = await this.opts.store.update(ticketId, (t) => ({ ticket: t, events: entries }));
    if (ticket && s.occurrences.count > 0) this.occurred(ticket);
  }

  /** Notes an alert's recovery on the open ticket of its pair; returns the ticket's id, if any. */
  async alertResolved(alert: Alert): Promise<string | undefined> {
    return this.opts.store.noteOnOpen(alert.ruleId, alert.deviceId, {
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
    const q: ListQuery = { filter, sort, limit, now: this.now() };
    if (cursor !== undefined) q.cursor = cursor;
    return this.opts.store.list(q);
  }

  /**
   * Statistics of the tickets filed in [from, to) that match `filter` (R6.2, R6.3): see stats.ts.
   * Reads them page by page with their timelines.
   */
  async stats(filter: TicketFilter, from: number, to: number, by: GroupBy): Promise<Stats> {
    const items: TicketWithTimeline[] = [];
    for (const ticket of await this.filedIn(filter, from, to))
      items.push({ ticket, timeline: await this.opts.store.timeline(ticket.id) });
    return computeStats(items, by, this.now());
  }

  /** Every ticket matching `filter` filed in [from, to), page by page (newest first). */
  async filedIn(filter: TicketFilter, from: number, to: number): Promise<Ticket[]> {
    const out: Ticket[] = [];
    let cursor: string | undefined;
    do {
      const q: ListQuery = {
        filter: { ...filter, createdFrom: from, createdTo: to },
        sort: '-createdAt',
        limit: 500,
        now: this.now(),
      };
      if (cursor) q.cursor = cursor;
      const page = await this.opts.store.list(q);
      out.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** A note of another part of the system on the timeline (likely parts, …). */
  async note(
    id: string,
    type: 'parts' | 'comment',
    note: string,
    actor: string,
  ): Promise<Ticket | undefined> {
    const at = this.now();
    return this.opts.store.update(id, (t) => ({
      ticket: t,
      events: [{ at, type, actor, from: null, to: null, note }],
    }));
  }

  timeline(id: string): Promise<TicketEvent[]> {
    return this.opts.store.timeline(id);
  }

  async transition(id: string, to: Status, input: TransitionInput): Promise<Ticket> {
    // The visit's parts are reserved first (all or nothing); if the ticket then refuses the change,
    // the reservation is taken back.
    const reserved = await this.reserveFor(id, to, input);
    try {
      const t = await this.changeStatus(id, to, input);
      await this.partsAfter(t, to, input.actor, reserved);
      return t;
    } catch (err) {
      if (reserved.length)
        await this.opts.parts?.release(
          id,
          input.actor,
          reserved.map((r) => r.id),
        );
      throw err;
    }
  }

  private near(t: Ticket, technicians?: readonly string[], team?: string | null): NearbyStock {
    return { site: t.site, technicians: technicians ?? t.assignees, team: team ?? t.team };
  }

  private async reserveFor(id: string, to: Status, input: TransitionInput) {
    const parts = this.opts.parts;
    const wanted = input.dispatch?.parts ?? [];
    if (!parts || to !== 'dispatched' || wanted.length === 0) return [];
    const current = await this.get(id);
    if (!allowedTransitions(current.status).includes(to)) return []; // the change itself says why not
    const technicians = input.dispatch?.technicians ?? current.assignees;
    return parts.reserve(
      id,
      wanted,
      this.near(current, technicians, input.dispatch?.team ?? current.team),
      input.actor,
    );
  }

  /** After the change: the reservation on the timeline, parts used on resolution, the rest released. */
  private async partsAfter(
    t: Ticket,
    to: Status,
    actor: string,
    reserved: readonly { part: string; quantity: number; location: string }[],
  ): Promise<void> {
    const parts = this.opts.parts;
    if (!parts) return;
    const lines: string[] = [];
    const list = (xs: readonly { part: string; quantity: number; location?: string }[]) =>
      xs.map((x) => `${x.quantity}× ${x.part}${x.location ? ` at ${x.location}` : ''}`).join(', ');
    if (reserved.length) lines.push(`reserved ${list(reserved)}`);
    if (to === 'resolved' && t.report && !(await parts.hasUsed(t.id))) {
      const r = await parts.use(t.id, t.report.partsUsed, this.near(t), actor);
      if (r.used.length) lines.push(`used ${list(r.used)}`);
      if (r.missing.length) lines.push(`not in the stock records: ${list(r.missing)} — check the count`);
    }
    if (to === 'cancelled' || to === 'closed' || to === 'resolved') {
      const back = await parts.release(t.id, actor);
      if (back.length) lines.push(`released ${list(back)}`);
    }
    if (lines.length === 0) return;
    const at = this.now();
    await this.opts.store.update(t.id, (x) => ({
      ticket: x,
      events: [{ at, type: 'parts', actor, from: null, to: null, note: lines.join('; ') }],
    }));
  }

  private async changeStatus(id: string, to: Status, input: TransitionInput): Promise<Ticket> {
    const at = this.now();
    const { actor, report } = input;
    const note = input.note ?? null;
    const notices: CustomerNotice[] = [];
    const t = await this.opts.store.update(id, (current) => {
      const events: NewTicketEvent[] = [];
      let base = current;
      if (report) {
        base = { ...current, report: newReport(report, actor, at) };
        events.push(reportEvent(base, actor, at));
      }
      if (input.waitingOn && to !== 'waiting')
        throw new FaultlineError('FL_ERR_API_VALIDATION', 'body waitingOn: only for "waiting"');
      if (input.waitingFor && (to !== 'waiting' || input.waitingOn !== 'parts'))
        throw new FaultlineError('FL_ERR_API_VALIDATION', 'body waitingFor: only when waiting on parts');
      if (to === 'waiting' && input.waitingFor) {
        const parts = this.opts.parts;
        base = {
          ...base,
          waitingFor: input.waitingFor.map((p) => ({
            ...p,
            expectedAt: parts?.expectedArrival(p.part, at) ?? null,
          })),
        };
      }
      if (input.dispatch && to !== 'dispatched')
        throw new FaultlineError('FL_ERR_API_VALIDATION', 'body dispatch: only for "dispatched"');
      // A visit is planned with who goes and when (R4.1): no dispatch without it.
      if (to === 'dispatched' && current.status !== 'dispatched') {
        if (!input.dispatch)
          throw new FaultlineError(
            'FL_ERR_API_VALIDATION',
            'body dispatch: dispatching needs the planned visit (appointmentAt, technicians or team, tools, parts)',
          );
        const d = this.plan(base, input.dispatch, actor, at);
        base = { ...base, dispatch: d, assignees: [...new Set([...base.assignees, ...d.technicians])] };
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
      events.push({
        at,
        type: 'status',
        actor,
        from: current.status,
        to,
        note: to === 'waiting' ? waitingNote(input.waitingOn ?? 'customer', base.waitingFor, note) : note,
      });
      if (to === 'dispatched' && base.dispatch && base !== current)
        events.push(dispatchEvent(base, base.dispatch));
      const next = applyTransition(base, to, at, this.transitionContext(base, input.waitingOn));
      const update: CustomerUpdate | null =
        to === 'dispatched' && current.status !== 'dispatched'
          ? 'visit'
          : to === 'resolved' || to === 'closed'
            ? to
            : null;
      if (update) events.push(...this.tellCustomer(next, update, at, notices));
      return { ticket: next, events };
    });
    this.deliver(notices);
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    this.emit('transition', t);
    return t;
  }

  private transitionContext(t: Ticket, waitingOn: WaitReason | undefined): TransitionContext {
    const ctx: TransitionContext = {
      calendars: (name) => calendarOf(this.opts.policy, name),
      pauses: (reason) => pausedBy(this.opts.policy, t.priority, reason),
    };
    if (waitingOn) ctx.waitingOn = waitingOn;
    return ctx;
  }

  /** The visit as planned: the team's kind decides own vs partner; technicians default to the assignees. */
  private plan(t: Ticket, d: DispatchInput, actor: string, at: number): Dispatch {
    const teamId = d.team ?? t.team;
    const team = teamId ? this.opts.teams?.find((x) => x.id === teamId) : undefined;
    if (d.team && this.opts.teams?.length && !team)
      throw new FaultlineError(
        'FL_ERR_API_VALIDATION',
        `body dispatch.team: unknown team "${d.team}" (teams: ${this.opts.teams.map((x) => x.id).join(', ')})`,
      );
    const technicians = d.technicians ?? t.assignees;
    if (technicians.length === 0 && !teamId)
      throw new FaultlineError(
        'FL_ERR_API_VALIDATION',
        'body dispatch: name the technicians or the team that goes (the ticket has neither)',
      );
    return {
      by: d.by ?? (team?.partner ? 'partner' : 'own'),
      team: teamId ?? null,
      technicians,
      appointmentAt: d.appointmentAt,
      tools: d.tools ?? [],
      parts: (d.parts ?? []).map(({ part, quantity }) => ({ part, quantity })),
      note: d.note ?? null,
      plannedAt: at,
      plannedBy: actor,
    };
  }

  /**
   * Another visit time was agreed with the customer: for a dispatched ticket the appointment moves;
   * for a preventive ticket the visit (its deadline) moves, and contacting the customer meets its
   * response clock. Listeners hear `visit` (the gateway moves the maintenance window).
   */
  async agreeVisit(id: string, visitAt: number, actor: string, note: string | null): Promise<Ticket> {
    const at = this.now();
    const notices: CustomerNotice[] = [];
    const t = await this.opts.store.update(id, (current) => {
      if (!isOpenStatus(current.status))
        throw new FaultlineError(
          'FL_ERR_TICKET_TRANSITION',
          `ticket ${id} is ${current.status}: no visit to agree`,
        );
      const events: NewTicketEvent[] = [];
      let next: Ticket = { ...current, updatedAt: at };
      const before: number[] = [];
      if (current.dispatch && current.status === 'dispatched') {
        before.push(current.dispatch.appointmentAt);
        next = { ...next, dispatch: { ...current.dispatch, appointmentAt: visitAt } };
      } else if (current.priority === 'preventive' && current.sla.visit && current.sla.visit.metAt === null) {
        before.push(current.sla.visit.dueAt);
        const sla = { ...current.sla };
        const visit = current.sla.visit;
        sla.visit = retarget(
          calendarOf(this.opts.policy, visit.calendar),
          visit,
          Math.max(0, visitAt - visit.startAt),
        );
        if (sla.response && sla.response.metAt === null)
          sla.response = meetClock(calendarOf(this.opts.policy, sla.response.calendar), sla.response, at);
        next = { ...next, sla };
      } else
        throw new FaultlineError(
          'FL_ERR_TICKET_TRANSITION',
          `ticket ${id} has no visit to move (dispatch it, or it is not a preventive ticket before its visit)`,
        );
      events.push({
        at,
        type: 'visit_agreed',
        actor,
        from: null,
        to: null,
        note: `visit ${toIso(before[0] as number)} → ${toIso(visitAt)}${note ? `: ${note}` : ''}`,
      });
      events.push(...this.tellCustomer(next, 'visit', at, notices));
      return { ticket: next, events };
    });
    this.deliver(notices);
    if (!t) throw new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);
    this.emit('visit', t);
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
    /** The whole list in this order (setting the assignees rather than adding). */
    order?: readonly string[],
  ): Promise<Ticket> {
    const at = this.now();
    const t = await this.opts.store.update(id, (current) => {
      if (!isOpenStatus(current.status))
        throw new FaultlineError(
          'FL_ERR_TICKET_TRANSITION',
          `ticket ${id} is ${current.status}: assignments are closed`,
        );
      let assignees = [...current.assignees.filter((a) => !remove.includes(a))];
      for (const a of add) if (!assignees.includes(a)) assignees.push(a);
      if (order) assignees = [...new Set(order)];
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

  /** The statuses `t` may go to now. */
  next(t: Ticket): Status[] {
    return nextStatuses(t);
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
        targetMs: c.targetMs,
        elapsedMs: Math.round(worked(calendarOf(this.opts.policy, c.calendar), c, c.metAt ?? judgeAt)),
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
      waitingFor: t.waitingFor
        ? t.waitingFor.map((w) => ({ ...w, expectedAt: toIsoOrNull(w.expectedAt) }))
        : null,
      dispatch: t.dispatch
        ? {
            ...t.dispatch,
            appointmentAt: toIso(t.dispatch.appointmentAt),
            plannedAt: toIso(t.dispatch.plannedAt),
          }
        : null,
    };
  }
}

function waitingNote(on: WaitReason, parts: Ticket['waitingFor'], note: string | null): string {
  const what = parts?.length
    ? ` (${parts.map((p) => `${p.quantity}× ${p.part}${p.expectedAt ? ` expected ${toIso(p.expectedAt)}` : ''}`).join(', ')})`
    : '';
  return `waiting on ${on}${what}${note ? `: ${note}` : ''}`;
}

/** The dispatch on the timeline; an appointment after the on-site deadline says so. */
function dispatchEvent(t: Ticket, d: Dispatch): NewTicketEvent {
  const who = d.technicians.length ? d.technicians.join(', ') : 'to be named';
  const by = d.by === 'partner' ? 'partner team' : 'own technicians';
  const parts = [`visit planned: ${by}${d.team ? ` ${d.team}` : ''} (${who}) at ${toIso(d.appointmentAt)}`];
  if (d.tools.length) parts.push(`tools: ${d.tools.join(', ')}`);
  if (d.parts.length) parts.push(`parts: ${d.parts.map((p) => `${p.quantity}× ${p.part}`).join(', ')}`);
  const onsite = t.sla.onsite;
  if (onsite && onsite.metAt === null && onsite.runningSince !== null && d.appointmentAt > onsite.dueAt)
    parts.push(`after the on-site deadline ${toIso(onsite.dueAt)}`);
  if (d.note) parts.push(d.note);
  return {
    at: d.plannedAt,
    type: 'dispatch',
    actor: d.plannedBy,
    from: null,
    to: null,
    note: parts.join('; '),
  };
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
