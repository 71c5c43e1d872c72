import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import ModbusRTU from 'modbus-serial';
import { encodeValue, type Register, widthOf } from '../../adapters/modbus/registers.js';
import { DeviceModel, type Fault, type MetricSpec, prng } from '../mqtt/model.js';

type ServerTCP = InstanceType<typeof ModbusRTU.ServerTCP>;

/** What the device does wrong; `none` answers normally. */
export type ModbusFault =
  | { kind: 'none' }
  /** Answer every request with this exception code (2 illegal address, 4 device failure, 6 busy, …). */
  | { kind: 'exception'; code: number }
  /** Never answer (a dead unit behind a gateway). */
  | { kind: 'noAnswer' }
  /** Answer after this many ms. */
  | { kind: 'slow'; delayMs: number }
  /** Send only the first half of each response frame. */
  | { kind: 'truncated' }
  /** Send a response whose byte count does not match what was asked. */
  | { kind: 'garbage' };

export interface ModbusSimOptions {
  port?: number;
  host?: string;
  /** Serve Modbus RTU on this serial port instead of TCP (e.g. one end of a socat pty pair). */
  serial?: { path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' };
  /** Unit id the device answers to (255 = any). */
  unit?: number;
  registers: readonly Register[];
  /** How each register's value behaves (by register name); default: a base of 100 with a little noise. */
  metrics?: Record<string, MetricSpec>;
  seed?: number;
}

export interface ModbusSimulator {
  /** The TCP port (0 when serving a serial port). */
  port: number;
  /** Sets what the device does wrong from now on — for one unit id only, if given (a gateway with a dead unit). */
  setFault(f: ModbusFault, unit?: number): void;
  /** Injects a value fault (ramp, spike, stuck, …) as the MQTT simulator does. */
  inject(fault: Fault, durationMs?: number): void;
  /** Fixes a register's value (for exact tests); undefined returns it to its model. */
  setValue(name: string, value: number | boolean | string | undefined): void;
  /** Ends every fault: values back to their model, answers back to normal. */
  clear(): void;
  /** Requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * A Modbus TCP device: holding and input registers, coils and discrete inputs from a register map
 * (the adapter's format), with realistic values and fault knobs. Frames are built by modbus-serial's
 * ServerTCP; the knobs that break frames wrap the socket's writes.
 */
export async function start(o: ModbusSimOptions): Promise<ModbusSimulator> {
  const model = new DeviceModel(
    'modbus-sim',
    Object.fromEntries(o.registers.map((r) => [r.name, o.metrics?.[r.name] ?? defaultSpec(r)])),
    prng(o.seed ?? 1),
  );
  const fixed = new Map<string, number | boolean | string>();
  let fault: ModbusFault = { kind: 'none' };
  const unitFaults = new Map<number, ModbusFault>();
  let requests = 0;
  // Words and bits by table and address, resampled at most every 50 ms so that one request is consistent.
  let snapshot: { at: number; words: Map<string, number>; bits: Map<string, boolean> } | undefined;
  const current = () => {
    const now = Date.now();
    if (snapshot && now - snapshot.at < 50) return snapshot;
    const { fields } = model.sample(now);
    const words = new Map<string, number>();
    const bits = new Map<string, boolean>();
    for (const r of o.registers) {
      const v = fixed.get(r.name) ?? fields[r.name] ?? 0;
      if (r.table === 'coil' || r.table === 'discrete') {
        bits.set(`${r.table}:${r.address}`, Boolean(v));
        continue;
      }
      const raw =
        typeof v === 'number' && r.type !== 'float32' && r.type !== 'float64' ? (v - r.offset) / r.scale : v;
      const ws = encodeValue(r, r.type === 'bool' ? Boolean(raw) : (raw as number | string));
      ws.forEach((w, i) => {
        const key = `${r.table}:${r.address + i}`;
        // Several bools may share a register (one bit each).
        words.set(key, r.type === 'bool' ? (words.get(key) ?? 0) | w : w);
      });
    }
    snapshot = { at: now, words, bits };
    return snapshot;
  };

  // `placeholder`: modbus-serial's multi-register handler indexes the values even when an error is
  // reported, and answers the resulting TypeError as exception 4, losing the real code.
  const answer = <T>(unit: number, value: () => T, cb: (err: unknown, v?: T) => void, placeholder?: T) => {
    requests++;
    const f = unitFaults.get(unit) ?? fault;
    switch (f.kind) {
      case 'noAnswer':
        return;
      case 'exception':
        cb({ modbusErrorCode: f.code, msg: 'simulated exception' }, placeholder);
        return;
      case 'slow':
        setTimeout(() => cb(null, value()), f.delayMs);
        return;
      default:
        cb(null, value());
    }
  };
  const word =
    (table: 'holding' | 'input') => (addr: number, unit: number, cb: (err: unknown, v?: number) => void) =>
      answer(unit, () => current().words.get(`${table}:${addr}`) ?? 0, cb);
  const many =
    (table: 'holding' | 'input') =>
    (addr: number, length: number, unit: number, cb: (err: unknown, v?: number[]) => void) =>
      answer(
        unit,
        () => Array.from({ length }, (_, i) => current().words.get(`${table}:${addr + i}`) ?? 0),
        cb,
        new Array<number>(length).fill(0),
      );
  const bit =
    (table: 'coil' | 'discrete') => (addr: number, unit: number, cb: (err: unknown, v?: boolean) => void) =>
      answer(unit, () => current().bits.get(`${table}:${addr}`) ?? false, cb);

  const vector = {
    getHoldingRegister: word('holding'),
    getInputRegister: word('input'),
    getMultipleHoldingRegisters: many('holding'),
    getMultipleInputRegisters: many('input'),
    getCoil: bit('coil'),
    getDiscreteInput: bit('discrete'),
  } as never;
  if (o.serial) {
    return startSerial(o, vector, {
      setFault: (f, unit) => {
        if (unit === undefined) fault = f;
        else unitFaults.set(unit, f);
      },
      model,
      fixed,
      reset: () => {
        snapshot = undefined;
      },
      requests: () => requests,
    });
  }
  const host = o.host ?? '127.0.0.1';
  // ServerTCP takes port 0 as "502" (`options.port || 502`): find a free port first.
  const port = o.port ? o.port : await freePort(host);
  const server: ServerTCP = new ModbusRTU.ServerTCP(vector, {
    host,
    port,
    unitID: o.unit ?? 255,
    debug: false,
  });
  const net = (server as unknown as { _server: Server })._server;
  net.on('connection', (sock: Socket) => {
    const write = sock.write.bind(sock) as (b: Buffer) => boolean;
    (sock as unknown as { write: (b: Buffer) => boolean }).write = (b: Buffer) => {
      if (fault.kind === 'truncated') return write(b.subarray(0, Math.max(1, Math.floor(b.length / 2))));
      if (fault.kind === 'garbage' && b.length > 8) {
        // MBAP (7) + function (1) + byte count (1): claim one byte more than sent.
        const bad = Buffer.from(b);
        bad[8] = (bad[8] ?? 0) + 2;
        bad.writeUInt16BE(bad.length - 6, 4);
        return write(bad);
      }
      return write(b);
    };
  });
  server.on('socketError', () => undefined);
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('initialized', () => resolve());
    server.once('serverError', reject);
  });
  return {
    port: (net.address() as AddressInfo).port,
    setFault(f, unit) {
      if (unit === undefined) fault = f;
      else unitFaults.set(unit, f);
    },
    clear() {
      fault = { kind: 'none' };
      unitFaults.clear();
      model.clear();
      snapshot = undefined;
    },
    inject(f, durationMs) {
      model.inject(f, Date.now(), durationMs);
      snapshot = undefined;
    },
    setValue(name, value) {
      if (value === undefined) fixed.delete(name);
      else fixed.set(name, value);
      snapshot = undefined;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of (server as unknown as { socks?: Map<Socket, unknown> }).socks?.keys() ?? [])
          s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface SimState {
  setFault(f: ModbusFault, unit?: number): void;
  model: DeviceModel;
  fixed: Map<string, number | boolean | string>;
  reset(): void;
  requests(): number;
}

/** The same device over Modbus RTU on a serial port (modbus-serial's ServerSerial). */
async function startSerial(o: ModbusSimOptions, vector: never, st: SimState): Promise<ModbusSimulator> {
  const serial = o.serial as NonNullable<ModbusSimOptions['serial']>;
  const Server = ModbusRTU.ServerSerial as unknown as new (
    v: never,
    opts: Record<string, unknown>,
  ) => NodeJS.EventEmitter & { close(cb: () => void): void };
  const server = new Server(vector, {
    path: serial.path,
    baudRate: serial.baudRate ?? 9600,
    parity: serial.parity ?? 'none',
    unitID: o.unit ?? 255,
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('initialized', () => resolve());
    server.once('error', reject);
  });
  return {
    port: 0,
    setFault: (f, unit) => st.setFault(f, unit),
    inject(f, durationMs) {
      st.model.inject(f, Date.now(), durationMs);
      st.reset();
    },
    setValue(name, value) {
      if (value === undefined) st.fixed.delete(name);
      else st.fixed.set(name, value);
      st.reset();
    },
    clear() {
      st.setFault({ kind: 'none' });
      st.model.clear();
      st.reset();
    },
    get requests() {
      return st.requests();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function defaultSpec(r: Register): MetricSpec {
  if (r.table === 'coil' || r.table === 'discrete' || r.type === 'bool') return { value: true };
  if (r.type === 'string') return { value: 'FAULTLINE' };
  const span = r.type === 'int16' || r.type === 'uint16' ? 0 : 2;
  return { base: 100 * r.scale + r.offset, noise: r.scale, decimals: span };
}

export { widthOf };
