import { migrate, type SqliteDatabase } from '../lib/sqlite.js';
import type { PreventiveStore, UsageState } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'preventive schedules: the last visit a ticket was opened for',
    up: `CREATE TABLE preventive_state (
      schedule_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      last_visit INTEGER NOT NULL,
      ticket_id TEXT,
      PRIMARY KEY (schedule_id, device_id)
    );`,
  },
  {
    version: 2,
    description: 'usage-counter schedules: the counter value of the next service, and the rate baseline',
    up: `CREATE TABLE preventive_usage (
      schedule_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      due_value REAL NOT NULL,
      base_value REAL NOT NULL,
      base_at INTEGER NOT NULL,
      ticket_id TEXT,
      PRIMARY KEY (schedule_id, device_id)
    );`,
  },
];

interface UsageRow {
  schedule_id: string;
  device_id: string;
  due_value: number;
  base_value: number;
  base_at: number;
  ticket_id: string | null;
}

/** The preventive planner's memory in SQLite (state.db). */
export class SqlitePreventiveStore implements PreventiveStore {
  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'preventive', MIGRATIONS);
  }

  async lastVisit(scheduleId: string, deviceId: string): Promise<number | undefined> {
    const r = this.db
      .prepare('SELECT last_visit FROM preventive_state WHERE schedule_id = ? AND device_id = ?')
      .get(scheduleId, deviceId) as { last_visit: number } | undefined;
    return r?.last_visit;
  }

  async saveVisit(
    scheduleId: string,
    deviceId: string,
    visitAt: number,
    ticketId: string | null,
  ): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO preventive_state (schedule_id, device_id, last_visit, ticket_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (schedule_id, device_id) DO UPDATE SET last_visit = excluded.last_visit, ticket_id = excluded.ticket_id`,
      )
      .run(scheduleId, deviceId, visitAt, ticketId);
  }

  async usageStates(): Promise<{ scheduleId: string; deviceId: string; state: UsageState }[]> {
    const rows = this.db.prepare('SELECT * FROM preventive_usage').all() as UsageRow[];
    return rows.map((r) => ({
      scheduleId: r.schedule_id,
      deviceId: r.device_id,
      state: { dueValue: r.due_value, baseValue: r.base_value, baseAt: r.base_at, ticketId: r.ticket_id },
    }));
  }

  async saveUsage(scheduleId: string, deviceId: string, u: UsageState): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO preventive_usage (schedule_id, device_id, due_value, base_value, base_at, ticket_id)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (schedule_id, device_id) DO UPDATE SET due_value = excluded.due_value,
         base_value = excluded.base_value, base_at = excluded.base_at, ticket_id = excluded.ticket_id`,
      )
      .run(scheduleId, deviceId, u.dueValue, u.baseValue, u.baseAt, u.ticketId);
  }
}
