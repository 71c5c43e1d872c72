import { hostname } from 'node:os';
import type { InstanceInfo } from '../api/app.js';
import { FaultlineError } from '../lib/errors.js';
import { Lease } from '../lib/lease.js';
import type { Logger } from '../lib/log.js';
import type { PgPool } from '../lib/pg.js';
import { PgLeaseStore } from '../lib/pg-lease-store.js';
import type { Components } from './components.js';

/** What runs once among several instances: started on the leader, stopped when it steps down. */
export interface LeaderWork {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What an instance id may be: it names MQTT sessions, database rows, log lines and metric labels. */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * This instance's id: `FAULTLINE_INSTANCE_ID`, else host and process. One that could not serve as
 * an MQTT client id or a label (spaces, control characters, over 64 characters) stops the start.
 */
export function instanceId(): string {
  const set = process.env.FAULTLINE_INSTANCE_ID?.trim();
  if (set && !INSTANCE_ID.test(set))
    throw new FaultlineError(
      'FL_ERR_CONFIG',
      'FAULTLINE_INSTANCE_ID: 1–64 characters, letters, digits and . _ - (starting with a letter or digit)',
    );
  return set || `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
}

/**
 * Runs `work` here: at once with SQLite (one instance), or while this instance holds the leader
 * lease in PostgreSQL (issue 20, lib/lease.ts). Leadership changes one at a time, in order.
 * Returns this instance's identity as `/health` shows it.
 */
export async function runLeaderWork(o: {
  pool: PgPool | null;
  id: string;
  work: LeaderWork;
  components: Components;
  logger: Logger;
}): Promise<() => InstanceInfo> {
  if (o.pool === null) {
    await o.work.start();
    return () => ({ id: o.id, storage: 'sqlite', role: 'single' });
  }
  let switching: Promise<void> = Promise.resolve();
  const lease = new Lease({
    store: await PgLeaseStore.open(o.pool),
    name: 'leader',
    holder: o.id,
    onChange: (leader) => {
      switching = switching.then(async () => {
        try {
          if (leader) {
            o.logger.info({ instance: o.id }, 'leader: running SLA clocks, schedules and deliveries');
            await o.work.start();
          } else {
            o.logger.warn({ instance: o.id }, 'standby: another instance leads');
            await o.work.stop();
          }
        } catch (err) {
          o.logger.error({ err, leader }, 'leadership change failed');
        }
      });
    },
    onError: (err) => o.logger.warn({ err }, 'leader lease could not be renewed'),
  });
  await lease.start();
  o.components.onStop('leader lease', async () => {
    await lease.stop();
    await switching;
  });
  return () => ({ id: o.id, storage: 'postgres', role: lease.leader ? 'leader' : 'standby' });
}
