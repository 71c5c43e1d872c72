import { describe, expect, it } from 'vitest';
import { officeHours } from '../test/helpers.js';
import { Calendar, calendarSchema } from './calendar.js';

const H = 3_600_000;
const office = new Calendar(calendarSchema.parse(officeHours(['2026-12-24', '2026-12-25', '2026-12-31'])));
const t = (iso: string) => Date.parse(iso);

describe('SLA calendars', () => {
  it('24x7 is plain time', () => {
    const c = new Calendar('24x7');
    expect(c.add(t('2026-11-27T16:00:00Z'), 4 * H)).toBe(t('2026-11-27T20:00:00Z'));
    expect(c.between(t('2026-11-27T16:00:00Z'), t('2026-11-28T16:00:00Z'))).toBe(24 * H);
  });

  it('working hours: across a night, and across a weekend', () => {
    // Tuesday 20:00 CET (19:00Z) + 2 working hours → Wednesday 10:00 CET.
    expect(office.add(t('2026-11-24T19:00:00Z'), 2 * H)).toBe(t('2026-11-25T09:00:00Z'));
    // Friday 16:00 CET + 4 h → Monday 11:00 CET.
    const due = office.add(t('2026-11-27T15:00:00Z'), 4 * H);
    expect(due).toBe(t('2026-11-30T10:00:00Z'));
    expect(office.between(t('2026-11-27T15:00:00Z'), due)).toBe(4 * H);
    // Reported on Saturday: the clock starts on Monday at 08:00.
    expect(office.add(t('2026-11-28T10:00:00Z'), 1 * H)).toBe(t('2026-11-30T08:00:00Z'));
    expect(office.isOpen(t('2026-11-28T10:00:00Z'))).toBe(false);
    expect(office.isOpen(t('2026-11-30T07:00:00Z'))).toBe(true); // 08:00 CET
  });

  it('holidays are closed: Wednesday before Christmas + 4 h → the Monday after', () => {
    // 2026-12-23 (Wed) 16:00 CET; 24th and 25th are holidays; 26th–27th a weekend.
    expect(office.add(t('2026-12-23T15:00:00Z'), 4 * H)).toBe(t('2026-12-28T10:00:00Z'));
    // A 16 h target reported on 2026-12-30 (Wed) 08:00 CET skips New Year's Eve: done on 2027-01-01 (Fri) 15:00.
    expect(office.add(t('2026-12-30T07:00:00Z'), 16 * H)).toBe(t('2027-01-01T14:00:00Z'));
  });

  it('a DST change moves the night, not the working day', () => {
    // Spring forward in Europe on Sunday 2026-03-29. Friday 16:00 CET + 4 h → Monday 11:00 CEST (09:00Z).
    expect(office.add(t('2026-03-27T15:00:00Z'), 4 * H)).toBe(t('2026-03-30T09:00:00Z'));
    // A calendar open all day counts real time: 24 h from Saturday 12:00 CET end on Sunday 13:00 CEST.
    const always = new Calendar(
      calendarSchema.parse({
        timezone: 'Europe/Berlin',
        hours: Object.fromEntries(
          ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, ['00:00-24:00']]),
        ),
      }),
    );
    const start = t('2026-03-28T11:00:00Z'); // Saturday 12:00 CET
    expect(always.add(start, 24 * H)).toBe(t('2026-03-29T11:00:00Z'));
    // Fall back (2026-10-25): the 25-hour Sunday gives 25 working hours.
    expect(always.between(t('2026-10-24T22:00:00Z'), t('2026-10-25T23:00:00Z'))).toBe(25 * H);
  });

  it('split and night-shift ranges', () => {
    const shifts = new Calendar(
      calendarSchema.parse({
        timezone: 'UTC',
        hours: { mon: ['06:00-12:00', '13:00-22:00'], tue: ['00:00-06:00'] },
      }),
    );
    // Monday 11:00 + 2 h: one hour before lunch, one after.
    expect(shifts.add(t('2026-11-30T11:00:00Z'), 2 * H)).toBe(t('2026-11-30T14:00:00Z'));
    // Monday 21:00 + 3 h: one hour on Monday evening, two on the Tuesday night shift.
    expect(shifts.add(t('2026-11-30T21:00:00Z'), 3 * H)).toBe(t('2026-12-01T02:00:00Z'));
  });

  it('configuration errors say what is wrong', () => {
    const msg = (o: unknown) =>
      calendarSchema.safeParse(o).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(msg({ timezone: 'Mars/Base', hours: { mon: ['08:00-17:00'] } })?.join('; ')).toContain(
      'unknown time zone "Mars/Base"',
    );
    expect(msg({ timezone: 'UTC', hours: { mon: ['17:00-08:00'] } })?.join('; ')).toContain(
      'a range ends after it starts',
    );
    expect(msg({ timezone: 'UTC', hours: { mon: ['8-17'] } })?.join('; ')).toContain(
      'expected a range like 08:00-17:00',
    );
    expect(msg({ timezone: 'UTC', hours: {} })?.join('; ')).toContain('a calendar needs some working hours');
    expect(
      msg({ timezone: 'UTC', hours: { mon: ['08:00-17:00'] }, holidays: ['24.12.2026'] })?.join('; '),
    ).toMatch(/holidays\.0/);
  });
});
