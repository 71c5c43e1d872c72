import { CronExpressionParser } from 'cron-parser';
import picomatch from 'picomatch';
import { z } from 'zod';
import type { Device } from '../ingest/devices.js';
import { duration } from '../lib/duration.js';
import { configId, cronProblem, validTimeZone } from '../lib/schedule.js';
import { migrate, type SqliteDatabase } from '../lib/sqlite.js';

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

const MIGRATIONS = [
  {
    version: 1,
    description: 'silences (maintenance windows)',
    up: `CREATE TABLE silences (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      devices TEXT NOT NULL,
      sites TEXT NOT NULL,
      from_at INTEGER NOT NULL,
      to_at INTEGER NOT NULL,
      reason TEXT NOT NULL,
      created_by TEXT NOT NULL,
      ticket_id TEXT,
      created_at INTEGER NOT NULL,
      ended_at INTEGER
    );
    CREATE INDEX silences_to ON silences (to_at);`,
  },
];

interface Row {
  seq: number;
  devices: string;
  sites: string;
  from_at: number;
  to_at: number;
  reason: string;
  created_by: string;
  ticket_id: string | null;
  created_at: number;
  ended_at: number | null;
}

const fromRow = (r: Row): Silence => ({
  id: `S-${r.seq}`,
  devices: JSON.parse(r.devices) as string[],
  sites: JSON.parse(r.sites) as string[],
  from: r.from_at,
  to: r.to_at,
  reason: r.reason,
  createdBy: r.created_by,
  ticketId: r.ticket_id,
  createdAt: r.created_at,
  endedAt: r.ended_at,
});

/** The end of a window: its planned end, or when it was ended early. */
export const endOf = (s: Silence): number => (s.endedAt === null ? s.to : Math.min(s.to, s.endedAt));

export function silenceMatches(s: Silence, device: Device, at: number): boolean {
  if (at < s.from || at >= endOf(s)) return false;
  if (s.sites.includes(device.site)) return true;
  return s.devices.length > 0 && picomatch(s.devices)(device.id);
}

/**
 * Silences in SQLite (alerts.db), with the ones not yet over kept in memory: the check on every
 * firing alert does not touch the disk.
 */
export class SilenceStore {
  private current: Silence[] = [];

  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => number = Date.now,
    private readonly recurring: readonly RecurringWindow[] = [],
  ) {
    migrate(db, 'silences', MIGRATIONS);
    this.refresh();
  }

  private refresh(): void {
    const rows = this.db
      .prepare(
        'SELECT * FROM silences WHERE to_at > ? AND (ended_at IS NULL OR ended_at > from_at) ORDER BY seq',
      )
      .all(this.now()) as Row[];
    this.current = rows.map(fromRow).filter((s) => endOf(s) > this.now());
  }

  create(s: NewSilence): Silence {
    const r = this.db
      .prepare(
        `INSERT INTO silences (devices, sites, from_at, to_at, reason, created_by, ticket_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        JSON.stringify(s.devices),
        JSON.stringify(s.sites),
        s.from,
        s.to,
        s.reason,
        s.createdBy,
        s.ticketId,
        this.now(),
      ) as Row;
    this.refresh();
    return fromRow(r);
  }

  get(id: string): Silence | undefined {
    const w = this.recurring.find((x) => `maintenance:${x.id}` === id);
    if (w) return asSilence(w, occurrence(w, this.now()));
    const seq = /^S-(\d+)$/.exec(id)?.[1];
    if (!seq) return undefined;
    const r = this.db.prepare('SELECT * FROM silences WHERE seq = ?').get(Number(seq)) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** Moves a stored window (a preventive visit agreed for another time), keeping its length. */
  reschedule(id: string, from: number): Silence | undefined {
    const s = this.get(id);
    if (!s || !/^S-\d+$/.test(id)) return undefined;
    this.db
      .prepare('UPDATE silences SET from_at = ?, to_at = ? WHERE seq = ?')
      .run(from, from + (s.to - s.from), Number(id.slice(2)));
    this.refresh();
    return this.get(id);
  }

  /** Ends a window now (kept for the record). */
  end(id: string): Silence | undefined {
    const s = this.get(id);
    if (!s) return undefined;
    if (s.endedAt === null) {
      this.db.prepare('UPDATE silences SET ended_at = ? WHERE seq = ?').run(this.now(), Number(id.slice(2)));
      this.refresh();
    }
    return this.get(id);
  }

  /**
   * Windows not over yet (active or planned; recurring ones with their current or next occurrence),
   * or every stored window, newest first.
   */
  list(opts: { all?: boolean } = {}): Silence[] {
    const recurring = this.recurring.map((w) => asSilence(w, occurrence(w, this.now())));
    if (!opts.all) {
      this.refresh();
      return [...recurring, ...[...this.current].reverse()];
    }
    const stored = (
      this.db.prepare('SELECT * FROM silences ORDER BY seq DESC LIMIT 1000').all() as Row[]
    ).map(fromRow);
    return [...recurring, ...stored];
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
    if (this.current.some((s) => endOf(s) <= this.now())) this.refresh();
    return best;
  }
}
