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
