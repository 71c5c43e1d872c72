import type { ReadingSink } from '../ingest/ingest.js';
import type { Logger } from '../lib/log.js';

export interface AdapterContext {
  sink: ReadingSink;
  logger: Logger;
  now: () => number;
  /** The gateway's data directory, for adapter state such as an OPC UA PKI folder. */
  dataDir?: string;
  /**
   * With several instances on PostgreSQL: this instance's id. An identity an adapter holds at a
   * server (an MQTT client id) includes it, so that instances do not take each other's session.
   */
  instance?: string;
}

export interface AdapterStatus {
  id: string;
  protocol: string;
  state: 'stopped' | 'starting' | 'running' | 'degraded';
  /** Protocol-specific facts: bound URL, connected clients, counters. */
  details: Record<string, unknown>;
}

/**
 * One protocol source. `create()` opens nothing; `start()` connects or listens; `stop()` stops
 * reading, hands off what is in flight, and may be called twice.
 */
export interface Adapter {
  readonly id: string;
  readonly protocol: 'mqtt' | 'opcua' | 'modbus';
  start(ctx: AdapterContext): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
  /** Per-device statistics of adapters that poll devices (latency, timeouts, errors), by device id. */
  deviceStats?(): Record<string, Record<string, unknown>>;
}
