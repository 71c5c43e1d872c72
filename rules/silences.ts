import { CronExpressionParser } from 'cron-parser';
import picomatch from 'picomatch';
import { z } from 'zod';
import type { Device } from '../ingest/devices.js';
import { duration } from '../lib/duration.js';
import { configId, cronProblem, validTimeZone } from '../lib/schedule.js';
import type { SilenceStore } from './store.js';

/**
 * A maintenance window (silence): planned work on devices or a whole site, from `from` to `to`.
 * Alerts of matching devices are still evaluated and recorded, but open no new tickets; when the
 * window belongs to a ticket (a preventive visit), the alert is noted on that ticket instead.
 */
export interface Silence {
  id: string;
  /** Device ids or globs. */
  devices: string[];
  /** Site ids. */
  sites: string[];
  from: number;
  to: number;
  reason: string;
  createdBy: string;
  /** The ticket the work belongs to (a preventive visit). */
  ticketId: string | null;
  createdAt: number;
  /** Set when the window was ended early. */
  endedAt: number | null;
}

export type NewSilence = Omit<Silence, 'id' | 'createdAt' | 'endedAt'>;

/** A window covers devices and/or sites: at least one of them (an issue on `devices` otherwise). */
export function requireCoverage(w: { devices: string[]; sites: string[] }, ctx: z.RefinementCtx): void {
  if (w.devices.length === 0 && w.sites.length === 0)
    ctx.addIssue({ code: 'custom', path: ['devices'], message: 'give devices (ids or globs) and/or sites' });
}

/** A recurring maintenance window from the configuration (`maintenance:`), e.g. every Sunday night. */
export const recurringWindowSchema = z
  .object({
    id: configId,
    devices: z.array(z.string().min(1)).default([]),
    sites: z.array(z.string().min(1)).default([]),
    /** When it starts: a cron expression (minute hour day-of-month month day-of-week). */
    every: z.string().min(1),
    /** The time zone `every` is read in (IANA name). */
    timezone: z.string().default('UTC'),
    duration,
    reason: z.string().min(1),
  })
  .strict()
  .superRefine((w, ctx) => {
    requireCoverage(w, ctx);
    if (!validTimeZone(w.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown time zone "${w.timezone}"` });
      return;
    }
    const problem = cronProblem(w.every, w.timezone);
    if (problem) ctx.addIssue({ code: 'custom', path: ['every'], message: problem });
  });

export type RecurringWindow = z.output<typeof recurringWindowSchema>;

/** The occurrence of a recurring window that covers `at`, or else the next one. */
export function occurrence(w: RecurringWindow, at: number): { from: number; to: number; covering: boolean } {
  // cron-parser's prev() is strictly before currentDate, and it works in whole seconds.
  const prev = CronExpressionParser.parse(w.every, { currentDate: new Date(at + 1_000), tz: w.timezone })
    .prev()
    .getTime();
  if (at >= prev && at < prev + w.duration) return { from: prev, to: prev + w.duration, covering: true };
  const next = CronExpressionParser.parse(w.every, { currentDate: new Date(at), tz: w.timezone })
    .next()
    .getTime();
  return { from: next, to: next + w.duration, covering: false };
}

function asSilence(w: RecurringWindow, o: { from: number; to: number }): Silence {
  return {
    id: `maintenance:${w.id}`,
    devices: w.devices,
    sites: w.sites,
    from: o.from,
    to: o.to,
    reason: w.reason,
    createdBy: 'configuration',
    ticketId: null,
    createdAt: 0,
    endedAt: null,
  };
}

/** The number of a stored window's id (`S-<n>`), or undefined for any other id (recurring, malformed). */
export function storedSilenceSeq(id: string): number | undefined {
  const m = /^S-(\d{1,15})$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/** The end of a window: its planned end, or when it was ended early. */
export const endOf = (s: Silence): number => (s.endedAt === null ? s.to : Math.min(s.to, s.endedAt));

export function silenceMatches(s: Silence, device: Device, at: number): boolean {
  if (at < s.from || at >= endOf(s)) return false;
  if (s.sites.includes(device.site)) return true;
  return s.devices.length > 0 && picomatch(s.devices)(device.id);
}

/**
 * The maintenance windows: the stored ones (through a `SilenceStore`) and the recurring ones of the
 * configuration. The windows not yet over are kept in memory, so that the check on every firing alert
 * touches no store; they are reloaded after each change made here, when one of them ends, and by
 * `refresh()` (another instance's changes, with a shared store).
 */
export class Silences {
  private current: Silence[] = [];
  private loading: Promise<void> | undefined;
  private reloadAgain: Promise<void> | undefined;

  constructor(
    private readonly store: SilenceStore,
    private readonly now: () => number = Date.now,
    private readonly recurring: readonly RecurringWindow[] = [],
    /** A reload that failed in the background (the windows in memory stay until the next one). */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /**
   * Reloads the windows not yet over from the store. Asked while a reload is under way, it reloads
   * once more after it (that one may have read before the change that asked).
   */
  refresh(): Promise<void> {
    if (this.loading) {
      this.reloadAgain ??= this.loading
        .catch(() => undefined)
        .then(() => {
          this.reloadAgain = undefined;
          return this.refresh();
        });
      return this.reloadAgain;
    }
    const loading = this.store
      .current(this.now())
      .then((rows) => {
        this.current = rows.filter((s) => endOf(s) > this.now());
      })
      .finally(() => {
        this.loading = undefined;
      });
    this.loading = loading;
    return loading;
  }

  async create(s: NewSilence): Promise<Silence> {
    const made = await this.store.create(s, this.now());
    await this.refresh();
    return made;
  }

  private recurringOne(id: string): Silence | undefined {
    const w = this.recurring.find((x) => `maintenance:${x.id}` === id);
    return w ? asSilence(w, occurrence(w, this.now())) : undefined;
  }

  async get(id: string): Promise<Silence | undefined> {
    return this.recurringOne(id) ?? this.store.get(id);
  }

  /** The ticket a window belongs to (a preventive visit's), null for none, undefined: no such window. */
  async ticketOf(id: string): Promise<string | null | undefined> {
    const cached = this.current.find((s) => s.id === id);
    return cached ? cached.ticketId : (await this.get(id))?.ticketId;
  }

  /** Moves a stored window (a preventive visit agreed for another time), keeping its length. */
  async reschedule(id: string, from: number): Promise<Silence | undefined> {
    const s = await this.store.get(id);
    if (!s) return undefined;
    const moved = await this.store.move(id, from, from + (s.to - s.from));
    await this.refresh();
    return moved;
  }

  /** Moves the open windows of a ticket's visit to its new time. */
  async rescheduleVisit(ticketId: string, from: number): Promise<void> {
    for (const w of await this.list())
      if (w.ticketId === ticketId && w.endedAt === null) await this.reschedule(w.id, from);
  }

  /** Ends a window now (kept for the record). */
  async end(id: string): Promise<Silence | undefined> {
    const s = await this.store.end(id, this.now());
    await this.refresh();
    return s;
  }

  /**
   * Windows not over yet (active or planned; recurring ones with their current or next occurrence),
   * or every stored window (the newest 1,000), newest first.
   */
  async list(opts: { all?: boolean } = {}): Promise<Silence[]> {
    const recurring = this.recurring.map((w) => asSilence(w, occurrence(w, this.now())));
    if (!opts.all) {
      await this.refresh();
      return [...recurring, ...[...this.current].reverse()];
    }
    return [...recurring, ...(await this.store.recent(1000))];
  }

  /** The window that covers this device at this time, if any (the one ending last). */
  covering(device: Device, at: number): Silence | undefined {
    let best: Silence | undefined;
    for (const s of this.current)
      if (silenceMatches(s, device, at) && (!best || endOf(s) > endOf(best))) best = s;
    for (const w of this.recurring) {
      const o = occurrence(w, at);
      const s = asSilence(w, o);
      if (o.covering && silenceMatches(s, device, at) && (!best || endOf(s) > endOf(best))) best = s;
    }
    if (this.current.some((s) => endOf(s) <= this.now())) void this.refresh().catch(this.onError);
    return best;
  }
}
