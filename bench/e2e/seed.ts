import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '../../gateway/config/schema.js';
import { openPool } from '../../lib/pg.js';
import { openDatabase } from '../../lib/sqlite.js';
import { FINAL_STATUSES, OPEN_STATUSES, type Priority, type Status } from '../../tickets/model.js';
import { PgTicketStore } from '../../tickets/pg-store.js';
import { computeClocks, firstWarningAt } from '../../tickets/sla-policy.js';
import { SqliteTicketStore } from '../../tickets/sqlite-store.js';
import type { TicketStore } from '../../tickets/store.js';
import { deviceId } from './workload.js';

const FAULT_TYPES = ['thermal', 'mechanical', 'hydraulic', 'electrical', 'electronic'];
const TECHNICIANS = ['ana', 'ben', 'cem'];

/** The i-th of `n` seeded tickets: 95 % of them final over the last year, the rest open (filed in the last hours). */
function seededTicket(i: number, n: number, devices: number, now: number): Parameters<TicketStore['create']> {
  const policy = configSchema.parse({}).sla;
  const year = 365 * 86_400_000;
  const open = i % 20 === 0;
  const priority: Priority = (['emergency', 'general', 'general', 'preventive'] as const)[i % 4] as Priority;
  const status: Status = open
    ? (OPEN_STATUSES[i % OPEN_STATUSES.length] as Status)
    : (FINAL_STATUSES[i % 2] as Status);
  const reportedAt = open ? now - ((i * 7_919) % 6) * 3_600_000 : now - year + Math.floor((i / n) * year);
  const dev = deviceId(i % devices);
  return [
    {
      title: `${FAULT_TYPES[i % FAULT_TYPES.length]} fault on ${dev}`,
      description: 'seeded by the bench',
      priority,
      status,
      source: i % 3 === 0 ? 'phone' : 'monitoring',
      deviceId: dev,
      site: 'default',
      area: 'local',
      customer: null,
      equipmentModel: null,
      ruleId: null,
      alertId: null,
      faultType: FAULT_TYPES[i % FAULT_TYPES.length] as string,
      reportedAt,
      createdAt: reportedAt,
      updatedAt: reportedAt + 3_600_000,
      assignees: open && status !== 'open' ? [TECHNICIANS[i % 3] as string] : [],
      team: 'field',
      labels: {},
      reporter: null,
      sla: computeClocks(policy, priority, 'local', reportedAt),
    },
    { at: reportedAt, type: 'created', actor: 'bench', from: null, to: status, note: null },
  ];
}

/**
 * A year of ticket history in a data directory's state.db, before the gateway starts: `n` tickets
 * over `devices` devices, through the ticket store itself (one transaction, so that seeding takes
 * seconds).
 */
export async function seedTickets(dataDir: string, n: number, devices: number): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(join(dataDir, 'state.db'));
  const store = new SqliteTicketStore(db);
  const now = Date.now();
  db.exec('BEGIN');
  try {
    for (let i = 0; i < n; i++) await store.create(...seededTicket(i, n, devices, now));
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  } finally {
    db.close();
  }
}

/** The same history in a PostgreSQL database, through its ticket store (16 inserts at a time, ids in order). */
export async function seedTicketsPg(url: string, n: number, devices: number): Promise<void> {
  const pool = openPool({ url, poolSize: 16, statementTimeoutMs: 60_000 });
  try {
    const store = await PgTicketStore.open(pool, (c) => firstWarningAt(configSchema.parse({}).sla, c));
    const now = Date.now();
    for (let i = 0; i < n; i += 16)
      await Promise.all(
        Array.from({ length: Math.min(16, n - i) }, (_, k) =>
          store.create(...seededTicket(i + k, n, devices, now)),
        ),
      );
  } finally {
    await pool.end();
  }
}
