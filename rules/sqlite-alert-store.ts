import type { Statement } from 'better-sqlite3';
import { decodeCursor, encodeCursor } from '../lib/cursor.js';
import { migrate, type SqliteDatabase, statementCache } from '../lib/sqlite.js';
import type { TurnWrites } from '../lib/unit-of-work.js';
import {
  type Alert,
  type AlertFilter,
  type AlertHistoryEntry,
  type AlertState,
  HISTORY_PER_ALERT,
  HistoryPruning,
  STATE_RANK,
} from './alerts.js';
import type { SeriesState } from './evaluate.js';
import { ALERT_COLUMNS, historyRowOf, KeptAlertWrites, rowOf } from './sqlite-alert-writes.js';
import type { AlertStore, RuleStateStore, SavedSeries } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'alerts',
    up: `CREATE TABLE alerts (
      id TEXT PRIMARY KEY,
      rule_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      state TEXT NOT NULL,
      state_rank INTEGER NOT NULL,
      priority TEXT NOT NULL,
      fault_type TEXT NOT NULL,
      value TEXT,
      active_at INTEGER,
      fired_at INTEGER,
      resolved_at INTEGER,
      fire_count INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX alerts_order ON alerts (state_rank, updated_at DESC, id);
    CREATE INDEX alerts_device ON alerts (device_id);`,
  },
  {
    version: 2,
    description: 'flapping on alerts; per-series rule state',
    up: `ALTER TABLE alerts ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE rule_state (
      alert_id TEXT PRIMARY KEY,
      rule_id TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      device_id TEXT NOT NULL,
      state TEXT NOT NULL
    );`,
  },
  { version: 3, description: 'silenced alerts', up: 'ALTER TABLE alerts ADD COLUMN silenced_by TEXT;' },
  {
    version: 4,
    description: 'alert history',
    up: `CREATE TABLE alert_history (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      alert_id TEXT NOT NULL,
      at INTEGER NOT NULL,
      event TEXT NOT NULL,
      value TEXT,
      priority TEXT NOT NULL,
      silenced_by TEXT
    );
    CREATE INDEX alert_history_alert ON alert_history (alert_id, seq);`,
  },
];

interface Row {
  id: string;
  rule_id: string;
  device_id: string;
  state: AlertState;
  priority: Alert['priority'];
  fault_type: string;
  value: string | null;
  active_at: number | null;
  fired_at: number | null;
  resolved_at: number | null;
  fire_count: number;
  flapping: number;
  silenced_by: string | null;
  updated_at: number;
}

function fromRow(r: Row): Alert {
  return {
    id: r.id,
    ruleId: r.rule_id,
    deviceId: r.device_id,
    state: r.state,
    priority: r.priority,
    faultType: r.fault_type,
    value: r.value === null ? null : (JSON.parse(r.value) as Alert['value']),
    activeAt: r.active_at,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
    fireCount: r.fire_count,
    flapping: r.flapping === 1,
    silencedBy: r.silenced_by,
    updatedAt: r.updated_at,
  };
}

export class SqliteAlertStore implements AlertStore, RuleStateStore {
  private readonly getStmt;
  private readonly saveState;
  private readonly deleteState;
  private readonly stmt: (sql: string) => Statement;
  private readonly alertRow: Statement;
  private readonly historyRow: Statement;
  private readonly upsertTx;
  private readonly pruning = new HistoryPruning();
  /** Changes kept for the turn's commit (gateway: the unit of work); none: each upsert at once. */
  private kept: KeptAlertWrites | null = null;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'alerts', MIGRATIONS);
    this.stmt = statementCache(db);
    this.getStmt = db.prepare('SELECT * FROM alerts WHERE id = ?');
    this.alertRow = db.prepare(
      `INSERT INTO alerts (${ALERT_COLUMNS}) VALUES (${Array(15).fill('?').join(', ')}) ON CONFLICT(id) DO UPDATE SET state = excluded.state, state_rank = excluded.state_rank,
        priority = excluded.priority, fault_type = excluded.fault_type, value = excluded.value,
        active_at = excluded.active_at, fired_at = excluded.fired_at, resolved_at = excluded.resolved_at,
        fire_count = excluded.fire_count, flapping = excluded.flapping, silenced_by = excluded.silenced_by, updated_at = excluded.updated_at`,
    );
    this.historyRow = db.prepare(
      'INSERT INTO alert_history (alert_id, at, event, value, priority, silenced_by) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.saveState = db.prepare(`INSERT INTO rule_state (alert_id, rule_id, fingerprint, device_id, state)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT(alert_id) DO UPDATE SET rule_id = excluded.rule_id,
      fingerprint = excluded.fingerprint, device_id = excluded.device_id, state = excluded.state`);
    this.deleteState = db.prepare('DELETE FROM rule_state WHERE alert_id = ?');
    // Built once: better-sqlite3 makes a transaction function per call of db.transaction().
    this.upsertTx = db.transaction(this.upsertRows.bind(this));
  }

  /**
   * Keeps the alert changes made while `turn` is open (rules/sqlite-alert-writes.ts: each alert's
   * last row written at its commit, history within a second; issue 19). Every other method of this
   * store writes what waits first.
   */
  writeAtCommit(turn: TurnWrites): void {
    this.kept = new KeptAlertWrites(this.db, turn, {
      alert: this.alertRow,
      history: this.historyRow,
      prune: (id) => this.prune(id),
    });
  }

  /** Writes every change kept now (the stop). */
  writeKept(): void {
    this.kept?.writeAll();
  }

  async loadAll() {
    this.writeKept();
    return this.loadWhere('', []);
  }

  async loadDevices(deviceIds: readonly string[]) {
    this.writeKept();
    return this.loadWhere(' WHERE device_id IN (SELECT value FROM json_each(?))', [
      JSON.stringify(deviceIds),
    ]);
  }

  private loadWhere(where: string, params: unknown[]) {
    const rows = this.db
      .prepare(`SELECT alert_id, rule_id, fingerprint, device_id, state FROM rule_state${where}`)
      .all(...params) as {
      alert_id: string;
      rule_id: string;
      fingerprint: string;
      device_id: string;
      state: string;
    }[];
    return rows.map((r) => ({
      alertId: r.alert_id,
      ruleId: r.rule_id,
      fingerprint: r.fingerprint,
      deviceId: r.device_id,
      state: parsed(r.state),
    }));
  }

  async saveMany(entries: SavedSeries<SeriesState | null>[]): Promise<void> {
    if (entries.length === 0) return;
    this.writeKept();
    this.db.transaction(() => {
      for (const e of entries) {
        if (e.state === null) this.deleteState.run(e.alertId);
        else this.saveState.run(e.alertId, e.ruleId, e.fingerprint, e.deviceId, JSON.stringify(e.state));
      }
    })();
  }

  async get(id: string): Promise<Alert | undefined> {
    this.writeKept();
    const r = this.getStmt.get(id) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  async upsert(a: Alert, change?: AlertHistoryEntry): Promise<void> {
    const prune = change !== undefined && this.pruning.due(a.id);
    if (this.kept?.keep(a, change, prune)) return;
    this.upsertTx(a, change, prune);
  }

  private upsertRows(a: Alert, change?: AlertHistoryEntry, pruneNow = false) {
    this.alertRow.run(rowOf(a));
    if (!change) return;
    this.historyRow.run(historyRowOf(a.id, change));
    if (pruneNow) this.prune(a.id);
  }

  private prune(alertId: string): void {
    this.stmt(
      `DELETE FROM alert_history WHERE alert_id = ? AND seq <= (
         SELECT seq FROM alert_history WHERE alert_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
    ).run(alertId, alertId, HISTORY_PER_ALERT);
  }

  async history(id: string, limit: number): Promise<AlertHistoryEntry[]> {
    this.writeKept();
    const rows = this.db
      .prepare('SELECT * FROM alert_history WHERE alert_id = ? ORDER BY seq DESC LIMIT ?')
      .all(id, limit) as {
      at: number;
      event: AlertHistoryEntry['event'];
      value: string | null;
      priority: Alert['priority'];
      silenced_by: string | null;
    }[];
    return rows.map((r) => ({
      at: r.at,
      event: r.event,
      value: r.value === null ? null : (JSON.parse(r.value) as AlertHistoryEntry['value']),
      priority: r.priority,
      silencedBy: r.silenced_by,
    }));
  }

  async list(filter: AlertFilter, limit: number, cursor?: string) {
    this.writeKept();
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.state?.length) {
      where.push(`state IN (${filter.state.map(() => '?').join(',')})`);
      params.push(...filter.state);
    }
    if (filter.deviceId) {
      where.push('device_id = ?');
      params.push(filter.deviceId);
    }
    if (filter.deviceIn) {
      where.push('device_id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.deviceIn));
    }
    if (filter.ruleId) {
      where.push('rule_id = ?');
      params.push(filter.ruleId);
    }
    if (cursor) {
      const [rank, updated, id] = decodeCursor(cursor, 3) as [number, number, string];
      where.push('(state_rank > ? OR (state_rank = ? AND (updated_at < ? OR (updated_at = ? AND id > ?))))');
      params.push(rank, rank, updated, updated, id);
    }
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY state_rank, updated_at DESC, id LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, limit + 1) as Row[];
    const items = rows.slice(0, limit).map(fromRow);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last ? encodeCursor([STATE_RANK[last.state], last.updatedAt, last.id]) : null;
    return { items, nextCursor };
  }
}

/** A saved state's JSON; null when the text is damaged (the engine drops that series, not the start). */
function parsed(text: string): SeriesState {
  try {
    return JSON.parse(text) as SeriesState;
  } catch {
    return null as unknown as SeriesState;
  }
}
