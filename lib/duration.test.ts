import { describe, expect, it } from 'vitest';
import { duration, formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['4h', 14_400_000],
    ['3d', 259_200_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['2w', 1_209_600_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '30', 's', '30 seconds', '-1s', '1h 30m', '5x'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('round-trips through formatDuration', () => {
    for (const ms of [500, 30_000, 5_400_000, 259_200_000, 90_061_001]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  it('zod type reports the value received', () => {
    const r = duration.safeParse('soon');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain('"soon"');
  });
});

describe('duration bounds (issue 18)', () => {
  it('refuses durations over 100 years: a time computed from one could not be shown', () => {
    expect(duration.safeParse('36500d').success).toBe(true);
    const r = duration.safeParse('1000000000000d');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('expected at most 100 years, got "1000000000000d"');
  });
});
