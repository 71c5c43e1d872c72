import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../lib/backoff.js';
import { classify, parseRetryAfter } from './writer.js';

describe('InfluxDB write failures', () => {
  it('Retry-After in seconds or as an HTTP date (RFC 9110)', () => {
    const now = Date.UTC(2026, 10, 24, 10, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('refused data is split; everything else is retried, keeping the data', () => {
    expect(classify(400, 'partial write').kind).toBe('rejected');
    expect(classify(413, 'too large').kind).toBe('rejected');
    expect(classify(422, 'type conflict').kind).toBe('rejected');
    expect(classify(429, 'slow down', '7')).toEqual({
      kind: 'retry',
      status: 429,
      message: 'slow down',
      retryAfterMs: 7_000,
    });
    for (const s of [401, 403, 404, 500, 502, 503]) expect(classify(s, 'x').kind).toBe('retry');
  });

  it('backoff: exponential, capped, jittered, with Retry-After as a floor', () => {
    expect(backoffDelay(1, 1_000, 60_000, 0)).toBe(500);
    expect(backoffDelay(1, 1_000, 60_000, 1)).toBe(1_000);
    expect(backoffDelay(4, 1_000, 60_000, 1)).toBe(8_000);
    expect(backoffDelay(50, 1_000, 60_000, 1)).toBe(60_000);
    expect(backoffDelay(50, 1_000, 60_000, 0)).toBe(30_000);
    expect(backoffDelay(1, 1_000, 60_000, 0, 20_000)).toBe(20_000);
    expect(backoffDelay(1, 1_000, 60_000, 0, 10 * 3_600_000)).toBe(3_600_000);
  });
});
