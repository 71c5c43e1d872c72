import { promisify } from 'node:util';
import { deflateRaw, deflateRawSync, inflateRaw } from 'node:zlib';
import type { Statement } from 'better-sqlite3';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import type { LogBatch, SpoolStats, TelemetryLog } from './store.js';

const inflate = promisify(inflateRaw);
const deflate = promisify(deflateRaw);
/**
 * A batch up to this size is compressed on the ingest thread (well under a millisecond at level 1;
 * the thread pool's round trip cost more than that for the small batches of a light load); a
 * larger one — a burst's turn, which held the thread for 10–20 ms — on libuv's thread pool.
 */
const SYNC_DEFLATE_MAX_BYTES = 64 * 1024;
/** zlib's fastest level: the spool is read back within seconds unless InfluxDB is away. */
const DEFLATE = { level: 1 };
/** At most this much of the newest batches' text is kept in memory for the forwarder. */
const RECENT_MAX_CHARS = 8 * 1_048_576;

const MIGRATIONS = [
  {
    version: 1,
    description: 'telemetry batches',
    up: `CREATE TABLE telemetry_batches (
      id INTEGER PRIMARY KEY,
      created_at INTEGER NOT NULL,
      points INTEGER NOT NULL,
      body BLOB NOT NULL
    )`,
  },
  {
    // Ids must never be reused: the forwarder reads after the last id it shipped and deletes
    // "through" an id. A plain rowid restarts after the table empties, which would skip new batches
    // and then delete them unshipped.
    version: 2,
    description: 'monotonic batch ids (AUTOINCREMENT)',
    up: `CREATE TABLE telemetry_batches_v2 (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      created_at INTEGER NOT NULL,
      points INTEGER NOT NULL,
      body BLOB NOT NULL
    );
    INSERT INTO telemetry_batches_v2 (id, created_at, points, body)
      SELECT id, created_at, points, body FROM telemetry_batches ORDER BY id;
    DROP TABLE telemetry_batches;
    ALTER TABLE telemetry_batches_v2 RENAME TO telemetry_batches;`,
  },
];

interface Pending {
  lines: string[];
  points: number;
  /** One promise for every append of the batch (not one per append: issue 19). */
  done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function pending(): Pending {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every caller handles the outcome; this keeps a batch nobody waits for from crashing the process.
  done.catch(() => undefined);
  return { lines: [], points: 0, done, resolve, reject };
}

/**
 * SQLite implementation. It lives in its own database file so that its write rate never contends
 * with tickets. Appends within one event-loop turn are committed together as one batch row
 * (group commit): one transaction per turn, never one per reading. A large batch is compressed on
 * libuv's thread pool (a burst's turn held the ingest thread for 10–20 ms deflating it) and
 * committed when that is done; batches always commit in the order of their turns.
 */
export class SqliteTelemetryLog implements TelemetryLog {
  private pending: Pending | undefined;
  /** The batches being compressed, committed in this order as they are done. */
  private committing: Promise<void> = Promise.resolve();
  private taken = 0;
  private closed = false;
  private readonly insert;
  private readonly totals: { batches: number; points: number; bytes: number };
  private readonly listeners: (() => void)[] = [];

  private readonly readStmt: Statement;
  /** Statements run per batch or per status request, prepared once. */
  private readonly stmt: ReturnType<typeof statementCache>;
  /**
   * The newest batches as text, by id: the forwarder, caught up, reads what was just committed —
   * from here instead of reading the row back and inflating it (issue 19: the no-rule path spent its
   * time allocating). Bounded by RECENT_MAX_CHARS; emptied on any prune.
   */
  private readonly recent = new Map<number, LogBatch>();
  private recentChars = 0;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    migrate(db, 'telemetry-log', MIGRATIONS);
    this.stmt = statementCache(db);
    this.readStmt = db.prepare(
      'SELECT id, created_at, points, body FROM telemetry_batches WHERE id > ? ORDER BY id LIMIT ?',
    );
    this.insert = db.prepare('INSERT INTO telemetry_batches (created_at, points, body) VALUES (?, ?, ?)');
    this.totals = db
      .prepare(
        'SELECT COUNT(*) AS batches, COALESCE(SUM(points), 0) AS points, COALESCE(SUM(LENGTH(body)), 0) AS bytes FROM telemetry_batches',
      )
      .get() as { batches: number; points: number; bytes: number };
  }

  /** Batches taken and not yet committed (or failed): readings on their way to the listeners. */
  get inFlight(): number {
    return this.taken;
  }

  /** Called after every commit (the forwarder wakes up on it). */
  onCommit(listener: () => void): void {
    this.listeners.push(listener);
  }

  append(lines: string, points: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('telemetry log is closed'));
    if (!this.pending) {
      this.pending = pending();
      setImmediate(() => void this.flush());
    }
    const p = this.pending;
    p.lines.push(lines);
    p.points += points;
    return p.done;
  }

  /**
   * Takes what is pending now (called once per event-loop turn, and at close) and commits it once
   * compressed, after the batches taken before it; resolves when it is committed. A small batch with
   * none ahead of it is compressed and committed here, in its turn; a large one is compressed on the
   * thread pool.
   */
  flush(): Promise<void> {
    const p = this.pending;
    if (!p) return this.committing;
    this.pending = undefined;
    const text = p.lines.join('\n');
    const raw = Buffer.from(text);
    const small = raw.length <= SYNC_DEFLATE_MAX_BYTES;
    if (small && this.taken === 0) {
      this.settle(p, () => this.commit(p, text, deflateRawSync(raw, DEFLATE)));
      return this.committing;
    }
    // A small one behind others is compressed here when its turn comes; a large one meanwhile, off the thread.
    const body = small ? undefined : deflate(raw, DEFLATE);
    body?.catch(() => undefined); // awaited in turn below; meanwhile a failure is not unhandled
    this.taken++;
    this.committing = this.committing.then(async () => {
      let compressed: Buffer | Error;
      try {
        compressed = body ? await body : deflateRawSync(raw, DEFLATE);
      } catch (err) {
        compressed = err as Error;
      }
      this.taken--;
      this.settle(p, () => {
        if (compressed instanceof Error) throw compressed;
        this.commit(p, text, compressed);
      });
    });
    return this.committing;
  }

  /**
   * Runs the commit of batch `p` and tells its appends and the listeners. A batch that could not be
   * compressed or stored fails alone: the next ones go on.
   */
  private settle(p: Pending, commit: () => void): void {
    try {
      commit();
    } catch (err) {
      p.reject(err as Error);
      return;
    }
    p.resolve();
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        // A listener's own failure is the process's to handle (as when it threw in the turn).
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }

  private commit(p: Pending, text: string, body: Buffer): void {
    const createdAt = this.now();
    const id = Number(this.insert.run(createdAt, p.points, body).lastInsertRowid);
    this.totals.batches++;
    this.totals.points += p.points;
    this.totals.bytes += body.length;
    this.remember({ id, createdAt, points: p.points, lines: text });
  }

  private remember(b: LogBatch): void {
    this.recent.set(b.id, b);
    this.recentChars += b.lines.length;
    for (const [id, old] of this.recent) {
      if (this.recentChars <= RECENT_MAX_CHARS) break;
      this.recent.delete(id);
      this.recentChars -= old.lines.length;
    }
  }

  private forget(throughId: number | 'all'): void {
    for (const [id, b] of this.recent) {
      if (throughId !== 'all' && id > throughId) break;
      this.recent.delete(id);
      this.recentChars -= b.lines.length;
    }
  }

  async read(afterId: number, limit: number): Promise<LogBatch[]> {
    // The batches right after `afterId`, when they are all still in memory (ids follow each other).
    if (this.recent.has(afterId + 1)) {
      const out: LogBatch[] = [];
      for (let id = afterId + 1; out.length < limit; id++) {
        const b = this.recent.get(id);
        if (!b) break;
        out.push(b);
      }
      // The cache holds the newest batches: what follows these is not committed yet (or, after a
      // gap in the ids, is read from the table next time).
      return out;
    }
    const rows = this.readStmt.all(afterId, limit) as {
      id: number;
      created_at: number;
      points: number;
      body: Buffer;
    }[];
    // Inflated on libuv's thread pool: a drain reads hundreds of batches at a time, and doing it
    // here held readings and API requests up for tens of milliseconds.
    return Promise.all(
      rows.map(async (r) => ({
        id: r.id,
        createdAt: r.created_at,
        points: r.points,
        lines: (await inflate(r.body)).toString('utf8'),
      })),
    );
  }

  async deleteThrough(id: number): Promise<void> {
    this.deleteWhere('id <= ?', id);
    this.forget(id);
  }

  async pruneOlderThan(cutoff: number): Promise<number> {
    const gone = this.deleteWhere('created_at < ?', cutoff);
    if (gone.batches > 0) this.forget('all');
    return gone.points;
  }

  async pruneToSize(maxBytes: number): Promise<number> {
    let dropped = 0;
    while (this.totals.bytes > maxBytes && this.totals.batches > 0) {
      // Oldest first, a slice at a time, until under the bound.
      const excess = this.totals.bytes - maxBytes;
      const rows = this.db
        .prepare('SELECT id, LENGTH(body) AS bytes FROM telemetry_batches ORDER BY id LIMIT 1000')
        .all() as { id: number; bytes: number }[];
      let freed = 0;
      let lastId = 0;
      for (const r of rows) {
        freed += r.bytes;
        lastId = r.id;
        if (freed >= excess) break;
      }
      dropped += this.deleteWhere('id <= ?', lastId).points;
      this.forget(lastId);
    }
    return dropped;
  }

  async stats(): Promise<SpoolStats> {
    const oldest = this.stmt('SELECT created_at FROM telemetry_batches ORDER BY id LIMIT 1').get() as
      | { created_at: number }
      | undefined;
    return { ...this.totals, oldestAt: oldest?.created_at ?? null };
  }

  private deleteWhere(cond: string, arg: number): { batches: number; points: number; bytes: number } {
    return this.db.transaction(() => {
      const gone = this.stmt(
        `SELECT COUNT(*) AS batches, COALESCE(SUM(points), 0) AS points, COALESCE(SUM(LENGTH(body)), 0) AS bytes FROM telemetry_batches WHERE ${cond}`,
      ).get(arg) as { batches: number; points: number; bytes: number };
      if (gone.batches > 0) this.stmt(`DELETE FROM telemetry_batches WHERE ${cond}`).run(arg);
      this.totals.batches -= gone.batches;
      this.totals.points -= gone.points;
      this.totals.bytes -= gone.bytes;
      return gone;
    })();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
  }
}
