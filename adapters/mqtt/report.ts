import { RateLimitedLog } from '../../lib/log.js';
import type { AdapterContext } from '../types.js';
import type { Decoded } from './decoders/index.js';

/**
 * What a decoder could not use goes to the dead-letter store: each rejected reading on its own, the
 * dropped parts of kept readings as one entry per message. Warnings (a Sparkplug sequence gap) are
 * logged, rate-limited, and counted.
 */
export class DecodeReporter {
  readonly counters = { rejected: 0, warnings: 0 };
  private readonly warn: RateLimitedLog;

  constructor(
    private readonly ctx: AdapterContext,
    private readonly source: string,
  ) {
    this.warn = new RateLimitedLog(ctx.logger);
  }

  report(decoded: Decoded, origin: string, payload: Buffer, at: number): void {
    const where = { at, source: this.source, origin, payload };
    const partial = decoded.problems.filter((p) => p.partial);
    for (const p of decoded.problems) {
      if (p.partial) continue;
      this.counters.rejected++;
      this.ctx.sink.reject({ ...where, deviceId: p.deviceId, reason: p.reason });
    }
    if (partial.length) {
      this.ctx.sink.reject(
        { ...where, deviceId: partial[0]?.deviceId ?? null, reason: partial.map((p) => p.reason).join('; ') },
        true,
      );
    }
    for (const w of decoded.warnings ?? []) {
      this.counters.warnings++;
      this.warn.warn(
        `${this.source}:${origin}`,
        { source: this.source, topic: origin, warning: w },
        'decoder warning',
      );
    }
  }
}
