import { decodeCursor, encodeCursor } from '../lib/cursor.js';
import { bigintOrNull, inTransaction, migratePg, type PgPool } from '../lib/pg.js';
import {
  type Alert,
  type AlertFilter,
  type AlertHistoryEntry,
  type AlertState,
  alertColumns,
  HISTORY_PER_ALERT,
  HistoryPruning,
  STATE_RANK,
} from './alerts.js';
import type { SeriesState } from './evaluate.js';
import type { AlertStore, RuleStateStore, SavedSeries } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'alerts, their history, per-series rule state',
    up: `CREATE TABLE alerts (
      id TEXT COLLATE "C" PRIMARY KEY,
      rule_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      state TEXT NOT NULL,
      state_rank INTEGER NOT NULL,
      priority TEXT NOT NULL,
      fault_type TEXT NOT NULL,
      value JSONB,
      active_at BIGINT,
      fired_at BIGINT,
      resolved_at BIGINT,
      fire_count INTEGER NOT NULL,
      flapping BOOLEAN NOT NULL DEFAULT false,
      silenced_by TEXT,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX alerts_order ON alerts (state_rank, updated_at DESC, id);
    CREATE INDEX alerts_device ON alerts (device_id);
    CREATE TABLE alert_history (
      seq BIGSERIAL PRIMARY KEY,
      alert_id TEXT NOT NULL,
      at BIGINT NOT NULL,
      event TEXT NOT NULL,
      value JSONB,
      priority TEXT NOT NULL,
      silenced_by TEXT
    );
    CREATE INDEX alert_history_alert ON alert_history (alert_id, seq);
    CREATE TABLE rule_state (
      alert_id TEXT PRIMARY KEY,
      rule_id TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      device_id TEXT NOT NULL,
      state JSONB NOT NULL
    );`,
  },
  {
    version: 2,
    description: 'rule state by device (a device taken over from another instance)',
    up: 'CREATE INDEX rule_state_device ON rule_state (device_id);',
  },
];

const STATE_COLUMNS = 'alert_id, rule_id, fingerprint, device_id, state';
interface StateRow {
  alert_id: string;
  rule_id: string;
  fingerprint: string;
  device_id: string;
  state: unknown;
}
const savedOf = (r: StateRow): SavedSeries => ({
  alertId: r.alert_id,
  ruleId: r.rule_id,
  fingerprint: r.fingerprint,
  deviceId: r.device_id,
  state: r.state as SeriesState,
});

interface Row {
  id: string;
  rule_id: string;
  device_id: string;
  state: AlertState;
  priority: Alert['priority'];
  fault_type: string;
  value: Alert['value'];
  active_at: string | null;
  fired_at: string | null;
  resolved_at: string | null;
  fire_count: number;
  flapping: boolean;
  silenced_by: string | null;
  updated_at: string;
}

const fromRow = (r: Row): Alert => ({
  id: r.id,
  ruleId: r.rule_id,
  deviceId: r.device_id,
  state: r.state,
  priority: r.priority,
  faultType: r.fault_type,
  value: r.value,
  activeAt: bigintOrNull(r.active_at),
  firedAt: bigintOrNull(r.fired_at),
  resolvedAt: bigintOrNull(r.resolved_at),
  fireCount: r.fire_count,
  flapping: r.flapping,
  silencedBy: r.silenced_by,
  updatedAt: Number(r.updated_at),
});

const UPSERT = `INSERT INTO alerts (id, rule_id, device_id, state, state_rank, priority, fault_type, value, active_at,
    fired_at, resolved_at, fire_count, flapping, silenced_by, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
  ON CONFLICT (id) DO UPDATE SET state = excluded.state, state_rank = excluded.state_rank,
    priority = excluded.priority, fault_type = excluded.fault_type, value = excluded.value,
    active_at = excluded.active_at, fired_at = excluded.fired_at, resolved_at = excluded.resolved_at,
    fire_count = excluded.fire_count, flapping = excluded.flapping, silenced_by = excluded.silenced_by,
    updated_at = excluded.updated_at`;

const json = (v: unknown) => (v === null ? null : JSON.stringify(v));

/**
 * Alerts, their history and the rule engine's per-series state in PostgreSQL (issue 20). Ids compare
 * bytewise (`COLLATE "C"`), as in SQLite, so that list cursors mean the same on both.
 */
export class PgAlertStore implements AlertStore, RuleStateStore {
  private readonly pruning = new HistoryPruning();
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgAlertStore> {
    await migratePg(pool, 'alerts', MIGRATIONS);
    return new PgAlertStore(pool);
  }

  async loadAll(): Promise<SavedSeries[]> {
    const { rows } = await this.pool.query<StateRow>(`SELECT ${STATE_COLUMNS} FROM rule_state`);
    return rows.map(savedOf);
  }

  async loadDevices(deviceIds: readonly string[]): Promise<SavedSeries[]> {
    const { rows } = await this.pool.query<StateRow>(
      `SELECT ${STATE_COLUMNS} FROM rule_state WHERE device_id = ANY($1::text[])`,
      [deviceIds],
    );
    return rows.map(savedOf);
  }

  async saveMany(entries: SavedSeries<SeriesState | null>[]): Promise<void> {
    if (entries.length === 0) return;
    // Serialised before the first await: the states are the engine's live objects.
    const gone = entries.filter((e) => e.state === null).map((e) => e.alertId);
    const kept = [...new Map(entries.filter((e) => e.state !== null).map((e) => [e.alertId, e])).values()];
    const states = kept.map((e) => JSON.stringify(e.state));
    await inTransaction(this.pool, async (c) => {
      if (gone.length) await c.query('DELETE FROM rule_state WHERE alert_id = ANY($1::text[])', [gone]);
      if (kept.length)
        await c.query(
          `INSERT INTO rule_state (alert_id, rule_id, fingerprint, device_id, state)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
           ON CONFLICT (alert_id) DO UPDATE SET rule_id = excluded.rule_id, fingerprint = excluded.fingerprint,
             device_id = excluded.device_id, state = excluded.state`,
          [
            kept.map((e) => e.alertId),
            kept.map((e) => e.ruleId),
            kept.map((e) => e.fingerprint),
            kept.map((e) => e.deviceId),
            states,
          ],
        );
    });
  }

  async get(id: string): Promise<Alert | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM alerts WHERE id = $1', [id]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async upsert(a: Alert, change?: AlertHistoryEntry): Promise<void> {
    const params = alertColumns(a, (flapping) => flapping);
    if (!change) {
      await this.pool.query(UPSERT, params);
      return;
    }
    const entry = [change.at, change.event, json(change.value), change.priority, change.silencedBy];
    const prune = this.pruning.due(a.id);
    if (!prune) {
      // One statement (atomic by itself): one round trip instead of four (issue 20's bench).
      await this.pool.query(
        `WITH a AS (${UPSERT} RETURNING id)
         INSERT INTO alert_history (alert_id, at, event, value, priority, silenced_by)
           SELECT id, $16, $17, $18, $19, $20 FROM a`,
        [...params, ...entry],
      );
      return;
    }
    await inTransaction(this.pool, async (c) => {
      await c.query(UPSERT, params);
      await c.query(
        'INSERT INTO alert_history (alert_id, at, event, value, priority, silenced_by) VALUES ($1, $2, $3, $4, $5, $6)',
        [a.id, change.at, change.event, json(change.value), change.priority, change.silencedBy],
      );
      if (prune)
        await c.query(
          `DELETE FROM alert_history WHERE alert_id = $1 AND seq <= (
             SELECT seq FROM alert_history WHERE alert_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)`,
          [a.id, HISTORY_PER_ALERT],
        );
    });
  }

  async history(id: string, limit: number): Promise<AlertHistoryEntry[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM alert_history WHERE alert_id = $1 ORDER BY seq DESC LIMIT $2',
      [id, limit],
    );
    return rows.map((r) => ({
      at: Number(r.at),
      event: r.event,
      value: r.value,
      priority: r.priority,
      silencedBy: r.silenced_by,
    }));
  }

  async list(filter: AlertFilter, limit: number, cursor?: string) {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (filter.state?.length) where.push(`state = ANY(${p(filter.state)}::text[])`);
    if (filter.deviceId) where.push(`device_id = ${p(filter.deviceId)}`);
    if (filter.deviceIn) where.push(`device_id = ANY(${p(filter.deviceIn)}::text[])`);
    if (filter.ruleId) where.push(`rule_id = ${p(filter.ruleId)}`);
    if (cursor) {
      const [rank, updated, id] = decodeCursor(cursor, 3) as [number, number, string];
      const r = p(rank);
      const u = p(updated);
      where.push(
        `(state_rank > ${r} OR (state_rank = ${r} AND (updated_at < ${u} OR (updated_at = ${u} AND id > ${p(id)}))))`,
      );
    }
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY state_rank, updated_at DESC, id LIMIT ${p(limit + 1)}`,
      params,
    );
    const items = rows.slice(0, limit).map(fromRow);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last ? encodeCursor([STATE_RANK[last.state], last.updatedAt, last.id]) : null;
    return { items, nextCursor };
  }
}
