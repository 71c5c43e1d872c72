import type { ConnectivityMonitor } from '../ingest/connectivity.js';
import type { DeviceRegistry } from '../ingest/devices.js';
import { type History, MINUTE_MS } from '../ingest/history.js';
import type { HistoryStore, TelemetryLog } from '../ingest/store.js';
import type { Logger } from '../lib/log.js';
import type { SqliteDatabase } from '../lib/sqlite.js';

export interface HousekeepingOptions {
  registry: DeviceRegistry;
  history: History;
  historyStore: HistoryStore;
  historyRetentionMs: number;
  log: TelemetryLog;
  spoolMaxBytes: number;
  spoolMaxAgeMs: number;
  logger: Logger;
  connectivity?: ConnectivityMonitor;
  /** Databases whose query-planner statistics are refreshed now and then (`PRAGMA optimize`). */
  databases?: SqliteDatabase[];
  /** Console sessions: those ended by time are deleted now and then. */
  sessions?: { purge(): Promise<number> };
}

const FLUSH_EVERY_MS = 5_000; // device last values and history partials
const SPOOL_BOUNDS_EVERY_MS = 10_000;
const HISTORY_PRUNE_EVERY_MS = 3_600_000;
const CONNECTIVITY_EVERY_MS = 5_000; // how often silent devices are looked for
const OPTIMIZE_EVERY_MS = 3_600_000;
const SESSION_PURGE_EVERY_MS = 600_000;

/** The gateway's periodic chores; `stop()` runs the flushes one last time. */
export class Housekeeping {
  /** Readings dropped at the spool's bounds since start. */
  spoolDropped = 0;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: HousekeepingOptions) {}

  start(): void {
    const every = (ms: number, what: string, fn: () => Promise<void>) => {
      const t = setInterval(() => {
        fn().catch((err: unknown) => this.o.logger.error({ err }, `${what} failed`));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    // History minutes are stored once over: at the next flush once their series moved on to a later
    // minute, else after a minute's grace (a device whose clock runs behind): one write per series
    // and minute, not one per flush. Queries see the unflushed ones meanwhile.
    every(FLUSH_EVERY_MS, 'flush', () =>
      this.flush(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - MINUTE_MS),
    );
    every(SPOOL_BOUNDS_EVERY_MS, 'spool bounds', async () => {
      await this.enforceSpoolBounds();
    });
    every(CONNECTIVITY_EVERY_MS, 'connectivity check', async () => {
      this.o.connectivity?.check();
    });
    every(HISTORY_PRUNE_EVERY_MS, 'history prune', async () => {
      await this.o.historyStore.prune(Date.now() - this.o.historyRetentionMs);
    });
    // Planner statistics follow the data (SQLite's advice for long-lived connections): with 100k
    // tickets, a filtered list walks the urgency index instead of sorting half the table.
    const optimize = async () => {
      for (const db of this.o.databases ?? []) db.pragma('optimize=0x10002');
    };
    void optimize().catch((err: unknown) => this.o.logger.warn({ err }, 'PRAGMA optimize failed'));
    every(OPTIMIZE_EVERY_MS, 'PRAGMA optimize', optimize);
    const sessions = this.o.sessions;
    if (sessions)
      every(SESSION_PURGE_EVERY_MS, 'session purge', async () => {
        await sessions.purge();
      });
  }

  /**
   * Saves the devices, and the history minutes before `historyBefore` (all by default); `paced`
   * leaves most of the loop to readings (lib/slices.ts), the stop does not.
   */
  async flush(historyBefore = Infinity, paced = true): Promise<void> {
    await this.o.registry.flush(paced);
    await this.o.history.flush(historyBefore, paced);
  }

  /** Drops the oldest batches past the age or size bound, counted and logged — never silently. */
  async enforceSpoolBounds(now = Date.now()): Promise<number> {
    const byAge = await this.o.log.pruneOlderThan(now - this.o.spoolMaxAgeMs);
    const bySize = await this.o.log.pruneToSize(this.o.spoolMaxBytes);
    const dropped = byAge + bySize;
    if (dropped > 0) {
      this.spoolDropped += dropped;
      this.o.logger.warn(
        {
          dropped,
          byAge,
          bySize,
          maxAgeMs: this.o.spoolMaxAgeMs,
          maxBytes: this.o.spoolMaxBytes,
          totalDropped: this.spoolDropped,
        },
        'spool bound reached: oldest readings dropped',
      );
    }
    return dropped;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.flush(Infinity, false);
  }
}
