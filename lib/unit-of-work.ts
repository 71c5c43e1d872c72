import type { SqliteDatabase } from './sqlite.js';

/** What the unit of work tells about itself (metrics, tests, the bench). */
export interface UnitOfWorkStats {
  /** Turn transactions committed. */
  commits: number;
  /** Turn transactions whose commit failed (their changes rolled back; see docs/architecture.md). */
  failedCommits: number;
  /** Commits that had to wait for another connection's write and were tried again. */
  retriedCommits: number;
  /** Rows written at a commit that failed alone (their item lost, the rest of the turn committed). */
  droppedRows: number;
}

type Schedule = (fn: () => void) => void;
/** Runs `fn` in `ms`; returns what cancels it. */
type Delay = (fn: () => void, ms: number) => () => void;

/**
 * What a SQLite store needs of the turn's transaction to keep its rows until the commit and write
 * them then, several to a statement (issue 19): whether a turn is open, and a callback just before
 * its COMMIT. The store writes at once when no turn is open.
 */
export interface TurnWrites {
  /** Whether a turn transaction is open now (rows may wait for its commit). */
  readonly active: boolean;
  /** Runs `flush` once, in the turn's transaction just before it commits (now when none is open). */
  beforeCommit(flush: () => void): void;
  /** A row that could not be written at the commit (the rest of the turn was): logged and counted. */
  dropped(err: unknown, what: string): void;
}

/** How often a commit that found the file busy (another connection writing) is tried again. */
const COMMIT_ATTEMPTS = 3;
/**
 * How long a turn transaction may stay open while the turns after it keep changing state (a burst):
 * committing every turn wrote the same alert, ticket and index pages to the WAL again each turn,
 * two write() calls per page — a third of an alert transition's cost (issue 19).
 */
export const GROUP_COMMIT_MS = 10;

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
 * The busiest rows (alerts, their history, outbox events) are not written one statement and one
 * savepoint each: their stores keep them in memory while the turn is open and write each table's
 * rows with multi-row statements in `beforeCommit` (`TurnWrites`); a read of such a store writes
 * what waits first, so it sees its own turn. Should a multi-row statement fail, its rows are written
 * one by one, each on its own: a row that still fails is logged and counted (`droppedRows`), the
 * others commit.
 *
 * A failed commit (disk full, I/O error) loses that turn's state changes, as a crash would; the
 * readings themselves are already in the spool (their own file, committed before the rules saw
 * them) and so in InfluxDB; a condition that persists fires again. Counted and logged.
 */
export class UnitOfWork implements TurnWrites {
  private open = false;
  private openedAt = 0;
  /** A change joined the open transaction since the last end-of-turn look. */
  private joinedSinceCheck = false;
  private readonly before: (() => void)[] = [];
  private readonly after: (() => void)[] = [];
  /** Work on its way whose changes will join (the spool's batches being committed); none: nothing. */
  private inFlight: () => boolean = () => false;
  private delay: Delay = (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  };
  /** Cancels the end-of-turn look waiting on `delay` (the commit came first). */
  private cancelWait: (() => void) | null = null;
  /** Waiting for the open transaction's outcome (`committed()`). */
  private readonly waiting: { done: () => void; failed: (err: unknown) => void }[] = [];
  readonly stats: UnitOfWorkStats = { commits: 0, failedCommits: 0, retriedCommits: 0, droppedRows: 0 };

  constructor(
    /** state.db; null when the state lives in PostgreSQL (each store call is its own transaction). */
    private readonly db: SqliteDatabase | null,
    private readonly onError: (
      err: unknown,
      stage: 'begin' | 'before-commit' | 'commit' | 'after-commit',
      what?: string,
    ) => void,
    private readonly schedule: Schedule = (fn) => setImmediate(fn),
    /** How long the transaction may span the turns of a burst (0: each turn commits). */
    private readonly groupMs = GROUP_COMMIT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Keeps the transaction open, up to `groupMs`, while `inFlight()` says changes are on their way:
   * the spool's batches are compressed off the thread and committed a few turns after the readings
   * came, so a turn of a burst may go by with nothing joining and the burst is not over. It waits on
   * a timer then (the immediate would keep the loop spinning until the batch is back).
   */
  waitFor(inFlight: () => boolean, delay?: Delay): void {
    this.inFlight = inFlight;
    if (delay) this.delay = delay;
  }

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
    if (this.db === null) return;
    if (this.open) {
      this.joinedSinceCheck = true;
      return;
    }
    if (this.db.inTransaction) return;
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      // The file stayed busy past the busy timeout: this turn's changes go one transaction each.
      this.onError(err, 'begin');
      return;
    }
    this.open = true;
    this.openedAt = this.now();
    // The turns after this one are yet to come: the end of this turn only looks, the next commits if it changed nothing.
    this.joinedSinceCheck = this.groupMs > 0;
    this.schedule(this.atTurnEnd);
  }

  /**
   * At the end of a turn: commits, unless the turns since the last look changed state again, or
   * changes are on their way (`waitFor`), and the transaction is younger than `groupMs` (a burst:
   * the next turns join it). A lone change commits
   * at the end of the loop iteration after its own (no wait: the immediate keeps the loop from
   * sleeping).
   */
  private readonly atTurnEnd = (): void => {
    if (!this.open) return;
    const age = this.now() - this.openedAt;
    if (age < this.groupMs) {
      if (this.joinedSinceCheck) {
        this.joinedSinceCheck = false;
        this.schedule(this.atTurnEnd);
        return;
      }
      if (this.inFlight()) {
        this.cancelWait = this.delay(() => {
          this.cancelWait = null;
          this.atTurnEnd();
        }, this.groupMs - age);
        return;
      }
    }
    this.commit();
  };

  beforeCommit(flush: () => void): void {
    if (this.open) this.before.push(flush);
    else this.runBefore(flush);
  }

  dropped(err: unknown, what: string): void {
    this.stats.droppedRows++;
    this.onError(err, 'before-commit', what);
  }

  /**
   * Runs `fn` once what was changed so far is committed: after the turn's commit, or now when no
   * turn transaction is open.
   */
  afterCommit(fn: () => void): void {
    if (this.open) this.after.push(fn);
    else this.runAfter(fn);
  }

  /**
   * Resolves once what was changed so far is committed (at once when no transaction is open);
   * rejects with the commit's error when it failed — those changes were rolled back.
   */
  committed(): Promise<void> {
    if (!this.open) return Promise.resolve();
    return new Promise((done, failed) => this.waiting.push({ done, failed }));
  }

  /** Commits the turn's transaction now (stop, tests); a no-op when none is open. */
  commit(): void {
    if (!this.open || this.db === null) return;
    this.cancelWait?.();
    this.cancelWait = null;
    let error: unknown;
    // The rows stores kept for the commit, written in the transaction (a flush may queue another).
    for (let flush = this.before.shift(); flush; flush = this.before.shift()) this.runBefore(flush);
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
        error = err;
        break;
      }
    }
    const after = this.after.splice(0);
    const waiting = this.waiting.splice(0);
    // A failed turn's events were rolled back with it: nobody hears of them.
    if (failed) {
      for (const w of waiting) w.failed(error);
      return;
    }
    for (const fn of after) this.runAfter(fn);
    for (const w of waiting) w.done();
  }

  private runBefore(flush: () => void): void {
    try {
      flush();
    } catch (err) {
      this.onError(err, 'before-commit');
    }
  }

  private runAfter(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onError(err, 'after-commit');
    }
  }
}
