import type { DeviceRegistry } from '../ingest/devices.js';
import { LEASE_TTL_MS } from '../lib/lease.js';
import type { Logger } from '../lib/log.js';
import type { PgPool } from '../lib/pg.js';
import type { AlertTracker } from '../rules/alerts.js';
import type { RuleEngine } from '../rules/engine.js';
import { DeviceOwnership } from '../rules/ownership.js';
import { PgOwnershipStore } from '../rules/pg-ownership-store.js';
import type { AlertStore, RuleStateStore } from '../rules/store.js';

/** Liveness of an instance, and its renewal: as the leader lease (lib/lease.ts). */
const TTL_MS = LEASE_TTL_MS;
const RENEW_MS = TTL_MS / 3;
const STEP_DOWN_MS = TTL_MS * 0.8;

/**
 * Device ownership among instances sharing PostgreSQL (issue 20, rules/ownership.ts): what a device
 * gained here needs — its saved series, its firing alerts, its no-data clocks — and what one lost
 * gives back. `engine` is read when a device changes hands (it exists by then).
 */
export async function openOwnership(d: {
  pool: PgPool;
  instance: string;
  engine: () => RuleEngine;
  alertStore: AlertStore & RuleStateStore;
  alerts: AlertTracker;
  registry: DeviceRegistry;
  logger: Logger;
  /** Devices were taken over: what else follows them reads its state afresh (usage counters). */
  tookOver: (deviceIds: ReadonlySet<string>) => Promise<void>;
}): Promise<DeviceOwnership> {
  const logger = d.logger.child({ component: 'ownership' });
  return new DeviceOwnership({
    store: await PgOwnershipStore.open(d.pool),
    instance: d.instance,
    ttlMs: TTL_MS,
    renewMs: RENEW_MS,
    stepDownMs: STEP_DOWN_MS,
    logger,
    gained: async (ids) => {
      const engine = d.engine();
      const restored = engine.load(await d.alertStore.loadDevices(ids), (id) => d.registry.resolve(id));
      // Alerts firing or pending without a saved series (a crash before the state was saved).
      let cursor: string | undefined;
      do {
        const page = await d.alertStore.list({ state: ['firing', 'pending'], deviceIn: ids }, 500, cursor);
        for (const a of page.items) engine.restore(a, d.registry.resolve(a.deviceId));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      engine.watch(
        ids.flatMap((id) => d.registry.get(id) ?? []),
        Date.now(),
      );
      await d.tookOver(new Set(ids));
      logger.info({ devices: ids.length, ...restored }, 'evaluating devices taken over');
    },
    lost: async (ids, save) => {
      const set = new Set(ids);
      const states = d.engine().forget(set);
      d.alerts.forget(set);
      if (save) await d.alertStore.saveMany(states);
      logger.info({ devices: ids.length, saved: save }, 'devices handed over');
    },
  });
}
