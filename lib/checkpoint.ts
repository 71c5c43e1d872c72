import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CheckpointWorkerData, FromCheckpointer } from './checkpoint-worker.js';
import type { Logger } from './log.js';
import type { SqliteDatabase } from './sqlite.js';

/** What SQLite does by itself: a checkpoint inside the commit that takes the WAL past 1,000 pages. */
const AUTO_CHECKPOINT_PAGES = 1_000;
/** A WAL this large after a checkpoint means something holds it (a long read): said in the log. */
const LARGE_WAL_PAGES = 100_000;

export interface CheckpointStats {
  checkpoints: number;
  failures: number;
  /** WAL size in pages after the last checkpoint, per file. */
  walPages: Record<string, number>;
}

/** The compiled worker: beside this file, or under dist/ when this runs from the TypeScript sources. */
function workerFile(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../dist/lib/checkpoint-worker.js', here)
    : new URL('./checkpoint-worker.js', here);
}

/**
 * WAL checkpoints off the thread that commits (issue 19). SQLite checkpoints by itself inside the
 * COMMIT that takes the WAL past 1,000 pages: it copies pages into the database file and syncs it,
 * on the ingest thread — half of what a turn's commit cost under a flapping alert. The gateway turns
 * that off on its writing connections and checkpoints from a worker thread of its own every
 * `intervalMs` instead. Should the thread fail or be missing (not built), the connections checkpoint
 * by themselves again, as SQLite does by default: the WAL never grows without bound.
 */
export class Checkpointer {
  readonly stats: CheckpointStats = { checkpoints: 0, failures: 0, walPages: {} };
  private worker: Worker | undefined;
  private stopping = false;
  private readonly warned = new Set<string>();

  constructor(
    private readonly dbs: readonly SqliteDatabase[],
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  /** Starts the thread; resolves once its connections are open (or the fallback is in place). */
  async start(): Promise<void> {
    const file = workerFile();
    if (!existsSync(fileURLToPath(file))) {
      this.logger.warn(
        { worker: fileURLToPath(file) },
        'checkpoint thread not built: SQLite checkpoints on commit',
      );
      return;
    }
    for (const db of this.dbs) db.pragma('wal_autocheckpoint = 0');
    const w = new Worker(file, {
      workerData: {
        files: this.dbs.map((db) => db.name),
        intervalMs: this.intervalMs,
      } satisfies CheckpointWorkerData,
    });
    this.worker = w;
    await new Promise<void>((resolve) => {
      w.on('message', (m: FromCheckpointer) => {
        if (m.t === 'ready') resolve();
        else this.onMessage(m);
      });
      w.on('error', (err) => {
        this.fallBack(err);
        resolve();
      });
      w.on('exit', (code) => {
        if (!this.stopping) this.fallBack(new Error(`the checkpoint thread exited (${code})`));
        resolve();
      });
    });
  }

  private onMessage(m: Exclude<FromCheckpointer, { t: 'ready' }>): void {
    if (m.t === 'failed') {
      this.stats.failures++;
      this.logger.warn({ file: m.file, error: m.error }, 'WAL checkpoint failed; tried again');
      return;
    }
    this.stats.checkpoints++;
    this.stats.walPages[m.file] = m.walPages;
    if (m.walPages - m.copied > LARGE_WAL_PAGES && !this.warned.has(m.file)) {
      this.warned.add(m.file);
      this.logger.warn(
        { file: m.file, walPages: m.walPages, copied: m.copied },
        'the WAL cannot be checkpointed: a long-running read holds it',
      );
    }
  }

  /** The thread is gone: each connection checkpoints on commit again. */
  private fallBack(err: unknown): void {
    this.worker = undefined;
    for (const db of this.dbs) if (db.open) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    this.logger.error({ err }, 'checkpoint thread failed: SQLite checkpoints on commit again');
  }

  /** A last checkpoint, then the thread's connections close. */
  async stop(): Promise<void> {
    this.stopping = true;
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    await new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.postMessage({ t: 'close' });
    });
  }
}
