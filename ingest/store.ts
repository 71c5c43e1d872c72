import type { Device } from './devices.js';
import type { Rollup } from './history.js';

/**
 * The ingest folder's stored state behind async interfaces (issue 19). SQLite implementations are
 * the `sqlite-*.ts` files here; every implementation passes the suites in `test/contracts/`. The
 * telemetry log (the spool) stays local to each instance; the others are shared with several.
 */

export interface SpoolStats {
  batches: number;
  points: number;
  /** Compressed bytes held. */
  bytes: number;
  /** Creation time of the oldest batch held, or null when empty. */
  oldestAt: number | null;
}

/** A batch of line protocol as held in the log. */
export interface LogBatch {
  id: number;
  createdAt: number;
  points: number;
  lines: string;
}

/**
 * The durable telemetry log: accepted readings, as line protocol, in arrival order.
 * A reading counts as accepted — and may be acknowledged to its source — once `append` resolved.
 */
export interface TelemetryLog {
  /**
   * Makes `lines` (newline-separated, `points` readings) durable; resolves after the commit. Appends
   * committed together (one batch) may return the same promise: callers that see the same promise
   * again know their readings share a commit (ingest delivers them together).
   */
  append(lines: string, points: number): Promise<void>;
  /** Oldest batches first, at most `limit`, with an id above `afterId`. */
  read(afterId: number, limit: number): Promise<LogBatch[]>;
  /** Deletes batches up to and including `id` (after they were shipped). */
  deleteThrough(id: number): Promise<void>;
  /** Deletes batches older than `cutoff`; returns how many points were dropped. */
  pruneOlderThan(cutoff: number): Promise<number>;
  /** Deletes the oldest batches until at most `maxBytes` remain; returns how many points were dropped. */
  pruneToSize(maxBytes: number): Promise<number>;
  stats(): Promise<SpoolStats>;
  close(): Promise<void>;
}

/** Persistence of the device registry (identity, last seen, last values). */
export interface DeviceStore {
  loadAll(): Promise<Device[]>;
  saveMany(devices: readonly Device[]): Promise<void>;
  /**
   * Devices saved since `cursor` (null: all), by the store's clock, and the cursor for the next call.
   * Writes committing late are not missed: those of the 5 s before the cursor come again (issue 20:
   * an instance learns what others saved).
   */
  changedSince(cursor: number | null): Promise<{ devices: Device[]; cursor: number }>;
}

/** Per-minute rollups of numeric metrics (booleans as 0/1), the local history without InfluxDB. */
export interface HistoryStore {
  /** Merges partial aggregates into the stored ones (min of mins, sums, newest last). */
  merge(rows: readonly Rollup[]): Promise<void>;
  /** Stored minutes of one series in [from, to), oldest first. */
  minutes(deviceId: string, metric: string, from: number, to: number): Promise<Rollup[]>;
  /** Metrics that have history for a device. */
  metrics(deviceId: string): Promise<string[]>;
  /** Deletes minutes before `cutoff`; returns how many rows went. */
  prune(cutoff: number): Promise<number>;
  /** Devices with history in [from, to), by id (for backtests). */
  devices(from: number, to: number): Promise<string[]>;
}

export interface DeadLetterInput {
  at: number;
  source: string;
  deviceId: string | null;
  /** Where it came from: the MQTT topic, a Modbus address, an OPC UA node. */
  origin: string;
  reason: string;
  payload: Buffer;
}

export interface DeadLetter extends DeadLetterInput {
  id: number;
}

/** Rejected input, kept with its reason so that an integrator can see what a device sent. */
export interface DeadLetterStore {
  add(entry: DeadLetterInput): Promise<void>;
  /** Newest first; with `deviceIn`, only those of these devices (a key limited to sites). */
  list(limit: number, deviceIn?: readonly string[]): Promise<DeadLetter[]>;
  /** How many are kept; with `deviceIn`, of these devices only. */
  count(deviceIn?: readonly string[]): Promise<number>;
}
