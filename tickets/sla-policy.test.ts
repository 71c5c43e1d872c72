import { describe, expect, it } from 'vitest';
import { clockState, computeClocks, slaSchema } from './sla-policy.js';

const H = 3_600_000;

describe('SLA policy', () => {
  const defaults = slaSchema.parse({});

  it('has the example policy as defaults', () => {
    expect(computeClocks(defaults, 'emergency', 'local', 0)).toEqual({
      response: { startAt: 0, dueAt: H, metAt: null },
      onsite: { startAt: 0, dueAt: 4 * H, metAt: null },
    });
    expect(computeClocks(defaults, 'emergency', 'remote', 0).onsite?.dueAt).toBe(24 * H);
    expect(computeClocks(defaults, 'general', 'local', 1_000)).toEqual({
      response: { startAt: 1_000, dueAt: 1_000 + 4 * H, metAt: null },
      remoteFix: { startAt: 1_000, dueAt: 1_000 + 8 * H, metAt: null },
      onsite: { startAt: 1_000, dueAt: 1_000 + 48 * H, metAt: null },
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
      visit: { startAt: 0, dueAt: 50 * H, metAt: null },
    });
  });

  it('clock states: running, warning at the first threshold, breached when overdue, met or met late', () => {
    const c = { startAt: 0, dueAt: 100, metAt: null };
    expect(clockState(c, 10, [50, 75])).toBe('running');
    expect(clockState(c, 50, [50, 75])).toBe('warning');
    expect(clockState(c, 100, [50, 75])).toBe('warning');
    expect(clockState(c, 101, [50, 75])).toBe('breached');
    expect(clockState({ ...c, metAt: 100 }, 500, [50])).toBe('met');
    expect(clockState({ ...c, metAt: 101 }, 500, [50])).toBe('breached');
  });

  it('rejects unknown keys and bad durations', () => {
    expect(slaSchema.safeParse({ emergency: { respond: '1h' } }).success).toBe(false);
    expect(slaSchema.safeParse({ general: { response: '4 hours' } }).success).toBe(false);
    expect(slaSchema.safeParse({ warnAt: [150] }).success).toBe(false);
  });
});
