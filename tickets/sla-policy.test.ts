import { describe, expect, it } from 'vitest';
import { officeHours } from '../test/helpers.js';
import { fixedClock } from './clock.js';
import { clockState, computeClocks, firstWarningAt, slaSchema } from './sla-policy.js';

const H = 3_600_000;

describe('SLA policy', () => {
  const defaults = slaSchema.parse({});

  it('has the example policy as defaults', () => {
    expect(computeClocks(defaults, 'emergency', 'local', 0)).toEqual({
      response: fixedClock(0, H),
      onsite: fixedClock(0, 4 * H),
    });
    expect(computeClocks(defaults, 'emergency', 'remote', 0).onsite?.dueAt).toBe(24 * H);
    expect(computeClocks(defaults, 'general', 'local', 1_000)).toEqual({
      response: fixedClock(1_000, 1_000 + 4 * H),
      remoteFix: fixedClock(1_000, 1_000 + 8 * H),
      onsite: fixedClock(1_000, 1_000 + 48 * H),
    });
    expect(defaults.preventive.notice).toBe(3 * 24 * H);
  });

  it('takes every time from configuration, per area where given', () => {
    const p = slaSchema.parse({
      general: { response: '30m', onsite: { local: '1d', remote: '3d' }, resolution: '5d' },
    });
    const c = computeClocks(p, 'general', 'remote', 0);
    expect(c.response?.dueAt).toBe(30 * 60_000);
    expect(c.onsite?.dueAt).toBe(72 * H);
    expect(c.resolution?.dueAt).toBe(120 * H);
    expect(c.remoteFix?.dueAt).toBe(8 * H);
  });

  it('a preventive ticket has a visit clock at the agreed time', () => {
    expect(computeClocks(defaults, 'preventive', 'local', 0, 50 * H)).toEqual({
      visit: fixedClock(0, 50 * H),
    });
  });

  it('clock states: running, warning at the first threshold, breached when overdue, met or met late', () => {
    const c = fixedClock(0, 100);
    expect(clockState(defaults, c, 10)).toBe('running');
    expect(clockState(defaults, c, 50)).toBe('warning');
    expect(clockState(defaults, c, 100)).toBe('warning');
    expect(clockState(defaults, c, 101)).toBe('breached');
    expect(clockState(defaults, fixedClock(0, 100, 100), 500)).toBe('met');
    expect(clockState(defaults, fixedClock(0, 100, 101), 500)).toBe('breached');
    expect(firstWarningAt(defaults, c)).toBe(50);
    expect(firstWarningAt(defaults, fixedClock(0, 100, 100))).toBeNull();
    // An odd target (a preventive visit some ms away): a whole millisecond, not before the share.
    expect(firstWarningAt(defaults, fixedClock(1_796_723_223_000, 1_796_723_223_000 + 101))).toBe(
      1_796_723_223_051,
    );
  });

  it('targets count working time on a class calendar, or on their own', () => {
    const p = slaSchema.parse({
      calendars: {
        office: officeHours(['2026-12-25']),
      },
      general: { calendar: 'office', onsite: { local: '16h', remote: '24h', calendar: '24x7' } },
      emergency: { resolution: { within: '8h', calendar: 'office' } },
    });
    const friday16 = Date.parse('2026-11-27T15:00:00Z'); // 16:00 CET
    const g = computeClocks(p, 'general', 'local', friday16);
    expect(g.response?.dueAt).toBe(Date.parse('2026-11-30T10:00:00Z')); // Monday 11:00: 4 working hours
    expect(g.remoteFix?.dueAt).toBe(Date.parse('2026-11-30T14:00:00Z')); // Monday 15:00: 8 working hours
    expect(g.onsite?.dueAt).toBe(friday16 + 16 * H); // its own 24x7 calendar
    const e = computeClocks(p, 'emergency', 'local', friday16);
    expect(e.response?.dueAt).toBe(friday16 + H); // the emergency class is 24x7
    expect(e.resolution?.dueAt).toBe(Date.parse('2026-11-30T14:00:00Z'));
    // A class upgrade recomputes from the original report time: the emergency response was due long ago.
    expect(computeClocks(p, 'emergency', 'local', friday16).response?.dueAt).toBeLessThan(
      g.response?.dueAt ?? 0,
    );
  });

  it('an unknown calendar is a configuration error naming the known ones', () => {
    const r = slaSchema.safeParse({
      general: { calendar: 'ofice' },
      emergency: { response: { within: '1h', calendar: 'x' } },
    });
    expect(r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'emergency.response.calendar: unknown calendar "x" (calendars: 24x7)',
      'general.calendar: unknown calendar "ofice" (calendars: 24x7)',
    ]);
  });

  it('rejects unknown keys and bad durations', () => {
    expect(slaSchema.safeParse({ emergency: { respond: '1h' } }).success).toBe(false);
    expect(slaSchema.safeParse({ general: { response: '4 hours' } }).success).toBe(false);
    expect(slaSchema.safeParse({ warnAt: [150] }).success).toBe(false);
  });
});
