import type { Logger } from '../lib/log.js';
import { CONNECTIVITY_SOURCE, type Device, type DeviceRegistry } from './devices.js';
import type { ReadingSink } from './ingest.js';
import { connectivityPoint, type Point } from './point.js';

export interface ConnectivityOptions {
  sink: ReadingSink;
  registry: DeviceRegistry;
  logger: Logger;
  /** A device that sent nothing for this long is offline; 0 turns silence detection off. */
  offlineAfterMs: number;
  /** Whether this instance watches the device (several instances: the one that evaluates it). */
  owns?: (deviceId: string) => boolean;
  now?: () => number;
}

/**
 * Watches devices' connectivity: a device silent for `offlineAfterMs` goes offline, and a device
 * that is offline (or never seen) goes online with its next reading. Each change is a reading of
 * its own (metric `online`, and a `device_events` line), so that rules can alert on it and
 * InfluxDB keeps the history. Sources that know better — a Sparkplug death, a last will — send
 * their own connectivity readings.
 */
export class ConnectivityMonitor {
  private readonly now: () => number;
  /** Devices with a change on its way into the spool, so that one change is sent once. */
  private readonly pending = new Set<string>();

  constructor(private readonly o: ConnectivityOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Called for every durable reading. */
  onReading(p: Point, d: Device): void {
    if (p.connectivity || d.connectivity.state === 'online') return;
    this.change(d, 'online', d.connectivity.state === 'offline' ? 'readings resumed' : 'first reading', p.ts);
  }

  /** Marks devices offline that have been silent too long; returns how many. */
  check(): number {
    const now = this.now();
    let n = 0;
    for (const d of this.o.registry.list()) {
      const limit = d.offlineAfterMs ?? this.o.offlineAfterMs;
      if (limit <= 0 || d.connectivity.state !== 'online' || d.lastSeenAt === null) continue;
      if (this.o.owns && !this.o.owns(d.id)) continue;
      if (now - d.lastSeenAt < limit) continue;
      n++;
      this.change(d, 'offline', `no reading for ${Math.round((now - d.lastSeenAt) / 1000)} s`, now);
    }
    return n;
  }

  private change(d: Device, state: 'online' | 'offline', reason: string, ts: number): void {
    if (this.pending.has(d.id)) return;
    this.pending.add(d.id);
    this.o.sink
      .accept([connectivityPoint(d.id, state, reason, ts, this.now(), CONNECTIVITY_SOURCE)])
      .catch((err: unknown) =>
        this.o.logger.error({ err, deviceId: d.id, state }, 'connectivity change not recorded'),
      )
      .finally(() => this.pending.delete(d.id));
  }
}
