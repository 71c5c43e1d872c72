import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../lib/sqlite.js';
import { writeKeptRows } from '../lib/sqlite-rows.js';
import type { TurnWrites } from '../lib/unit-of-work.js';

/** How long occurrences counted in memory may wait before their tickets' rows are written. */
export const OCCURRENCES_WRITE_MS = 1_000;

/**
 * Occurrences of flapping alerts on their open tickets, counted in memory and written within
 * OCCURRENCES_WRITE_MS (issue 19): an `UPDATE … RETURNING` per re-firing rewrote the whole ticket row
 * — the largest single cost a flapping alert added to a reading. The first occurrence of a pair
 * goes to the database and tells which ticket is open; until the store writes anything else (which
 * may close it), the pair's next occurrences are counted here. Written in the open turn's commit,
 * or in a transaction of their own; the store writes them before any other statement of its own, so
 * its reads see exact counts. A crash loses at most the last OCCURRENCES_WRITE_MS of counting.
 */
export class KeptOccurrences {
  /** The open ticket of each (rule, device) pair counted on, while no other write intervened. */
  private readonly openSeq = new Map<string, number>();
  /** Counted, not yet written: per ticket seq, how many and the last one's time. */
  private kept: Map<number, { pair: string; n: number; at: number }> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private queued = false;
  private turn: TurnWrites | null = null;

  constructor(
    private readonly db: SqliteDatabase,
    /** `UPDATE tickets SET occurrences = occurrences + ?, last_occurrence_at = ?, updated_at = ? WHERE seq = ? AND is_open = 1` */
    private readonly add: Statement,
  ) {}

  writeAtCommit(turn: TurnWrites): void {
    this.turn = turn;
  }

  /** Counts an occurrence of the pair in memory if its open ticket is known: that ticket's seq. */
  count(pair: string, at: number): number | undefined {
    const seq = this.openSeq.get(pair);
    if (seq === undefined) return undefined;
    let kept = this.kept;
    if (!kept) {
      kept = new Map();
      this.kept = kept;
      this.timer = setTimeout(() => this.due(), OCCURRENCES_WRITE_MS);
      this.timer.unref?.();
    }
    const k = kept.get(seq);
    if (k) {
      k.n++;
      k.at = at;
    } else kept.set(seq, { pair, n: 1, at });
    return seq;
  }

  /**
   * The pair's open ticket, as the database just said (counted there). Remembered only in the
   * gateway (a turn to write with, which also names a row that could not be written).
   */
  learned(pair: string, seq: number): void {
    if (this.turn) this.openSeq.set(pair, seq);
  }

  /**
   * Before another statement of the store: writes what is counted; `writing`: that statement may
   * open or close tickets, so which ticket is open is asked of the database again.
   */
  settle(writing: boolean): void {
    this.write();
    if (writing) this.openSeq.clear();
  }

  private due(): void {
    this.timer = null;
    if (this.queued) return;
    this.queued = true;
    if (this.turn?.active) this.turn.beforeCommit(() => this.write());
    else this.write();
  }

  private write(): void {
    this.queued = false;
    const kept = this.kept;
    if (!kept) return;
    this.kept = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const rows = [...kept].map(([seq, k]) => [k.n, k.at, k.at, seq, k.pair]);
    writeKeptRows(this.db, this.turn as TurnWrites, [
      {
        rows,
        one: (row) => {
          // Not open any more (its opening was rolled back with a failed commit): asked again next time.
          if (this.add.run(row.slice(0, 4)).changes === 0) this.openSeq.delete(row[4] as string);
        },
        what: (row) => `${String(row[0])} occurrences of ticket ${String(row[3])}`,
      },
    ]);
  }
}
