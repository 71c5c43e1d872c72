import { migratePg, type PgPool } from '../lib/pg.js';
import type { PreventiveStore, UsageState } from './store.js';

const MIGRATIONS = [
  {
    version: 1,
    description: 'preventive schedules: the last visit a ticket was opened for; usage-counter state',
    up: `CREATE TABLE preventive_state (
      schedule_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      last_visit BIGINT NOT NULL,
      ticket_id TEXT,
      PRIMARY KEY (schedule_id, device_id)
    );
    CREATE TABLE preventive_usage (
      schedule_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      due_value DOUBLE PRECISION NOT NULL,
      base_value DOUBLE PRECISION NOT NULL,
      base_at BIGINT NOT NULL,
      ticket_id TEXT,
      PRIMARY KEY (schedule_id, device_id)
    );`,
  },
];

/** The preventive planner's memory in PostgreSQL, shared by every gateway instance (issue 20). */
export class PgPreventiveStore implements PreventiveStore {
  private constructor(private readonly pool: PgPool) {}

  static async open(pool: PgPool): Promise<PgPreventiveStore> {
    await migratePg(pool, 'preventive', MIGRATIONS);
    return new PgPreventiveStore(pool);
  }

  async lastVisit(scheduleId: string, deviceId: string): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ last_visit: string }>(
      'SELECT last_visit FROM preventive_state WHERE schedule_id = $1 AND device_id = $2',
      [scheduleId, deviceId],
    );
    return rows[0] ? Number(rows[0].last_visit) : undefined;
  }

  async saveVisit(
    scheduleId: string,
    deviceId: string,
    visitAt: number,
    ticketId: string | null,
  ): Promise<void> {
    await this.pool.query(
      `INSERT INTO preventive_state (schedule_id, device_id, last_visit, ticket_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (schedule_id, device_id) DO UPDATE SET last_visit = excluded.last_visit, ticket_id = excluded.ticket_id`,
      [scheduleId, deviceId, visitAt, ticketId],
    );
  }

  async usageStates(): Promise<{ scheduleId: string; deviceId: string; state: UsageState }[]> {
    const { rows } = await this.pool.query<{
      schedule_id: string;
      device_id: string;
      due_value: number;
      base_value: number;
      base_at: string;
      ticket_id: string | null;
    }>('SELECT * FROM preventive_usage');
    return rows.map((r) => ({
      scheduleId: r.schedule_id,
      deviceId: r.device_id,
      state: {
        dueValue: r.due_value,
        baseValue: r.base_value,
        baseAt: Number(r.base_at),
        ticketId: r.ticket_id,
      },
    }));
  }

  async saveUsage(scheduleId: string, deviceId: string, u: UsageState): Promise<void> {
    await this.pool.query(
      `INSERT INTO preventive_usage (schedule_id, device_id, due_value, base_value, base_at, ticket_id)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (schedule_id, device_id) DO UPDATE SET due_value = excluded.due_value,
       base_value = excluded.base_value, base_at = excluded.base_at, ticket_id = excluded.ticket_id`,
      [scheduleId, deviceId, u.dueValue, u.baseValue, u.baseAt, u.ticketId],
    );
  }
}
