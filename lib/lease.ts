/**
 * A leader lease (issue 20): of several gateway instances sharing a database, the one holding the
 * lease runs what must run once — SLA timers and escalations, preventive schedules, webhook and mail
 * deliveries, housekeeping of shared tables. The lease lives in the database with an expiry judged
 * by the database's clock (instances' clocks may disagree); the holder renews it every `ttl / 3`.
 *
 * Guarantees, with `ttl` (default 10 s):
 * - a leader that dies is replaced within `ttl + ttl / 3` (≤ 13.4 s by default);
 * - a leader stopped cleanly releases the lease: replaced within `ttl / 3`;
 * - a leader that cannot renew (the database unreachable) steps down once `ttl * 0.8` has passed
 *   since its last renewal — before the lease can expire and another take it — so that two leaders
 *   never act at once, as long as the pause of a process stays under `ttl / 5`.
 */
export interface LeaseStore {
  /** Takes or renews lease `name` for `holder` for `ttlMs` (database time); true when held. */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` has it. */
  release(name: string, holder: string): Promise<void>;
  /** Who holds it now (null: nobody, or expired). */
  holder(name: string): Promise<string | null>;
}

export interface LeaseOptions {
  store: LeaseStore;
  name: string;
  holder: string;
  ttlMs?: number;
  /** Told when this instance becomes the leader, and when it stops being one. */
  onChange: (leader: boolean) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export const LEASE_TTL_MS = 10_000;

export class Lease {
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private watchdog: NodeJS.Timeout | null = null;
  private held = false;
  private lastRenewed = 0;
  private running: Promise<void> = Promise.resolve();
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(private readonly o: LeaseOptions) {
    this.ttl = o.ttlMs ?? LEASE_TTL_MS;
    this.now = o.now ?? (() => performance.now());
  }

  get leader(): boolean {
    return this.held;
  }

  /** Tries at once (resolves once that try is done), then every `ttl / 3`. */
  start(): Promise<void> {
    this.started = true;
    this.running = this.tick();
    // A renewal that hangs (a stuck connection) must not keep a leader acting past its lease.
    this.watchdog = setInterval(() => this.stepDownIfOverdue(), this.ttl / 10);
    this.watchdog.unref();
    return this.running;
  }

  /** Stops trying; releases the lease if held (another instance takes over at its next try). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.timer = null;
    this.watchdog = null;
    await this.running;
    if (!this.held) return;
    this.set(false);
    await this.o.store.release(this.o.name, this.o.holder).catch((err: unknown) => this.o.onError?.(err));
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const started = this.now();
    try {
      const held = await this.o.store.acquire(this.o.name, this.o.holder, this.ttl);
      if (held) this.lastRenewed = started;
      this.set(held);
    } catch (err) {
      this.o.onError?.(err);
      this.stepDownIfOverdue();
    }
    if (this.started) this.schedule(this.ttl / 3);
  }

  /** Unrenewed for `ttl * 0.8`: no longer surely the holder. */
  private stepDownIfOverdue(): void {
    if (this.held && this.now() - this.lastRenewed > this.ttl * 0.8) this.set(false);
  }

  private set(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    this.o.onChange(held);
  }
}
