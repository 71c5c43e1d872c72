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
  /**
   * Saves (or, with a `null` state, deletes) series in one transaction. The states are the
   * engine's live objects: serialise them before returning control to the event loop.
   */
  saveMany(entries: SavedSeries<SeriesState | null>[]): Promise<void>;
}
