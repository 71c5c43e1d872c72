/** What happens to one message once its readings are durable (or could not be made so). */
export type Settle = (err?: unknown) => void;

interface Commit {
  durable: Promise<void>;
  messages: number;
  readings: number;
  /** Per-message callbacks (the embedded broker's PUBACKs), in arrival order; null when none. */
  settles: Settle[] | null;
}

export interface InFlightHooks {
  /** A commit's readings are durable. */
  durable(readings: number): void;
  /** A commit failed: its messages were not made durable (called once per commit, not per message). */
  failed(err: unknown): void;
  /** Messages left the in-flight count (back-pressure may resume). */
  released?(): void;
}

/**
 * Messages handed to ingest and not yet durable, counted per spool commit: ingest returns one
 * promise for all the readings of a commit, so one continuation serves them all instead of a
 * promise, a closure and a set entry per message (issue 19).
 */
export class InFlight {
  private current: Commit | undefined;
  private readonly commits = new Set<Promise<void>>();
  /** Messages in flight. */
  size = 0;

  constructor(private readonly hooks: InFlightHooks) {}

  /** One message whose `readings` become durable with `durable`; `settle` runs after, in order. */
  add(durable: Promise<void>, readings: number, settle?: Settle): void {
    let c = this.current;
    if (c === undefined || c.durable !== durable) {
      c = { durable, messages: 0, readings: 0, settles: null };
      this.current = c;
      this.track(c);
    }
    c.messages++;
    c.readings += readings;
    this.size++;
    if (settle) {
      c.settles ??= [];
      c.settles.push(settle);
    }
  }

  private track(c: Commit): void {
    const done = c.durable.then(
      () => {
        this.hooks.durable(c.readings);
        this.finish(c);
      },
      (err: unknown) => {
        this.hooks.failed(err);
        this.finish(c, err ?? new Error('not durable'));
      },
    );
    this.commits.add(done);
    void done.finally(() => this.commits.delete(done));
  }

  private finish(c: Commit, err?: unknown): void {
    if (this.current === c) this.current = undefined;
    this.size -= c.messages;
    if (c.settles) for (const settle of c.settles) settle(err);
    this.hooks.released?.();
  }

  /** Resolves once every message handed over so far is settled. */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.commits]);
  }
}
