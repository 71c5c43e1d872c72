import type { SqliteDatabase } from './sqlite.js';

/** What the unit of work tells about itself (metrics, tests, the bench). */
export interface UnitOfWorkStats {
  /** Turn transactions committed. */
  commits: number;
  /** Turn transactions whose commit failed (their changes rolled back; see docs/architecture.md). */
  failedCommits: number;
  /** Commits that had to wait for another connection's write and were tried again. */
  retriedCommits: number;
}

type Schedule = (fn: () => void) => void;

/** How often a commit that found the file busy (another connection writing) is tried again. */
const COMMIT_ATTEMPTS = 3;

/**
 * One transaction per event-loop turn for the state changes that readings cause (issue 19): alert
 * transitions, ticket openings and occurrences, timeline entries, clock changes and outbox events
 * of one turn are committed together, instead of one SQLite transaction each.
 *
 * The state path calls `join()` when a turn's first change begins; the transaction opens then and
 * commits once the turn's work is done (`setImmediate`: after every promise continuation of the
 * turn has run). Every store call inside it keeps its own atomicity: better-sqlite3 runs a
 * `db.transaction()` that starts inside an open transaction as a SAVEPOINT, so one item that fails
 * is rolled back alone and the turn's other items still commit. What must only be seen once
 * committed — events relayed to streams and webhook deliverers, the API worker reading from its own
 * connection — waits for `afterCommit`.
 *
 * A failed commit (disk full, I/O error) loses that turn's state changes, as a crash would; the
 * readings themselves are already in the spool (their own file, committed before the rules saw
 * them) and so in InfluxDB; a condition that persists fires again. Counted and logged.
 */
export class UnitOfWork {
  private open = false;
  private readonly after: (() => void)[] = [];
  readonly stats: UnitOfWorkStats = { commits: 0, failedCommits: 0, retriedCommits: 0 };

  constructor(
    /** state.db; null when the state lives in PostgreSQL (each store call is its own transaction). */
    private readonly db: SqliteDatabase | null,
    private readonly onError: (err: unknown, stage: 'begin' | 'commit' | 'after-commit') => void,
    private readonly schedule: Schedule = (fn) => setImmediate(fn),
  ) {}

  /** Whether a turn transaction is open now. */
  get active(): boolean {
    return this.open;
  }

  /**
   * Makes the changes from here to the end of this turn part of the turn's transaction (opened now
   * if none is). Idempotent within a turn. When another transaction is already open on the
   * connection (a store call that is running), the changes belong to that one and nothing opens.
   */
  join(): void {
    if (this.db === null || this.open || this.db.inTransaction) return;
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      // The file stayed busy past the busy timeout: this turn's changes go one transaction each.
      this.onError(err, 'begin');
      return;
    }
    this.open = true;
    this.schedule(() => this.commit());
  }

  /**
   * Runs `fn` once what was changed so far is committed: after the turn's commit, or now when no
   * turn transaction is open.
   */
  afterCommit(fn: () => void): void {
    if (this.open) this.after.push(fn);
    else this.runAfter(fn);
  }

  /** Commits the turn's transaction now (stop, tests); a no-op when none is open. */
  commit(): void {
    if (!this.open || this.db === null) return;
    this.open = false;
    let failed = false;
    for (let attempt = 1; ; attempt++) {
      try {
        this.db.exec('COMMIT');
        this.stats.commits++;
        break;
      } catch (err) {
        // SQLITE_BUSY at commit leaves the transaction open: another connection is reading an older
        // snapshot of the WAL; try again (the busy timeout waits between tries).
        const db = this.db;
        const busy = (err as { code?: string }).code?.startsWith('SQLITE_BUSY') && db.inTransaction;
        if (busy && attempt < COMMIT_ATTEMPTS) {
          this.stats.retriedCommits++;
          continue;
        }
        failed = true;
        this.stats.failedCommits++;
        if (this.db.inTransaction) {
          try {
            this.db.exec('ROLLBACK');
          } catch {
            // SQLite rolled it back itself.
          }
        }
        this.onError(err, 'commit');
        break;
      }
    }
    const after = this.after.splice(0);
    // A failed turn's events were rolled back with it: nobody hears of them.
    if (failed) return;
    for (const fn of after) this.runAfter(fn);
  }

  private runAfter(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onError(err, 'after-commit');
    }
  }
}
