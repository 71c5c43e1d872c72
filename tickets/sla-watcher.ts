import type { Logger } from '../lib/log.js';
import type { Scheduler } from '../rules/engine.js';
import { MAX_TIMER_MS } from '../rules/engine.js';
import { dueNotices, nextClockEvent } from './clock.js';
import { type NewTicketEvent, OPEN_STATUSES, type Priority, type SlaTarget, type Ticket } from './model.js';
import type { Team } from './routing.js';
import {
  calendarOf,
  DEFAULT_ESCALATION,
  type EscalationRole,
  type EscalationStage,
  type SlaPolicy,
} from './sla-policy.js';
import type { TicketStore } from './store.js';

/** A notification the watcher made: on the ticket's timeline, and to whoever listens (webhooks, mail). */
export interface Notice {
  ticketId: string;
  stage: EscalationStage;
  target: SlaTarget | null;
  /** Share of the clock's working time (warnings), 100 for a breach. */
  level: number | null;
  at: number;
  recipients: { role: EscalationRole; who: string }[];
  text: string;
}

export interface SlaWatcherOptions {
  store: TicketStore;
  policy: SlaPolicy;
  teams: readonly Team[];
  /** Supervisors by team id (or `*` for all teams): who hears of breaches. */
  supervisors: Readonly<Record<string, string>>;
  scheduler: Scheduler;
  logger: Logger;
  onNotice?: (n: Notice) => void;
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * Watches every open ticket's clocks and announces warnings and breaches at their exact moments: one
 * timer, at the earliest next event of all tickets, no polling. At start it reads the open tickets
 * from the store and announces at once what fell due while the gateway was down. Announcements are
 * saved on the clock (`notified`) together with the timeline entries, so none is made twice.
 */
export class SlaWatcher {
  private readonly next = new Map<string, number>();
  private timer: unknown;
  private timerAt: number | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Until started (on the leader, among several instances) it watches nothing. */
  private stopped = true;

  constructor(private readonly opts: SlaWatcherOptions) {}

  /** Reads the open tickets, announces what is overdue, arms the timer. */
  async start(): Promise<void> {
    this.stopped = false; // started again: an instance that became the leader (issue 20)
    let cursor: string | undefined;
    do {
      const page = await this.opts.store.list({
        filter: { status: [...OPEN_STATUSES] },
        sort: 'urgency',
        limit: 500,
        now: this.opts.scheduler.now(),
        ...(cursor ? { cursor } : {}),
      });
      for (const t of page.items) await this.check(t);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    this.arm();
  }

  /**
   * A ticket was created or changed — here, or (by id, from the shared event stream) on another
   * instance: check it now (serialised with the timer's checks).
   */
  changed(t: Ticket | string, created = false): Promise<void> {
    if (this.stopped) return this.chain; // a standby instance: the leader watches the clocks
    const id = typeof t === 'string' ? t : t.id;
    this.chain = this.chain
      .then(async () => {
        if (created) {
          const made = typeof t === 'string' ? await this.opts.store.get(id) : t;
          if (made) await this.announceCreated(made);
        }
        const fresh = await this.opts.store.get(id);
        if (fresh) await this.check(fresh);
        this.arm();
      })
      .catch((err: unknown) => this.opts.logger.error({ err, ticketId: id }, 'SLA check failed'));
    return this.chain;
  }

  /** Resolves when every check handed in so far is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.chain;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.opts.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private chainOf(p: Priority): Partial<Record<EscalationStage, EscalationRole[]>> {
    return this.opts.policy.escalation[p] ?? DEFAULT_ESCALATION[p];
  }

  private recipients(t: Ticket, roles: readonly EscalationRole[]): { role: EscalationRole; who: string }[] {
    const team = this.opts.teams.find((x) => x.id === t.team);
    const out: { role: EscalationRole; who: string }[] = [];
    for (const role of roles) {
      if (role === 'assignee') for (const who of t.assignees) out.push({ role, who });
      if (role === 'lead' && team?.lead) out.push({ role, who: team.lead });
      if (role === 'supervisor') {
        const who = (t.team && this.opts.supervisors[t.team]) ?? this.opts.supervisors['*'];
        if (who) out.push({ role, who });
      }
    }
    return out;
  }

  private async announceCreated(t: Ticket): Promise<void> {
    const roles = this.chainOf(t.priority).created;
    if (!roles?.length) return;
    const at = this.opts.scheduler.now();
    const n = this.notice(t, 'created', null, null, at, `new ${t.priority} ticket: ${t.title}`, roles);
    await this.opts.store.update(t.id, (x) => ({ ticket: x, events: [this.event(n)] }));
    this.opts.onNotice?.(n);
  }

  private notice(
    t: Ticket,
    stage: EscalationStage,
    target: SlaTarget | null,
    level: number | null,
    at: number,
    what: string,
    roles: readonly EscalationRole[],
  ): Notice {
    const recipients = this.recipients(t, roles);
    const to = recipients.length
      ? recipients.map((r) => `${r.who} (${r.role})`).join(', ')
      : `nobody: no ${roles.join('/')} configured`;
    return { ticketId: t.id, stage, target, level, at, recipients, text: `${what} → ${to}` };
  }

  private event(n: Notice): NewTicketEvent {
    const type = n.stage === 'breach' ? 'sla_breach' : n.stage === 'warning' ? 'sla_warning' : 'notification';
    return { at: n.at, type, actor: 'sla', from: null, to: null, note: n.text };
  }

  /** Announces what a ticket's clocks owe now, and notes when it next needs a look. */
  private async check(t: Ticket): Promise<void> {
    const now = this.opts.scheduler.now();
    const { policy } = this.opts;
    const notices: Notice[] = [];
    const levels: Partial<Record<SlaTarget, number>> = {};
    if ((OPEN_STATUSES as readonly string[]).includes(t.status)) {
      for (const [target, c] of Object.entries(t.sla) as [
        SlaTarget,
        NonNullable<Ticket['sla'][SlaTarget]>,
      ][]) {
        const cal = calendarOf(policy, c.calendar);
        for (const d of dueNotices(cal, c, now, policy.warnAt)) {
          const stage = d.kind === 'breach' ? 'breach' : 'warning';
          const what =
            d.kind === 'breach'
              ? `${target} deadline ${iso(c.dueAt)} missed`
              : `${target}: ${d.level} % of the time used, due ${iso(c.dueAt)}`;
          notices.push(
            this.notice(t, stage, target, d.level, d.at, what, this.chainOf(t.priority)[stage] ?? []),
          );
          levels[target] = Math.max(levels[target] ?? 0, d.level);
        }
      }
    }
    if (notices.length) {
      const updated = await this.opts.store.update(t.id, (x) => {
        const sla = { ...x.sla };
        for (const [k, level] of Object.entries(levels) as [SlaTarget, number][]) {
          const c = sla[k];
          if (c) sla[k] = { ...c, notified: Math.max(c.notified, level) };
        }
        return { ticket: { ...x, sla }, events: notices.map((n) => this.event(n)) };
      });
      for (const n of notices) {
        this.opts.logger.warn({ ticketId: n.ticketId, stage: n.stage, target: n.target }, n.text);
        this.opts.onNotice?.(n);
      }
      if (updated) t = updated;
    }
    let nextAt: number | undefined;
    if ((OPEN_STATUSES as readonly string[]).includes(t.status)) {
      for (const c of Object.values(t.sla)) {
        if (!c) continue;
        const e = nextClockEvent(calendarOf(policy, c.calendar), c, now, policy.warnAt);
        if (e && (nextAt === undefined || e.at < nextAt)) nextAt = e.at;
      }
    }
    if (nextAt === undefined) this.next.delete(t.id);
    else this.next.set(t.id, nextAt);
  }

  /** One timer, at the earliest next event of all tickets. */
  private arm(): void {
    if (this.stopped) return;
    let at: number | undefined;
    for (const v of this.next.values()) if (at === undefined || v < at) at = v;
    if (at === this.timerAt && this.timer !== undefined) return;
    if (this.timer !== undefined) this.opts.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = this.opts.scheduler.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = undefined;
        this.chain = this.chain
          .then(async () => {
            const now = this.opts.scheduler.now();
            for (const [id, when] of [...this.next]) {
              if (when > now) continue;
              const t = await this.opts.store.get(id);
              if (t) await this.check(t);
              else this.next.delete(id);
            }
            this.arm();
          })
          .catch((err: unknown) => this.opts.logger.error({ err }, 'SLA timer failed'));
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - this.opts.scheduler.now())),
    );
  }
}
