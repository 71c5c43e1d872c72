import { describe, expect, it } from 'vitest';
import { officeHours } from '../test/helpers.js';
import { Calendar, calendarSchema } from './calendar.js';
import {
  meetClock,
  nextClockEvent,
  pausableState,
  pauseClock,
  resumeClock,
  retarget,
  startClock,
  worked,
} from './clock.js';

const H = 3_600_000;
const always = new Calendar('24x7');
const office = new Calendar(calendarSchema.parse(officeHours()));
const t = (iso: string) => Date.parse(iso);
const WARN = [50, 75];

describe('SLA clocks with pauses, on calendars', () => {
  it('pause and resume move the deadline by the paused time (24x7)', () => {
    let c = startClock(always, '24x7', 4 * H, 0);
    expect(c.dueAt).toBe(4 * H);
    c = pauseClock(always, c, H);
    expect(pausableState(always, c, 2 * H, WARN)).toBe('paused');
    expect(pausableState(always, c, 5 * H, WARN)).toBe('paused'); // past the old deadline, but paused
    expect(c.pausedAt).toBe(H);
    c = resumeClock(always, c, 3 * H);
    expect(c.dueAt).toBe(6 * H);
    expect(worked(always, c, 5 * H)).toBe(3 * H);
  });

  it('on office hours: Friday 16:00 + 4 h; paused Monday 09:00 until Tuesday 09:00 → due Tuesday 11:00', () => {
    let c = startClock(office, 'office', 4 * H, t('2026-11-27T15:00:00Z'));
    expect(c.dueAt).toBe(t('2026-11-30T10:00:00Z'));
    c = pauseClock(office, c, t('2026-11-30T08:00:00Z')); // Monday 09:00 CET: 1 h Friday + 1 h Monday used
    expect(c.workedMs).toBe(2 * H);
    c = resumeClock(office, c, t('2026-12-01T08:00:00Z')); // Tuesday 09:00 CET
    expect(c.dueAt).toBe(t('2026-12-01T10:00:00Z'));
  });

  it('warnings at 50 % and 75 % of working time, then the breach, each at its exact instant', () => {
    const c = startClock(always, '24x7', 4 * H, 0);
    expect(nextClockEvent(always, c, 0, WARN)).toEqual({ at: 2 * H, kind: 'warning', share: 50 });
    expect(nextClockEvent(always, c, 2 * H, WARN)).toEqual({ at: 3 * H, kind: 'warning', share: 75 });
    expect(nextClockEvent(always, c, 3 * H, WARN)).toEqual({ at: 4 * H + 1, kind: 'breach' });
    expect(nextClockEvent(always, c, 4 * H + 1, WARN)).toBeUndefined();
    expect(pausableState(always, c, H, WARN)).toBe('running');
    expect(pausableState(always, c, 2 * H, WARN)).toBe('warning');
    expect(pausableState(always, c, 4 * H, WARN)).toBe('warning');
    expect(pausableState(always, c, 4 * H + 1, WARN)).toBe('breached');
    // On office hours the 50 % warning of a 4 h target started Friday 16:00 is Monday 09:00.
    const o = startClock(office, 'office', 4 * H, t('2026-11-27T15:00:00Z'));
    expect(nextClockEvent(office, o, t('2026-11-27T15:00:00Z'), WARN)?.at).toBe(t('2026-11-30T08:00:00Z'));
    // A paused clock has no timers.
    expect(nextClockEvent(always, pauseClock(always, c, H), H, WARN)).toBeUndefined();
  });

  it('met on time, met late, and a clock paused after its deadline stays breached', () => {
    const c = startClock(always, '24x7', 4 * H, 0);
    expect(pausableState(always, meetClock(always, c, 3 * H), 10 * H, WARN)).toBe('met');
    expect(pausableState(always, meetClock(always, c, 5 * H), 10 * H, WARN)).toBe('breached');
    const late = pauseClock(always, c, 5 * H);
    expect(pausableState(always, late, 6 * H, WARN)).toBe('breached');
    const back = resumeClock(always, late, 7 * H);
    expect(back.dueAt).toBe(7 * H);
    expect(pausableState(always, back, 7 * H, WARN)).toBe('breached');
  });

  it('a class upgrade recomputes the deadline from the original report time', () => {
    const general = startClock(always, '24x7', 4 * H, 0);
    expect(retarget(always, general, H).dueAt).toBe(H); // emergency: 1 h from the report
    const paused = pauseClock(always, general, 30 * 60_000);
    const resumed = resumeClock(always, retarget(always, paused, H), 2 * H);
    expect(resumed.dueAt).toBe(2 * H + 30 * 60_000); // 30 min used, 30 min left after the pause
    expect(pausableState(always, retarget(always, general, H), 2 * H, WARN)).toBe('breached');
  });

  it('a restart after the deadline passed: the state says breached at once; nothing is left to arm', () => {
    const c = JSON.parse(JSON.stringify(startClock(always, '24x7', H, 0)));
    expect(pausableState(always, c, 10 * H, WARN)).toBe('breached');
    expect(nextClockEvent(always, c, 10 * H, WARN)).toBeUndefined();
  });
});
