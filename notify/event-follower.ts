import type { Outbox, StoredEvent } from './outbox.js';

/** Events read per query while catching up. */
const PAGE = 500;

export interface FollowerOptions {
  /** Read the store this often even when no signal came (a notification lost with its connection). */
  pollMs: number;
  /** A read failed (the store unreachable): tried again at the next signal or poll. */
  onError: (err: unknown) => void;
}

/**
 * Follows the outbox of a store several gateway instances share (issue 20): reads the events after
 * the last one relayed — when signalled (PostgreSQL's NOTIFY, see lib/pg-listen.ts) and every
 * `pollMs` in case a signal was lost — and tells the outbox's listeners of each, in sequence order,
 * whichever instance stored it. With a shared store this is the one way listeners hear of events
 * (`Outbox.relayOnlyFollowed`): the SSE streams, the deliverers and the SLA watcher of every
 * instance see the same events in the same order.
 */
export class EventFollower {
  private seq = 0;
  /** The newest seq a notification named: beyond it, nothing is known to be stored. */
  private known = 0;
  /** Events this instance stored, not yet relayed: relayed without reading them back. */
  private readonly own = new Map<number, StoredEvent>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private started = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly opts: FollowerOptions,
  ) {}

  /** Starts after the newest stored event: what was stored before is history (replayed by the streams themselves). */
  async start(): Promise<void> {
    this.seq = await this.outbox.lastSeq();
    this.known = this.seq;
    this.stopped = false;
    this.started = true;
    this.timer = setInterval(() => this.signal(), this.opts.pollMs);
    this.timer.unref();
  }

  /** The last event relayed. */
  get position(): number {
    return this.seq;
  }

  /**
   * An event this instance stored (told once committed): relayed in its turn without a query —
   * when every event before it has been relayed.
   */
  stored(e: StoredEvent): void {
    if (!this.started || e.seq <= this.seq) return; // before the start: history
    this.own.set(e.seq, e);
    this.signal(e.seq);
  }

  /**
   * New events may be stored (up to `seq`, when a notification says): read them (once, however
   * many signals arrive meanwhile). Without a seq (the poll, a reconnection): read what there is.
   */
  signal(seq?: number): void {
    if (this.stopped) return;
    this.known = seq === undefined ? Number.POSITIVE_INFINITY : Math.max(this.known, seq);
    this.run();
  }

  private run(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pull()
      .catch(this.opts.onError)
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }

  private async pull(): Promise<void> {
    // This instance's own events, in order, as far as they follow on without a gap.
    for (let next = this.own.get(this.seq + 1); next; next = this.own.get(this.seq + 1)) {
      if (this.stopped) return;
      this.own.delete(next.seq);
      this.seq = next.seq;
      this.outbox.relay(next);
    }
    if (this.known <= this.seq) return; // nothing stored beyond what was relayed
    this.known = this.seq;
    for (;;) {
      const page: StoredEvent[] = await this.outbox.since(this.seq, PAGE);
      for (const e of page) {
        if (this.stopped) return;
        this.seq = e.seq;
        this.own.delete(e.seq);
        this.outbox.relay(e);
      }
      if (page.length < PAGE) return;
    }
  }

  /** Resolves when the events signalled so far are relayed (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
