import { DateTime } from 'luxon';
import { z } from 'zod';
import { validTimeZone } from '../lib/schedule.js';

/**
 * Service calendars for SLA clocks: `24x7`, or working hours in an IANA time zone with holidays. A
 * target of "4h" on an office-hours calendar means four working hours: a fault reported on Friday at
 * 16:00 with 08:00–17:00 hours is due on Monday at 11:00. Local times are resolved by luxon, so a DST
 * change shortens or lengthens the night, not the working day.
 */

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
type Day = (typeof DAYS)[number];

const RANGE = /^([01]\d|2[0-3]):([0-5]\d)-((?:[01]\d|2[0-3]):[0-5]\d|24:00)$/;

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

export const workingHoursSchema = z
  .object({
    /** IANA time zone the hours and holidays are read in. */
    timezone: z.string().refine(validTimeZone, { error: (i) => `unknown time zone "${String(i.input)}"` }),
    /** Per weekday, ranges "HH:MM-HH:MM" (end may be 24:00); a day not listed is closed. */
    hours: z
      .partialRecord(
        z.enum(DAYS),
        z
          .array(
            z
              .string()
              .regex(RANGE, 'expected a range like 08:00-17:00')
              .refine((r) => {
                const [a, b] = r.split('-') as [string, string];
                return minutesOf(a) < minutesOf(b);
              }, 'a range ends after it starts (split a night shift in two: 22:00-24:00 and 00:00-06:00)'),
          )
          .max(8),
      )
      .refine((h) => Object.values(h).some((r) => r && r.length > 0), 'a calendar needs some working hours'),
    /** Dates (YYYY-MM-DD, local) on which the calendar is closed. */
    holidays: z.array(z.iso.date()).default([]),
  })
  .strict();

export const calendarSchema = z.union([z.literal('24x7'), workingHoursSchema]);
export type CalendarSpec = z.output<typeof calendarSchema>;

/** At most this many days are searched for working time (a calendar open once a year still works). */
const MAX_DAYS = 3_700;

export class Calendar {
  private readonly holidays: Set<string>;
  private readonly byDay: Map<Day, [number, number][]>;

  constructor(private readonly spec: CalendarSpec) {
    this.holidays = new Set(spec === '24x7' ? [] : spec.holidays);
    this.byDay = new Map();
    if (spec !== '24x7') {
      for (const day of DAYS) {
        const ranges = (spec.hours[day] ?? [])
          .map((r) => r.split('-').map(minutesOf) as [number, number])
          .sort((a, b) => a[0] - b[0]);
        this.byDay.set(day, ranges);
      }
    }
  }

  get alwaysOpen(): boolean {
    return this.spec === '24x7';
  }

  /** Open intervals [from, to) in ms of the local day that starts at `day` (a luxon DateTime at 00:00). */
  private intervals(day: DateTime): [number, number][] {
    if (this.holidays.has(day.toISODate() as string)) return [];
    const ranges = this.byDay.get(DAYS[day.weekday - 1] as Day) ?? [];
    return ranges.map(([a, b]) => [at(day, a), at(day, b)]);
  }

  private firstDay(t: number): DateTime {
    const zone = (this.spec as Exclude<CalendarSpec, '24x7'>).timezone;
    return DateTime.fromMillis(t, { zone }).startOf('day');
  }

  /** The instant `ms` of working time after `start`. */
  add(start: number, ms: number): number {
    if (this.spec === '24x7') return start + ms;
    let left = ms;
    let day = this.firstDay(start);
    for (let i = 0; i < MAX_DAYS; i++, day = day.plus({ days: 1 })) {
      for (const [a, b] of this.intervals(day)) {
        const from = Math.max(a, start);
        if (b <= from) continue;
        if (left <= b - from) return from + left;
        left -= b - from;
      }
    }
    throw new Error(`the calendar has no working time within ${MAX_DAYS} days`);
  }

  /** Working time between two instants (0 when `to` is not after `from`). */
  between(from: number, to: number): number {
    if (to <= from) return 0;
    if (this.spec === '24x7') return to - from;
    let total = 0;
    let day = this.firstDay(from);
    for (let i = 0; i < MAX_DAYS && day.toMillis() < to; i++, day = day.plus({ days: 1 })) {
      for (const [a, b] of this.intervals(day)) total += Math.max(0, Math.min(b, to) - Math.max(a, from));
    }
    return total;
  }

  /** Whether the calendar is open at `t`. */
  isOpen(t: number): boolean {
    if (this.spec === '24x7') return true;
    return this.intervals(this.firstDay(t)).some(([a, b]) => t >= a && t < b);
  }
}

/**
 * The instant of a local time of day; luxon resolves a time that DST skips by moving it forward, and
 * 24:00 is the next day's midnight (which may be 23 or 25 hours after this one).
 */
function at(day: DateTime, minutes: number): number {
  if (minutes === 24 * 60) return day.plus({ days: 1 }).startOf('day').toMillis();
  return day.set({ hour: Math.floor(minutes / 60), minute: minutes % 60 }).toMillis();
}
