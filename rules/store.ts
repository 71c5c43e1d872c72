import type { Alert, AlertFilter, AlertHistoryEntry } from './alerts.js';
import type { SeriesState } from './evaluate.js';
import type { NewSilence, Silence } from './silences.js';

/**
 * The rules folder's stored state, behind async interfaces (issue 19): SQLite today
 * (`sqlite-*.ts`), PostgreSQL for several instances next. Every implementation passes the suites in
 * `test/contracts/`.
 */

/**
 * Stored maintenance windows (silences). Recurring windows of the configuration are not stored:
 * `Silences` (silences.ts) adds them, and keeps the current windows in memory for the check on every
 * firing alert.
 */
export interface SilenceStore {
  /** Stores a new window, made at `at`; the store gives it its id (`S-<n>`, increasing). */
  create(s: NewSilence, at: number): Promise<Silence>;
  /** The stored window with this id (ended or not), or undefined. */
  get(id: string): Promise<Silence | undefined>;
  /** Moves a window to [from, to); undefined when there is no such window. */
  move(id: string, from: number, to: number): Promise<Silence | undefined>;
  /**
   * Ends a window at `at` (kept for the record); a window already ended keeps its first end.
   * Undefined when there is no such window.
   */
  end(id: string, at: number): Promise<Silence | undefined>;
  /**
   * Windows not over at `at`: planned end after `at`, not ended, or ended after `at` and after it
   * started. Oldest first (by id).
   */
  current(at: number): Promise<Silence[]>;
  /** The newest `limit` stored windows, over or not, newest first. */
  recent(limit: number): Promise<Silence[]>;
}

/** Where alerts live: one row per (rule, device), with its recent history. */
export interface AlertStore {
  get(id: string): Promise<Alert | undefined>;
  /** Stores the alert, and the change that led to it in its history (one transaction). */
  upsert(alert: Alert, change?: AlertHistoryEntry): Promise<void>;
  /** The newest changes first. */
  history(id: string, limit: number): Promise<AlertHistoryEntry[]>;
  /** Firing first, then pending, resolved, inactive; newest change first within each. */
  list(
    filter: AlertFilter,
    limit: number,
    cursor?: string,
  ): Promise<{ items: Alert[]; nextCursor: string | null }>;
}

/** One series as saved: which alert, the rule's definition (fingerprint), and its state. */
export interface SavedSeries<S = SeriesState> {
  alertId: string;
  ruleId: string;
  fingerprint: string;
  deviceId: string;
  state: S;
}

/** Where per-series state survives a restart (`for`, windows, no-data timers). */
export interface RuleStateStore {
  loadAll(): Promise<SavedSeries[]>;
  /** The saved series of these devices (a device taken over from another instance, issue 20). */
  loadDevices(deviceIds: readonly string[]): Promise<SavedSeries[]>;
  /**
   * Saves (or, with a `null` state, deletes) series in one transaction. The states are the
   * engine's live objects: serialise them before returning control to the event loop.
   */
  saveMany(entries: SavedSeries<SeriesState | null>[]): Promise<void>;
}

/**
 * Which instance evaluates each device's rules, among several sharing one PostgreSQL (issue 20), so
 * that a device's rule state lives in one place at a time. An instance is live while its heartbeat
 * has not expired (by the store's clock); a device whose owner is not live may be claimed by another.
 * A device the leader adopted (its owner died and nothing receives its readings) is handed over to an
 * instance that receives them: that one asks, the adopter saves the state and passes it on.
 */
export interface OwnershipStore {
  /** Marks the instance live for `ttlMs` more; returns the ids of every live instance (itself included). */
  heartbeat(instance: string, ttlMs: number): Promise<string[]>;
  /**
   * Claims those of the devices that have no owner, or whose owner is not live, for the instance —
   * only while the instance itself is live — and asks for those a live instance adopted. Returns
   * every one of the devices' owner afterwards, and which of them are asked for (claim again later).
   */
  claim(
    instance: string,
    deviceIds: readonly string[],
  ): Promise<{ owners: Map<string, string>; asked: Set<string> }>;
  /** Adopts at most `limit` devices whose owner is not live (the leader's sweep); returns them. */
  claimOrphans(instance: string, limit: number): Promise<string[]>;
  /** The instance's devices another instance asked for. */
  asked(instance: string): Promise<string[]>;
  /** Passes these asked-for devices to the instances that asked (their state saved before). */
  handOver(instance: string, deviceIds: readonly string[]): Promise<void>;
  /** Gives up these devices; without a list, all of them and the instance's liveness (a clean stop). */
  release(instance: string, deviceIds?: readonly string[]): Promise<void>;
}
