import { backoffDelay } from '../lib/backoff.js';
import type { Logger } from '../lib/log.js';
import { InfluxWriteError, type InfluxWriter } from './influx/writer.js';
import type { DeadLetterStore, TelemetryLog } from './store.js';

export interface ForwarderOptions {
  log: TelemetryLog;
  writer: InfluxWriter;
  deadLetters: DeadLetterStore;
  logger: Logger;
  batchLines: number;
  flushIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  now?: () => number;
  random?: () => number;
  /** Told the duration of every write request (metrics). */
  observeWrite?: (ms: number, ok: boolean) => void;
}

export interface ForwarderCounters {
  /** Lines InfluxDB answered 2xx for. */
  linesWritten: number;
  requests: number;
  /** Failed attempts that will be (or were) tried again. */
  retries: number;
  /** Lines InfluxDB refused on their own, kept in the dead-letter store. */
  linesDeadLettered: number;
  inFlight: number;
  lastWriteMs: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** Consecutive failed attempts (0 when healthy). */
  failingFor: number;
  /**
   * The longest time readings waited with no successful write since start: from the later of the
   * previous write and the oldest waiting reading's spooling, to the next write (issue 19: a
   * forwarder starved by ingest shows here; includes `flushInterval` and outages).
   */
  longestWriteGapMs: number;
}

/**
 * Ships the spool to InfluxDB in order: oldest batches first, one request at a time, deleting a
 * batch only after InfluxDB answered 2xx. Failed requests are retried with capped exponential
 * backoff and jitter (honouring Retry-After); a batch InfluxDB refuses is split until the refused
 * lines are alone, and those go to the dead-letter store with the server's message. A crash between
 * the 2xx and the delete resends the batch: InfluxDB overwrites identical points, so that is safe.
 */
/** Batches read from the spool at a time, at most. */
const READ_BATCHES = 256;
/** After a burst, a partial request ships once no reading came for this long. */
const QUIET_MS = 50;

/**
 * A batch read from the spool: its lines as one text, split only when a request must take part of
 * it or InfluxDB refuses some of them (splitting every batch into line strings was a tenth of the
 * forwarder's garbage, issue 19).
 */
interface HeldBatch {
  id: number;
  createdAt: number;
  text: string;
  lines: number;
}

/** The batch's text without empty lines, and how many lines it has. */
function heldBatch(id: number, createdAt: number, text: string): HeldBatch {
  if (text === '' || text.startsWith('\n') || text.endsWith('\n') || text.includes('\n\n'))
    text = text
      .split('\n')
      .filter((l) => l !== '')
      .join('\n');
  let lines = text === '' ? 0 : 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  return { id, createdAt, text, lines };
}

export class Forwarder {
  readonly counters: ForwarderCounters = {
    linesWritten: 0,
    requests: 0,
    retries: 0,
    linesDeadLettered: 0,
    inFlight: 0,
    lastWriteMs: null,
    lastSuccessAt: null,
    lastError: null,
    lastErrorAt: null,
    failingFor: 0,
    longestWriteGapMs: 0,
  };
  /** When the oldest reading of the request being shipped was spooled. */
  private waitingSince = 0;
  /** When the last full request (or one that left readings behind) was shipped. */
  private fullAt: number | null = null;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly o: ForwarderOptions) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err: unknown) => {
      this.o.logger.fatal({ err }, 'forwarder stopped unexpectedly');
    });
  }

  /** New data is in the spool. */
  notify(): void {
    this.wake?.();
  }

  /** Stops after the request in flight (bounded by the writer's timeout). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = undefined;
    });
  }

  /**
   * How long a request that is not full waits for more readings (0: ship now). It may fill up for
   * `flushInterval` since its oldest reading was spooled — but right after a burst (a full request
   * went out within `flushInterval`) only until the readings stop coming for QUIET_MS: waiting
   * longer would not fill it, only hold the tail of the burst back (issue 19: that wait was a third
   * of a 50,000-reading burst's time to InfluxDB). A slow trickle still goes out once per interval.
   */
  private lingerMs(first: HeldBatch, newest: HeldBatch, count: number, heldBatches: number): number {
    if (count >= this.o.batchLines || heldBatches >= READ_BATCHES) return 0;
    const now = this.now();
    const waitMs = first.createdAt + this.o.flushIntervalMs - now;
    if (waitMs <= 0) return 0;
    const afterBurst = this.fullAt !== null && now - this.fullAt < this.o.flushIntervalMs;
    if (!afterBurst) return waitMs;
    return Math.max(Math.min(waitMs, newest.createdAt + QUIET_MS - now), 0);
  }

  private backoff(attempt: number, retryAfterMs?: number): number {
    return backoffDelay(attempt, this.o.retryMinMs, this.o.retryMaxMs, this.random(), retryAfterMs);
  }

  private async run(): Promise<void> {
    // Batches read from the spool (inflated and split once) and not shipped yet, oldest first.
    // While a small batch fills up, every commit wakes the loop: it reads only what came since.
    let held: HeldBatch[] = [];
    // Shipped and deleted through this id.
    let afterId = 0;
    while (this.running) {
      try {
        if (held.length < READ_BATCHES) {
          const from = held.length > 0 ? (held[held.length - 1] as HeldBatch).id : afterId;
          for (const b of await this.o.log.read(from, READ_BATCHES - held.length))
            held.push(heldBatch(b.id, b.createdAt, b.lines));
        }
        const first = held[0];
        if (!first) {
          await this.sleep(this.o.flushIntervalMs);
          continue;
        }
        let count = 0;
        let take = 0;
        for (const b of held) {
          if (count > 0 && count + b.lines > this.o.batchLines) break;
          count += b.lines;
          take++;
        }
        const wait = this.lingerMs(first, held[held.length - 1] as HeldBatch, count, held.length);
        if (wait > 0) {
          await this.sleep(wait);
          continue;
        }
        const shipping = held.slice(0, take);
        this.waitingSince = first.createdAt;
        if (count <= this.o.batchLines) {
          const text = shipping.map((b) => b.text).filter((t) => t !== '');
          if (text.length > 0) await this.shipText(text.join('\n'), count);
        } else {
          // One batch larger than a request: in requests of batchLines.
          const lines = shipping.flatMap((b) => (b.text === '' ? [] : b.text.split('\n')));
          for (let i = 0; i < lines.length && this.running; i += this.o.batchLines)
            await this.ship(lines.slice(i, i + this.o.batchLines));
        }
        if (!this.running) break;
        if (count >= this.o.batchLines || take < held.length) this.fullAt = this.now();
        const lastId = (shipping[shipping.length - 1] as HeldBatch).id;
        await this.o.log.deleteThrough(lastId);
        afterId = lastId;
        held = held.slice(take);
        if (this.counters.failingFor > 0) {
          this.o.logger.info({ after: this.counters.failingFor }, 'InfluxDB writes succeed again');
        }
        this.counters.failingFor = 0;
      } catch (err) {
        // Anything else (a spool read, a dead-letter insert on a full disk) is retried the same way:
        // the forwarder must never stop while the spool holds data. The next attempt reads the
        // spool again: its bounds may have dropped the oldest batches meanwhile.
        held = [];
        const retryAfterMs =
          err instanceof InfluxWriteError && err.failure.kind === 'retry'
            ? err.failure.retryAfterMs
            : undefined;
        const status = err instanceof InfluxWriteError ? err.failure.status : null;
        if (!(err instanceof InfluxWriteError)) this.o.logger.error({ err }, 'forwarder error');
        this.counters.retries++;
        this.counters.failingFor++;
        this.counters.lastError = (err as Error).message;
        this.counters.lastErrorAt = this.now();
        const delay = this.backoff(this.counters.failingFor, retryAfterMs);
        const log = this.counters.failingFor === 1 || this.counters.failingFor % 10 === 0 ? 'warn' : 'debug';
        this.o.logger[log](
          {
            status,
            error: (err as Error).message,
            attempt: this.counters.failingFor,
            retryInMs: Math.round(delay),
          },
          'InfluxDB write failed; the spool keeps the data and retries',
        );
        await this.sleep(delay);
      }
    }
  }

  /** Writes `count` lines given as one text; on refusal, splits them (`ship`). */
  private async shipText(text: string, count: number): Promise<void> {
    try {
      await this.write(text, count);
    } catch (err) {
      if (!(err instanceof InfluxWriteError) || err.failure.kind !== 'rejected') throw err;
      const lines = text.split('\n');
      if (lines.length === 1) {
        await this.deadLetter(text, err.failure.status, err.message);
        return;
      }
      const mid = Math.ceil(lines.length / 2);
      await this.ship(lines.slice(0, mid));
      await this.ship(lines.slice(mid));
    }
  }

  /** Writes lines; on refusal, halves the batch until the refused lines are alone. */
  private async ship(lines: string[]): Promise<void> {
    try {
      await this.write(lines.join('\n'), lines.length);
    } catch (err) {
      if (!(err instanceof InfluxWriteError) || err.failure.kind !== 'rejected') throw err;
      if (lines.length === 1) {
        await this.deadLetter(lines[0] as string, err.failure.status, err.message);
        return;
      }
      // InfluxDB 1.x has stored the good lines of a partially refused request already; sending them
      // again in the halves overwrites them with the same values.
      const mid = Math.ceil(lines.length / 2);
      await this.ship(lines.slice(0, mid));
      await this.ship(lines.slice(mid));
    }
  }

  /** One write request, counted and timed. */
  private async write(text: string, count: number): Promise<void> {
    const started = this.now();
    this.counters.requests++;
    this.counters.inFlight++;
    try {
      await this.o.writer.write(text);
      this.counters.linesWritten += count;
      const now = this.now();
      this.counters.lastWriteMs = now - started;
      const gap = now - Math.max(this.counters.lastSuccessAt ?? 0, this.waitingSince);
      if (gap > this.counters.longestWriteGapMs) this.counters.longestWriteGapMs = gap;
      this.counters.lastSuccessAt = now;
      this.o.observeWrite?.(this.counters.lastWriteMs, true);
    } catch (err) {
      this.o.observeWrite?.(this.now() - started, false);
      throw err;
    } finally {
      this.counters.inFlight--;
    }
  }

  private async deadLetter(line: string, status: number, message: string): Promise<void> {
    this.counters.linesDeadLettered++;
    const device = /(?:^|[^\\]),device=((?:\\.|[^,= ])+)/.exec(line)?.[1]?.replace(/\\(.)/g, '$1') ?? null;
    this.o.logger.warn(
      { status, error: message, line: line.slice(0, 200) },
      'InfluxDB refused a line; dead-lettered',
    );
    await this.o.deadLetters.add({
      at: this.now(),
      source: 'influx',
      deviceId: device,
      origin: this.o.writer.target,
      reason: `${status}: ${message}`,
      payload: Buffer.from(line),
    });
  }
}
