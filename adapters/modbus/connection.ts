import modbusSerial from 'modbus-serial';
import type { ModbusAdapterConfig } from './config.js';
import type { ReadRequest } from './plan.js';

// modbus-serial is CommonJS: the default import is its exports object, the client class its `default`.
const ModbusRTU = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

export type ReadFailure = 'timeout' | 'exception' | 'malformed' | 'connection';

export class ModbusReadError extends Error {
  constructor(
    readonly failure: ReadFailure,
    message: string,
    readonly exceptionCode?: number,
  ) {
    super(message);
    this.name = 'ModbusReadError';
  }
}

export interface ReadResult {
  words?: number[];
  bits?: boolean[];
}

/**
 * One Modbus connection with one request in flight. Every answer is checked against its request
 * (modbus-serial accepts a reply carrying more registers than asked); after a malformed reply, or
 * `reconnectAfterTimeouts` timeouts in a row, the connection is replaced, since a stale partial
 * frame would desynchronise every later transaction on it.
 */
export class ModbusConnection {
  private client: ModbusClient | undefined;
  /** A client still connecting (a host that does not answer can take the OS's whole SYN timeout). */
  private connecting: ModbusClient | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private timeoutsInRow = 0;
  private closed = false;
  readonly counters = { connects: 0, reconnects: 0, requests: 0 };

  constructor(private readonly cfg: ModbusAdapterConfig) {}

  /** Queues a read; `urgent` reads (devices that answer) go before the others waiting. */
  read(unit: number, req: ReadRequest, timeoutMs: number): Promise<ReadResult> {
    const run = this.chain.then(() => this.readNow(unit, req, timeoutMs));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async open(): Promise<ModbusClient> {
    if (this.client?.isOpen) return this.client;
    const c = new ModbusRTU();
    this.connecting = c;
    try {
      await this.connect(c);
    } finally {
      this.connecting = undefined;
    }
    this.counters.connects++;
    this.client = c;
    return c;
  }

  private async connect(c: ModbusClient): Promise<void> {
    const cfg = this.cfg;
    if (cfg.transport === 'tcp') await c.connectTCP(cfg.host as string, { port: cfg.port });
    // Raw RTU frames over a TCP socket (a transparent serial-to-Ethernet gateway): modbus-serial calls
    // this "telnet"; its connectTcpRTUBuffered sends Modbus TCP (MBAP) frames instead.
    else if (cfg.transport === 'rtu-over-tcp') await c.connectTelnet(cfg.host as string, { port: cfg.port });
    else {
      const s = cfg.serial as NonNullable<ModbusAdapterConfig['serial']>;
      await c.connectRTUBuffered(s.path, {
        baudRate: s.baudRate,
        parity: s.parity,
        dataBits: s.dataBits,
        stopBits: s.stopBits,
      });
    }
  }

  private drop(): void {
    const c = this.client;
    this.client = undefined;
    this.timeoutsInRow = 0;
    this.counters.reconnects++;
    // destroy, not close: close() waits for a 'close' event that a socket already gone never sends.
    if (c) c.destroy(() => undefined);
  }

  private async readNow(unit: number, req: ReadRequest, timeoutMs: number): Promise<ReadResult> {
    if (this.closed) throw new ModbusReadError('connection', 'connection closed');
    let c: ModbusClient;
    try {
      c = await this.open();
    } catch (err) {
      throw new ModbusReadError('connection', `cannot connect: ${(err as Error).message}`);
    }
    c.setID(unit);
    c.setTimeout(timeoutMs);
    this.counters.requests++;
    try {
      let out: ReadResult;
      if (req.table === 'coil' || req.table === 'discrete') {
        const r =
          req.table === 'coil'
            ? await c.readCoils(req.address, req.count)
            : await c.readDiscreteInputs(req.address, req.count);
        // Bits come padded to whole bytes.
        if (r.data.length < req.count || r.data.length > Math.ceil(req.count / 8) * 8) {
          throw new ModbusReadError(
            'malformed',
            `asked ${req.count} bits at ${req.address}, got ${r.data.length}`,
          );
        }
        out = { bits: r.data.slice(0, req.count) };
      } else {
        const r =
          req.table === 'holding'
            ? await c.readHoldingRegisters(req.address, req.count)
            : await c.readInputRegisters(req.address, req.count);
        if (r.data.length !== req.count) {
          throw new ModbusReadError(
            'malformed',
            `asked ${req.count} registers at ${req.address}, got ${r.data.length}`,
          );
        }
        out = { words: r.data };
      }
      this.timeoutsInRow = 0;
      return out;
    } catch (err) {
      if (err instanceof ModbusReadError) {
        this.drop();
        throw err;
      }
      const e = err as Error & { name?: string; modbusCode?: number; errno?: string };
      if (typeof e.modbusCode === 'number') {
        this.timeoutsInRow = 0;
        throw new ModbusReadError('exception', e.message, e.modbusCode);
      }
      if (e.name === 'TransactionTimedOutError' || /timed out/i.test(e.message)) {
        if (++this.timeoutsInRow >= this.cfg.reconnectAfterTimeouts) this.drop();
        throw new ModbusReadError('timeout', `no answer within ${timeoutMs} ms`);
      }
      // CRC, unexpected function or unit, port errors: the stream cannot be trusted.
      this.drop();
      throw new ModbusReadError(
        /port not open|ECONN|EPIPE/i.test(e.message) ? 'connection' : 'malformed',
        e.message,
      );
    }
  }

  /**
   * Stops: reads in flight may finish within `graceMs`, then the port is closed, or destroyed when
   * closing does not complete in time. modbus-serial's close() calls back on the socket's 'close'
   * event, which never comes once the socket is gone (a device that went away): without the bound a
   * gateway stop hung for its whole shutdown timeout and exited 1 (issue 18).
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.closed = true;
    await within(this.chain, graceMs);
    for (const c of [this.client, this.connecting]) {
      if (!c) continue;
      const closed = await within(new Promise<void>((r) => c.close(() => r())), graceMs);
      if (!closed) c.destroy(() => undefined);
    }
    this.client = undefined;
    this.connecting = undefined;
  }
}

/** How long a stop waits for reads in flight and for the port to close before destroying it. */
export const CLOSE_GRACE_MS = 1_000;

/** Whether `p` settled within `ms`. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
