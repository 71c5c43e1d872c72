import { connectivityPoint, type FieldValue, type Point } from '../../ingest/point.js';
import { backoffDelay } from '../../lib/backoff.js';
import { RateLimitedLog } from '../../lib/log.js';
import type { Adapter, AdapterContext, AdapterStatus } from '../types.js';
import type { ModbusAdapterConfig, ModelConfig } from './config.js';
import { CLOSE_GRACE_MS, ModbusConnection, ModbusReadError, within } from './connection.js';
import { planReads, type ReadRequest } from './plan.js';
import { decodeValue, errorCodesOf, type Register } from './registers.js';

export interface PollStats {
  polls: number;
  ok: number;
  failed: number;
  timeouts: number;
  exceptions: number;
  malformed: number;
  connectionErrors: number;
  lastLatencyMs: number | null;
  /** Exponentially weighted mean of poll latency. */
  meanLatencyMs: number | null;
  lastPollAt: number | null;
  lastError: string | null;
  state: 'online' | 'offline' | 'unknown';
}

interface DevicePoller {
  id: string;
  unit: number;
  intervalMs: number;
  plan: ReadRequest[];
  hasErrorCodes: boolean;
  failuresInRow: number;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  stats: PollStats;
}

/**
 * Polls the devices of one Modbus connection, each at its own interval. A reading is one poll of a
 * device, spooled before the next poll of that device. A device that fails `offlineAfterFailures`
 * polls in a row goes offline and is then polled with backoff and a single attempt, so that a dead
 * unit costs the healthy ones at most one timeout per backoff period.
 */
export class ModbusAdapter implements Adapter {
  readonly protocol = 'modbus' as const;
  readonly id: string;
  private readonly pollers: DevicePoller[];
  private conn: ModbusConnection | undefined;
  private ctx: AdapterContext | undefined;
  private stopping = false;
  private warn: RateLimitedLog | undefined;

  constructor(
    private readonly cfg: ModbusAdapterConfig,
    models: Readonly<Record<string, ModelConfig>> = {},
  ) {
    this.id = cfg.id;
    this.pollers = cfg.devices.map((d) => {
      const fromModel = d.model ? (models[d.model]?.modbus?.registers ?? []) : [];
      if (d.model && !models[d.model]?.modbus)
        throw new Error(`device ${d.id}: model "${d.model}" has no modbus register map`);
      const registers = [...fromModel, ...d.registers];
      if (registers.length === 0) throw new Error(`device ${d.id}: no registers (give registers or a model)`);
      return {
        id: d.id,
        unit: d.unit,
        intervalMs: d.interval ?? cfg.interval,
        plan: planReads(registers, {
          maxRegisters: cfg.maxRegisters,
          maxBits: cfg.maxBits,
          maxGap: cfg.maxGap,
        }),
        hasErrorCodes: registers.some((r) => r.errorCodes),
        failuresInRow: 0,
        timer: undefined,
        running: undefined,
        stats: {
          polls: 0,
          ok: 0,
          failed: 0,
          timeouts: 0,
          exceptions: 0,
          malformed: 0,
          connectionErrors: 0,
          lastLatencyMs: null,
          meanLatencyMs: null,
          lastPollAt: null,
          lastError: null,
          state: 'unknown',
        },
      };
    });
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.stopping = false;
    this.warn = new RateLimitedLog(ctx.logger);
    this.conn = new ModbusConnection(this.cfg);
    // Devices start spread over their interval, not all at once.
    this.pollers.forEach((p, i) => {
      this.schedule(p, Math.floor((p.intervalMs * i) / this.pollers.length));
    });
  }

  private schedule(p: DevicePoller, delayMs: number): void {
    if (this.stopping) return;
    p.timer = setTimeout(() => {
      p.running = this.poll(p).finally(() => {
        p.running = undefined;
      });
    }, delayMs);
  }

  private async poll(p: DevicePoller): Promise<void> {
    const ctx = this.ctx as AdapterContext;
    const conn = this.conn as ModbusConnection;
    const started = ctx.now();
    const offline = p.stats.state === 'offline';
    const attempts = offline ? 1 : 1 + this.cfg.retries;
    const fields: Record<string, FieldValue> = {};
    const codes: string[] = [];
    const units: Record<string, string> = {};
    let answered = 0;
    let lastError: ModbusReadError | undefined;
    for (const req of p.plan) {
      let result: Awaited<ReturnType<ModbusConnection['read']>> | undefined;
      for (let a = 0; a < attempts && !this.stopping; a++) {
        try {
          result = await conn.read(p.unit, req, this.cfg.timeout);
          break;
        } catch (err) {
          lastError = err instanceof ModbusReadError ? err : new ModbusReadError('connection', String(err));
          this.count(p, lastError);
          // An exception is the device's answer: asking again will not change it.
          if (lastError.failure === 'exception') break;
        }
      }
      if (!result) continue;
      answered++;
      for (const item of req.items)
        this.decodeItem(item.register, item.offset, item.width, result, fields, codes, units);
    }
    const latency = ctx.now() - started;
    p.stats.polls++;
    p.stats.lastPollAt = started;
    p.stats.lastLatencyMs = latency;
    p.stats.meanLatencyMs =
      p.stats.meanLatencyMs === null ? latency : p.stats.meanLatencyMs * 0.8 + latency * 0.2;
    if (answered === 0) {
      p.stats.failed++;
      p.failuresInRow++;
      p.stats.lastError = lastError?.message ?? 'no answer';
      this.warn?.warn(
        `${this.id}:${p.id}`,
        { deviceId: p.id, unit: p.unit, error: p.stats.lastError },
        'Modbus poll failed',
      );
      if (p.failuresInRow >= this.cfg.offlineAfterFailures && p.stats.state !== 'offline') {
        p.stats.state = 'offline';
        await ctx.sink
          .accept([
            connectivityPoint(
              p.id,
              'offline',
              `Modbus: ${p.stats.lastError} (${p.failuresInRow} polls)`,
              started,
              ctx.now(),
              this.id,
            ),
          ])
          .catch(() => undefined);
      }
      const delay =
        p.stats.state === 'offline'
          ? backoffDelay(
              p.failuresInRow - this.cfg.offlineAfterFailures + 1,
              this.cfg.backoff.min,
              this.cfg.backoff.max,
              Math.random(),
            )
          : Math.max(0, started + p.intervalMs - ctx.now());
      this.schedule(p, delay);
      return;
    }
    p.stats.ok++;
    p.failuresInRow = 0;
    p.stats.state = 'online';
    if (answered < p.plan.length) p.stats.lastError = lastError?.message ?? null;
    const point: Point = { deviceId: p.id, ts: started, receivedAt: ctx.now(), fields, source: this.id };
    if (p.hasErrorCodes) point.errorCodes = [...new Set(codes)];
    if (Object.keys(units).length) point.units = units;
    try {
      // "A completed poll" counts as received only once it is in the spool.
      await ctx.sink.accept([point]);
    } catch (err) {
      ctx.logger.error({ err, deviceId: p.id }, 'Modbus reading could not be made durable');
    }
    this.schedule(p, Math.max(0, started + p.intervalMs - ctx.now()));
  }

  private decodeItem(
    r: Register,
    offset: number,
    width: number,
    result: { words?: number[]; bits?: boolean[] },
    fields: Record<string, FieldValue>,
    codes: string[],
    units: Record<string, string>,
  ): void {
    const raw = decodeValue(
      r,
      result.words?.slice(offset, offset + width) ?? [],
      result.bits?.slice(offset, offset + 1),
    );
    if (typeof raw === 'number') {
      if (r.errorCodes) codes.push(...errorCodesOf(r, raw));
      fields[r.name] = raw * r.scale + r.offset;
    } else {
      fields[r.name] = raw;
    }
    if (r.unit) units[r.name] = r.unit;
  }

  private count(p: DevicePoller, e: ModbusReadError): void {
    if (e.failure === 'timeout') p.stats.timeouts++;
    else if (e.failure === 'exception') p.stats.exceptions++;
    else if (e.failure === 'malformed') p.stats.malformed++;
    else p.stats.connectionErrors++;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const p of this.pollers) clearTimeout(p.timer);
    // Polls in flight finish (and their readings are handed on) within the grace; a device that
    // does not answer does not hold the stop up (the connection's close destroys its socket).
    await within(Promise.allSettled(this.pollers.map((p) => p.running)), CLOSE_GRACE_MS);
    await this.conn?.close();
  }

  deviceStats(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(
      this.pollers.map((p) => [
        p.id,
        { ...p.stats, unit: p.unit, intervalMs: p.intervalMs, requestsPerPoll: p.plan.length },
      ]),
    );
  }

  status(): AdapterStatus {
    const conn = this.conn;
    const offline = this.pollers.filter((p) => p.stats.state === 'offline').length;
    return {
      id: this.id,
      protocol: this.protocol,
      state: this.stopping || !conn ? 'stopped' : offline > 0 ? 'degraded' : 'running',
      details: {
        transport: this.cfg.transport,
        target: this.cfg.transport === 'rtu' ? this.cfg.serial?.path : `${this.cfg.host}:${this.cfg.port}`,
        ...(conn?.counters ?? {}),
        devices: this.deviceStats(),
      },
    };
  }
}
