import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '../../gateway/config/schema.js';
import { openDatabase } from '../../lib/sqlite.js';
import { FINAL_STATUSES, OPEN_STATUSES, type Priority, type Status } from '../../tickets/model.js';
import { computeClocks } from '../../tickets/sla-policy.js';
import { SqliteTicketStore } from '../../tickets/sqlite-store.js';
import { deviceId } from './workload.js';

const FAULT_TYPES = ['thermal', 'mechanical', 'hydraulic', 'electrical', 'electronic'];
const TECHNICIANS = ['ana', 'ben', 'cem'];

/**
 * A year of ticket history in a data directory's state.db, before the gateway starts: `n` tickets,
 * 95 % of them final, the rest open (filed in the last hours), over `devices` devices, through the
 * ticket store itself (one transaction, so that seeding takes seconds).
 */
export async function seedTickets(dataDir: string, n: number, devices: number): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(join(dataDir, 'state.db'));
  const store = new SqliteTicketStore(db);
  const policy = configSchema.parse({}).sla;
  const now = Date.now();
  const year = 365 * 86_400_000;
  db.exec('BEGIN');
  try {
    for (let i = 0; i < n; i++) {
      const open = i % 20 === 0;
      const priority: Priority = (['emergency', 'general', 'general', 'preventive'] as const)[
        i % 4
      ] as Priority;
      const status: Status = open
        ? (OPEN_STATUSES[i % OPEN_STATUSES.length] as Status)
        : (FINAL_STATUSES[i % 2] as Status);
      const reportedAt = open ? now - ((i * 7_919) % 6) * 3_600_000 : now - year + Math.floor((i / n) * year);
      const dev = deviceId(i % devices);
      await store.create(
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
      );
    }
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  } finally {
    db.close();
  }
}
