import type { Logger } from '../lib/log.js';
import type { OwnershipStore } from './store.js';

/** Readings of one device kept while its claim is under way; more are not evaluated (counted). */
const MAX_WAITING = 1_000;
/**
 * Readings of devices another instance owns are kept this long (at most REPLAY_MAX each): when the
 * owner dies, they are evaluated here after its state is loaded — those since its death included,
 * which nobody evaluated. The window covers the time a death takes to notice (TTL + a heartbeat).
 */
const REPLAY_MS = 15_000;
const REPLAY_MAX = 64;
/** Devices taken per sweep of the devices whose owner died. */
const SWEEP = 500;

export interface OwnershipOptions {
  store: OwnershipStore;
  instance: string;
  /** An instance is live this long after its last heartbeat (by the store's clock). */
  ttlMs: number;
  /** Heartbeat period (a third of the TTL: two may fail before others may take over). */
  renewMs: number;
  /**
   * Without a heartbeat for this long, this instance stops evaluating what it owned — before its
   * liveness can expire and another instance take its devices over.
   */
  stepDownMs: number;
  /** Devices now owned: restore their rule state before their first reading is evaluated. */
  gained(deviceIds: string[]): Promise<void>;
  /** Devices no longer owned: drop their state, saving it first when `save` (a clean hand-over). */
  lost(deviceIds: string[], save: boolean): Promise<void>;
  logger: Logger;
  now?: () => number;
}

/**
 * Which devices this instance evaluates, among several sharing PostgreSQL (issue 20). A device is
 * claimed by the first live instance that receives its readings (or, after its owner died, by the
 * next one — and by the leader's sweep when nothing arrives), so that its rule state lives in one
 * place at a time: readings of devices another live instance owns are stored but not evaluated
 * here. Claims are batched per turn; a device's readings wait (in order) while its claim is made.
 */
export class DeviceOwnership {
  private readonly owned = new Set<string>();
  /** Devices another live instance owns, and which. */
  private readonly foreign = new Map<string, string>();
  /** The recent readings of those devices (kept for a take-over), with when they arrived. */
  private readonly recent = new Map<string, { at: number; evaluate: () => void }[]>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly toClaim = new Set<string>();
  private claimScheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private lastBeat = Number.NEGATIVE_INFINITY;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private stopped = false;
  private readonly now: () => number;
  readonly stats = { claims: 0, gained: 0, lost: 0, skipped: 0, dropped: 0, stepDowns: 0 };

  constructor(private readonly o: OwnershipOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Marks this instance live (the first heartbeat must succeed), then keeps it so. */
  async start(): Promise<void> {
    await this.beat();
    this.heartbeatTimer = setInterval(() => {
      this.serial('heartbeat', () => this.beat());
    }, this.o.renewMs);
    this.heartbeatTimer.unref();
  }

  /** The leader also takes the devices of dead instances that send nothing (their no-data clocks go on). */
  setSweeping(on: boolean): void {
    this.sweeping = on;
  }

  /** Devices owned now (for /health and the metrics). */
  get count(): number {
    return this.owned.size;
  }

  /** Whether this instance evaluates the device now (no claim made). */
  owns(deviceId: string): boolean {
    return this.current() && this.owned.has(deviceId);
  }

  /**
   * Runs `evaluate` for a reading of the device if this instance owns it; when nobody is known to,
   * after claiming it; never when another live instance does.
   */
  route(deviceId: string, evaluate: () => void): void {
    if (this.current() && this.owned.has(deviceId)) {
      evaluate();
      return;
    }
    if (!this.current()) {
      this.stats.skipped++;
      return;
    }
    if (this.foreign.has(deviceId)) {
      this.keep(deviceId, evaluate);
      return;
    }
    let queue = this.waiting.get(deviceId);
    if (!queue) {
      queue = [];
      this.waiting.set(deviceId, queue);
      this.toClaim.add(deviceId);
      this.scheduleClaim();
    }
    if (queue.length < MAX_WAITING) queue.push(evaluate);
    else this.stats.dropped++;
  }

  private keep(deviceId: string, evaluate: () => void): void {
    const now = this.now();
    let kept = this.recent.get(deviceId);
    if (!kept) {
      kept = [];
      this.recent.set(deviceId, kept);
    }
    while (kept.length && ((kept[0]?.at ?? now) < now - REPLAY_MS || kept.length >= REPLAY_MAX)) kept.shift();
    kept.push({ at: now, evaluate });
  }

  /** Claims devices now (the configured ones at the start, so that their no-data clocks run). */
  claim(deviceIds: readonly string[]): Promise<void> {
    for (const id of deviceIds) if (!this.owned.has(id)) this.toClaim.add(id);
    return this.serial('claim', () => this.claimPending());
  }

  /**
   * Within the step-down bound of the last heartbeat; else steps down at once (a pause longer than
   * the bound — a stalled event loop — must not evaluate devices another instance may own by now).
   */
  private current(): boolean {
    if (this.now() - this.lastBeat <= this.o.stepDownMs) return true;
    if (this.owned.size > 0 || this.foreign.size > 0) this.stepDown();
    return false;
  }

  private stepDown(): void {
    const ids = [...this.owned];
    this.owned.clear();
    this.foreign.clear();
    this.recent.clear();
    this.stats.stepDowns++;
    this.stats.lost += ids.length;
    this.o.logger.warn(
      { devices: ids.length },
      'no heartbeat within the bound: stopped evaluating this instance’s devices (others may take them)',
    );
    this.serial('step down', () => this.o.lost(ids, false));
  }

  private scheduleClaim(): void {
    if (this.claimScheduled) return;
    this.claimScheduled = true;
    setImmediate(() => {
      this.claimScheduled = false;
      this.serial('claim', () => this.claimPending());
    });
  }

  private serial(what: string, f: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(f).catch((err: unknown) => {
      this.o.logger.warn({ err }, `device ownership: ${what} failed`);
    });
    return this.chain;
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const live = new Set(await this.o.store.heartbeat(this.o.instance, this.o.ttlMs));
    this.lastBeat = this.now();
    const now = this.now();
    for (const [device, kept] of this.recent)
      if ((kept.at(-1)?.at ?? 0) < now - REPLAY_MS) this.recent.delete(device); // nothing recent
    // A dead owner's devices are claimed now, their recent readings waiting to be evaluated.
    for (const [device, owner] of this.foreign) {
      if (live.has(owner)) continue;
      this.foreign.delete(device);
      const kept = (this.recent.get(device) ?? []).filter((r) => r.at >= now - REPLAY_MS);
      this.recent.delete(device);
      this.waiting.set(device, [...kept.map((r) => r.evaluate), ...(this.waiting.get(device) ?? [])]);
      this.toClaim.add(device);
    }
    // Devices adopted here that an instance receiving them asked for: state saved, passed on.
    const asked = (await this.o.store.asked(this.o.instance)).filter((id) => this.owned.has(id));
    if (asked.length) {
      for (const id of asked) this.owned.delete(id);
      this.stats.lost += asked.length;
      await this.o.lost(asked, true);
      await this.o.store.handOver(this.o.instance, asked);
    }
    if (this.sweeping) {
      const orphans = await this.o.store.claimOrphans(this.o.instance, SWEEP);
      if (orphans.length) await this.take(orphans);
    }
    if (this.toClaim.size) await this.claimPending();
  }

  private async claimPending(): Promise<void> {
    if (this.toClaim.size === 0 || this.stopped) return;
    const ids = [...this.toClaim];
    this.toClaim.clear();
    let claimed: Awaited<ReturnType<OwnershipStore['claim']>>;
    try {
      this.stats.claims++;
      claimed = await this.o.store.claim(this.o.instance, ids);
    } catch (err) {
      for (const id of ids) this.toClaim.add(id); // again at the next heartbeat
      throw err;
    }
    const mine: string[] = [];
    for (const id of ids) {
      const owner = claimed.owners.get(id);
      if (owner === this.o.instance) mine.push(id);
      else if (owner === undefined || claimed.asked.has(id)) {
        // Not live yet, or asked of the adopter: the readings wait; claimed again at the next heartbeat.
        this.toClaim.add(id);
      } else {
        this.foreign.set(id, owner);
        for (const evaluate of this.waiting.get(id) ?? []) this.keep(id, evaluate);
        this.waiting.delete(id);
      }
    }
    await this.take(mine);
  }

  /** Restores the devices' state, then evaluates the readings that waited, in order. */
  private async take(ids: string[]): Promise<void> {
    const fresh = ids.filter((id) => !this.owned.has(id));
    try {
      if (fresh.length) await this.o.gained(fresh);
    } catch (err) {
      for (const id of fresh) this.toClaim.add(id); // taken again at the next heartbeat
      throw err;
    }
    this.stats.gained += fresh.length;
    for (const id of ids) {
      this.owned.add(id);
      this.foreign.delete(id);
      this.recent.delete(id);
      const queue = this.waiting.get(id);
      this.waiting.delete(id);
      for (const evaluate of queue ?? []) {
        try {
          evaluate();
        } catch (err) {
          this.o.logger.error({ err, deviceId: id }, 'a reading that waited for its claim failed');
        }
      }
    }
  }

  /**
   * A clean stop: hands every device over (state saved by `lost`), then gives up ownership and
   * liveness, so that another instance takes them at its next reading instead of after the TTL.
   */
  async stop(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    await this.serial('stop', async () => {
      this.stopped = true;
      const ids = [...this.owned];
      this.owned.clear();
      if (ids.length) await this.o.lost(ids, true);
      await this.o.store.release(this.o.instance);
    });
  }
}
