import type { Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Logs at most `limit` messages per `intervalMs` for one key and then one summary with the count
 * of what was suppressed, so that a device flooding bad payloads cannot flood the log.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly limit = 5,
    private readonly intervalMs = 60_000, // 1 minute
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= this.intervalMs) {
      if (w && w.suppressed > 0) {
        this.logger.warn({ key, suppressed: w.suppressed }, 'similar warnings suppressed');
      }
      w = { start: t, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (this.windows.size > 10_000) this.windows.delete(this.windows.keys().next().value as string);
    }
    if (w.count < this.limit) {
      w.count++;
      this.logger.warn(obj, msg);
    } else {
      w.suppressed++;
    }
  }
}
