import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import { duration } from './duration.js';

/** How failed authentication is throttled per client address (API and embedded broker). */
export const authFailuresSchema = z
  .object({
    /** Failures allowed from one address within `window` before it is blocked. */
    maxFailures: z.number().int().min(1).default(10),
    window: duration.pipe(z.number().min(1_000, 'at least 1s')).prefault('1m'),
    /** How long a blocked address is refused without its credentials being checked. */
    block: duration.pipe(z.number().min(1_000, 'at least 1s')).prefault('5m'),
  })
  .strict();

export type AuthFailuresConfig = z.output<typeof authFailuresSchema>;

/**
 * Failed logins per client address (rate-limiter-flexible's memory limiter): after `maxFailures`
 * within `window`, the address is blocked for `block`. Keyed by address, not by what was sent, so
 * that rotating made-up credentials does not start a new bucket each time (issue 18).
 */
export class AuthThrottle {
  private readonly limiter: RateLimiterMemory;
  /** Addresses blocked since start (each block counted once). */
  blocks = 0;

  constructor(private readonly cfg: AuthFailuresConfig) {
    this.limiter = new RateLimiterMemory({
      points: cfg.maxFailures,
      duration: Math.ceil(cfg.window / 1000),
      blockDuration: Math.ceil(cfg.block / 1000),
    });
  }

  /** Milliseconds until `address` may try again; 0 when it is not blocked. */
  async blockedFor(address: string): Promise<number> {
    const r = await this.limiter.get(address);
    return r !== null && r.consumedPoints > this.cfg.maxFailures ? r.msBeforeNext : 0;
  }

  /** Records a failed attempt; resolves the milliseconds `address` is now blocked for (0: not blocked). */
  async failed(address: string): Promise<number> {
    try {
      await this.limiter.consume(address);
      return 0;
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      if (res.consumedPoints === this.cfg.maxFailures + 1) this.blocks++;
      return res.msBeforeNext;
    }
  }
}
