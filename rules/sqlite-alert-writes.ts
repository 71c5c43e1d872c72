import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../lib/sqlite.js';
import { writeKeptRows } from '../lib/sqlite-rows.js';
import type { TurnWrites } from '../lib/unit-of-work.js';
import { type Alert, type AlertHistoryEntry, alertColumns } from './alerts.js';

/**
 * How long alert history entries may wait in memory before they are written. Each entry goes into
 * the `(alert_id, seq)` index at its alert's place: a commit writes one index page per alert it
 * touched, and at a 10 ms commit cadence a flapping fleet paid ~9 µs of WAL writes per entry
 * (issue 19). Written once a second, the pages are shared by all of that second's entries.
 */
export const HISTORY_WRITE_MS = 1_000;
/** …or once this many wait. */
const HISTORY_KEPT_MAX = 10_000;

export const ALERT_COLUMNS = `id, rule_id, device_id, state, state_rank, priority, fault_type, value, active_at,
  fired_at, resolved_at, fire_count, flapping, silenced_by, updated_at`;

/** An alert as the row `ALERT_COLUMNS` lists (SQLite: the flapping flag as 0/1). */
export const rowOf = (a: Alert): unknown[] => alertColumns(a, (flapping) => (flapping ? 1 : 0));

/** A change as an alert_history row. */
export function historyRowOf(alertId: string, c: AlertHistoryEntry): unknown[] {
  return [
    alertId,
    c.at,
    c.event,
    c.value === null ? null : JSON.stringify(c.value),
    c.priority,
    c.silencedBy,
  ];
}

/** How the kept rows are written (the store's prepared statements). */
export interface AlertRowWriters {
  alert: Statement;
  history: Statement;
  prune: (alertId: string) => void;
}

/**
 * The alert changes a turn makes, kept for the writes that follow (issue 19): each alert's last row,
 * written at the turn's commit (`TurnWrites.beforeCommit`: an alert that changed several times is
 * written once, with no savepoint per change); history entries and prunes, written within
 * HISTORY_WRITE_MS — in the commit of the turn open then, or in a transaction of their own. The
 * store writes everything kept before any other statement of its own (`writeAll`), so its reads
 * see every change; a crash loses at most HISTORY_WRITE_MS of history entries, never an alert's state
 * beyond its turn.
 */
export class KeptAlertWrites {
  private alerts: Map<string, unknown[]> | null = null;
  private history: { rows: unknown[][]; prune: Set<string> } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The history is due: its write waits for the open turn's commit. */
  private historyQueued = false;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly turn: TurnWrites,
    private readonly write: AlertRowWriters,
  ) {}

  /** Keeps the change if a turn is open (true); false: the caller writes it at once. */
  keep(a: Alert, change: AlertHistoryEntry | undefined, prune: boolean): boolean {
    if (!this.turn.active) return false;
    let alerts = this.alerts;
    if (!alerts) {
      alerts = new Map();
      this.alerts = alerts;
      this.turn.beforeCommit(() => this.writeAlerts());
    }
    alerts.set(a.id, rowOf(a));
    if (!change) return true;
    let history = this.history;
    if (!history) {
      history = { rows: [], prune: new Set() };
      this.history = history;
      this.timer = setTimeout(() => this.historyDue(), HISTORY_WRITE_MS);
      this.timer.unref?.();
    }
    history.rows.push(historyRowOf(a.id, change));
    if (prune) history.prune.add(a.id);
    if (history.rows.length >= HISTORY_KEPT_MAX) this.historyDue();
    return true;
  }

  /** Writes everything kept now (before the store's other statements; the stop). */
  writeAll(): void {
    this.writeAlerts();
    this.writeHistory();
  }

  private historyDue(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.historyQueued) return;
    this.historyQueued = true;
    if (this.turn.active) this.turn.beforeCommit(() => this.writeHistory());
    else this.writeHistory();
  }

  private writeAlerts(): void {
    const alerts = this.alerts;
    if (!alerts) return;
    this.alerts = null;
    writeKeptRows(this.db, this.turn, [
      {
        rows: [...alerts.values()],
        one: (row) => this.write.alert.run(row),
        what: (row) => `alert ${String(row[0])}`,
      },
    ]);
  }

  private writeHistory(): void {
    const history = this.history;
    this.historyQueued = false;
    if (!history) return;
    this.history = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    writeKeptRows(this.db, this.turn, [
      {
        rows: history.rows,
        one: (row) => this.write.history.run(row),
        what: (row) => `alert ${String(row[0])} history (${String(row[2])})`,
      },
      {
        rows: [...history.prune].map((id) => [id]),
        one: (row) => this.write.prune(row[0] as string),
        what: (row) => `alert ${String(row[0])} history pruning`,
      },
    ]);
  }
}
