import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RateLimitedLog } from './log.js';

describe('RateLimitedLog', () => {
  it('logs at most `limit` lines per key and interval, then says how many it suppressed', () => {
    const lines: { msg: string; suppressed?: number; key?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    let now = 0;
    const log = new RateLimitedLog(logger, 2, 1_000, () => now);
    for (let i = 0; i < 5; i++) log.warn('dev-1', { i }, 'bad payload');
    log.warn('dev-2', {}, 'bad payload');
    expect(lines.map((l) => l.msg)).toEqual(['bad payload', 'bad payload', 'bad payload']);
    now = 1_000;
    log.warn('dev-1', {}, 'bad payload');
    expect(lines.slice(3)).toMatchObject([
      { msg: 'similar warnings suppressed', key: 'dev-1', suppressed: 3 },
      { msg: 'bad payload' },
    ]);
  });
});
