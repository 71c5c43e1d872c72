import type { DeviceRegistry } from '../ingest/devices.js';
import type { DeviceStore } from '../ingest/store.js';
import { type Logger, RateLimitedLog } from '../lib/log.js';
import type { PgPool } from '../lib/pg.js';
import { CHANGES_CHANNEL, EVENTS_CHANNEL, PgListener } from '../lib/pg-listen.js';
import { EventFollower } from '../notify/event-follower.js';
import type { Outbox } from '../notify/outbox.js';
import type { Silences } from '../rules/silences.js';
import type { Components } from './components.js';

/** Events are read this often even without a notification (one lost with its connection). */
const POLL_MS = 2000;
/** Cached state (maintenance windows, the webhook index) is reloaded this often in any case. */
const RELOAD_MS = 60_000;
/** Devices other instances saved (registered, seen, gone offline) are taken in this often. */
const DEVICES_MS = 10_000;

/**
 * What keeps instances sharing PostgreSQL in step (issue 20): every event any of them stores reaches
 * this one's outbox listeners — SSE streams (through the API worker), the deliverers, the SLA
 * clocks — in sequence order, by LISTEN/NOTIFY with a poll behind it; maintenance windows and
 * webhooks changed on another instance are reloaded when it says so (and every minute regardless).
 * Returns whether the notification connection is up (for /health).
 */
export async function followSharedState(d: {
  pool: PgPool;
  outbox: Outbox;
  silences: Silences;
  registry: DeviceRegistry;
  devices: DeviceStore;
  components: Components;
  logger: Logger;
}): Promise<{ listening: () => boolean; follower: EventFollower }> {
  const logger = d.logger.child({ component: 'shared-state' });
  const warn = new RateLimitedLog(logger);
  const follower = new EventFollower(d.outbox, {
    pollMs: POLL_MS,
    onError: (err) => warn.warn('read', { err }, 'events of the shared store could not be read; retrying'),
  });
  d.outbox.relayOnlyFollowed((e) => follower.stored(e));
  await follower.start();
  const reload = (what: string) => {
    if (what === 'silences' || what === 'all')
      d.silences
        .refresh()
        .catch((err: unknown) => warn.warn('silences', { err }, 'maintenance windows could not be reloaded'));
    if (what === 'webhooks' || what === 'all') d.outbox.webhooksChanged();
  };
  const listener = new PgListener(d.pool, [EVENTS_CHANNEL, CHANGES_CHANNEL], {
    notified: (channel, payload) => {
      if (channel !== EVENTS_CHANNEL) return reload(payload);
      // A moment later: the notification of this instance's own event often arrives before the
      // answer to its append, and the follower relays its own events without reading them back.
      const seq = Number(payload);
      setTimeout(() => follower.signal(Number.isSafeInteger(seq) ? seq : undefined), 2);
    },
    // Notifications sent while no connection listened are lost: read afresh what they would have told.
    connected: () => {
      follower.signal();
      reload('all');
    },
    lost: (err) =>
      logger.warn({ err }, 'the notification connection failed; events are polled until it is back'),
  });
  await listener.start().catch(() => undefined); // retried alone; the poll covers the meantime
  const reloads = setInterval(() => reload('all'), RELOAD_MS);
  reloads.unref();
  // Every instance answers for every device: what the others saved is merged in (their last values
  // as of their last save, a few seconds old).
  let cursor: number | null = null;
  let merging = false;
  const mergeDevices = async () => {
    if (merging) return;
    merging = true;
    try {
      const changed = await d.devices.changedSince(cursor);
      cursor = changed.cursor;
      d.registry.merge(changed.devices);
    } catch (err) {
      warn.warn('devices', { err }, 'devices saved by other instances could not be read; retrying');
    } finally {
      merging = false;
    }
  };
  await mergeDevices();
  const devicesTimer = setInterval(() => void mergeDevices(), DEVICES_MS);
  devicesTimer.unref();
  d.components.onStop('shared state follower', async () => {
    clearInterval(reloads);
    clearInterval(devicesTimer);
    await listener.close();
    await follower.stop();
  });
  return { listening: () => listener.listening, follower };
}
