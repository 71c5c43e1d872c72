import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ModbusAdapter } from '../adapters/modbus/adapter.js';
import { modbusAdapterSchema } from '../adapters/modbus/config.js';
import { encodeValue, type Register, registerSchema } from '../adapters/modbus/registers.js';
import type { ReadingSink } from '../ingest/ingest.js';
import type { Point } from '../ingest/point.js';
import { start as startSim } from '../simulators/modbus/index.js';
import { silentLogger, tempDir, waitFor } from './helpers.js';
import { describeIf, findBinary, freePort, hasPythonModule, SYSTEM_PYTHON } from './servers/common.js';

const tmp = tempDir('faultline-modbus-interop-');
afterAll(() => tmp.cleanup());

const reg = (o: Record<string, unknown>): Register => registerSchema.parse(o);
const capture = () => {
  const points: Point[] = [];
  const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
  return { points, sink };
};

/**
 * mbpoll prints `[ref]: value` lines; returns the values in order. Spawned asynchronously: the
 * simulator it talks to runs in this process and must keep answering.
 */
function mbpoll(args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('mbpoll', [...args, '-1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`mbpoll failed (${code}): ${out}`));
      else resolve([...out.matchAll(/^\[\d+\]:\s+(\S+)/gm)].map((m) => m[1] as string));
    });
  });
}

const pymodbus = describeIf(
  existsSync(SYSTEM_PYTHON) && hasPythonModule('pymodbus'),
  'python3-pymodbus',
  'apt-get install python3-pymodbus',
);

pymodbus.describe(`our adapter reads an independent server: pymodbus${pymodbus.label}`, () => {
  it('float32, int16, uint32, string and coils from a pymodbus TCP server', async () => {
    const port = await freePort();
    const script = join(tmp.dir, 'pymodbus_server.py');
    writeFileSync(
      script,
      `import sys
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSlaveContext, ModbusServerContext, ModbusSequentialDataBlock
hr = [0x449A, 0x5000, 0xFFFE, 0x0001, 0x1170, 0x5000, 0x449A] + [0] * 50
ir = [0x4142, 0x4344, 0x0000] + [0] * 50
co = [True, False, True] + [False] * 50
store = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, hr), ir=ModbusSequentialDataBlock(0, ir),
                           co=ModbusSequentialDataBlock(0, co), di=ModbusSequentialDataBlock(0, [False] * 50), zero_mode=True)
print("READY", flush=True)
StartTcpServer(context=ModbusServerContext(slaves=store, single=True), address=("127.0.0.1", ${port}))
`,
    );
    const server: ChildProcess = spawn(SYSTEM_PYTHON, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { points, sink } = capture();
    let adapter: ModbusAdapter | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout?.on('data', (c: Buffer) => c.toString().includes('READY') && resolve());
        server.once('exit', (code) => reject(new Error(`pymodbus exited ${code}`)));
      });
      adapter = new ModbusAdapter(
        modbusAdapterSchema.parse({
          protocol: 'modbus',
          id: 'py',
          host: '127.0.0.1',
          port,
          interval: '100ms',
          timeout: '500ms',
          devices: [
            {
              id: 'pydev',
              unit: 1,
              registers: [
                { name: 'f', address: 0, type: 'float32' },
                { name: 'i', address: 2, type: 'int16' },
                { name: 'u', address: 3, type: 'uint32' },
                { name: 'fswap', address: 5, type: 'float32', order: 'CDAB' },
                { name: 's', table: 'input', address: 0, type: 'string', length: 3 },
                { name: 'c0', table: 'coil', address: 0, type: 'bool' },
                { name: 'c1', table: 'coil', address: 1, type: 'bool' },
                { name: 'c2', table: 'coil', address: 2, type: 'bool' },
              ],
            },
          ],
        }),
      );
      await adapter.start({ sink, logger: silentLogger, now: Date.now });
      const p = await waitFor(
        async () => points.find((x) => !x.connectivity),
        10_000,
        'a reading from pymodbus',
      );
      expect(p.fields).toEqual({
        f: 1234.5,
        i: -2,
        u: 70_000,
        fswap: 1234.5,
        s: 'ABCD',
        c0: true,
        c1: false,
        c2: true,
      });
    } finally {
      await adapter?.stop();
      server.kill('SIGTERM');
    }
  });
});

const mb = describeIf(findBinary('mbpoll') !== undefined, 'mbpoll', 'apt-get install mbpoll');

mb.describe(`an independent client reads our simulator: mbpoll${mb.label}`, () => {
  it('holding and input registers and coils over TCP, as the register map encodes them', async () => {
    const regs = [
      reg({ name: 'f', address: 0, type: 'float32', order: 'ABCD' }),
      reg({ name: 'g', address: 2, type: 'float32', order: 'CDAB' }),
      reg({ name: 'i', address: 4, type: 'int16' }),
      reg({ name: 'u', table: 'input', address: 0, type: 'uint32' }),
      reg({ name: 'c', table: 'coil', address: 1, type: 'bool' }),
    ];
    const sim = await startSim({ registers: regs });
    try {
      sim.setValue('f', 1234.5);
      sim.setValue('g', -0.75);
      sim.setValue('i', -300);
      sim.setValue('u', 123_456);
      sim.setValue('c', true);
      const hex = (words: number[]) => words.map((w) => `0x${w.toString(16).toUpperCase().padStart(4, '0')}`);
      const base = ['-m', 'tcp', '-p', String(sim.port), '-a', '1'];
      expect(await mbpoll([...base, '-r', '1', '-c', '5', '-t', '4:hex', '127.0.0.1'])).toEqual(
        hex([
          ...encodeValue(regs[0] as Register, 1234.5),
          ...encodeValue(regs[1] as Register, -0.75),
          ...encodeValue(regs[2] as Register, -300),
        ]),
      );
      // -B: big-endian word order (ABCD); mbpoll's default is the word-swapped CDAB.
      expect(await mbpoll([...base, '-r', '1', '-c', '1', '-t', '4:float', '-B', '127.0.0.1'])).toEqual([
        '1234.5',
      ]);
      expect(await mbpoll([...base, '-r', '3', '-c', '1', '-t', '4:float', '127.0.0.1'])).toEqual(['-0.75']);
      expect(await mbpoll([...base, '-r', '1', '-c', '2', '-t', '3:hex', '127.0.0.1'])).toEqual(
        hex(encodeValue(regs[3] as Register, 123_456)),
      );
      expect(await mbpoll([...base, '-r', '1', '-c', '3', '-t', '0', '127.0.0.1'])).toEqual(['0', '1', '0']);
    } finally {
      await sim.close();
    }
  });
});

const rtu = describeIf(
  findBinary('socat') !== undefined && findBinary('mbpoll') !== undefined,
  'socat and mbpoll',
  'apt-get install socat mbpoll',
);

rtu.describe(`Modbus RTU over a socat pty pair${rtu.label}`, () => {
  it('our adapter reads our RTU simulator; mbpoll reads it the same way', async () => {
    const a = join(tmp.dir, 'ttyA');
    const b = join(tmp.dir, 'ttyB');
    const socat: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      stdio: 'ignore',
    });
    const regs = [
      reg({ name: 'level', table: 'input', address: 0, type: 'uint16', scale: 0.01 }),
      reg({ name: 'temp', address: 5, type: 'float32', order: 'CDAB' }),
    ];
    let sim: Awaited<ReturnType<typeof startSim>> | undefined;
    let adapter: ModbusAdapter | undefined;
    try {
      await waitFor(async () => (existsSync(a) && existsSync(b) ? true : undefined), 5_000, 'pty pair');
      sim = await startSim({
        registers: regs,
        unit: 3,
        serial: { path: a, baudRate: 19200, parity: 'even' },
      });
      sim.setValue('level', 2.41);
      sim.setValue('temp', 36.6);
      const { points, sink } = capture();
      adapter = new ModbusAdapter(
        modbusAdapterSchema.parse({
          protocol: 'modbus',
          id: 'bus',
          transport: 'rtu',
          serial: { path: b, baudRate: 19200, parity: 'even' },
          interval: '200ms',
          timeout: '500ms',
          devices: [{ id: 'tank', unit: 3, registers: regs.map((r) => ({ ...r })) }],
        }),
      );
      await adapter.start({ sink, logger: silentLogger, now: Date.now });
      const p = await waitFor(async () => points.find((x) => !x.connectivity), 10_000, 'an RTU reading');
      expect(p.fields.level).toBeCloseTo(2.41, 5);
      expect(p.fields.temp).toBeCloseTo(36.6, 4);
      await adapter.stop();
      adapter = undefined;
      expect(
        await mbpoll([
          '-m',
          'rtu',
          '-b',
          '19200',
          '-P',
          'even',
          '-a',
          '3',
          '-r',
          '1',
          '-c',
          '1',
          '-t',
          '3',
          b,
        ]),
      ).toEqual(['241']);
      // RTU over TCP (a transparent serial-to-Ethernet gateway): socat bridges the simulator's pty to a
      // TCP listener. The pty comes first: socat opens its addresses in order, and a listener waits.
      await sim.close();
      sim = undefined;
      const port = await freePort();
      const c = join(tmp.dir, 'ttyC');
      const bridge: ChildProcess = spawn(
        'socat',
        [`pty,raw,echo=0,link=${c}`, `tcp-listen:${port},bind=127.0.0.1,reuseaddr`],
        {
          stdio: 'ignore',
        },
      );
      try {
        await waitFor(async () => (existsSync(c) ? true : undefined), 5_000, 'bridge pty');
        sim = await startSim({
          registers: regs,
          unit: 3,
          serial: { path: c, baudRate: 19200, parity: 'even' },
        });
        sim.setValue('level', 1.5);
        const got = capture();
        adapter = new ModbusAdapter(
          modbusAdapterSchema.parse({
            protocol: 'modbus',
            id: 'gw',
            transport: 'rtu-over-tcp',
            host: '127.0.0.1',
            port,
            interval: '200ms',
            timeout: '500ms',
            devices: [{ id: 'tank', unit: 3, registers: regs.map((r) => ({ ...r })) }],
          }),
        );
        await adapter.start({ sink: got.sink, logger: silentLogger, now: Date.now });
        const q = await waitFor(
          async () => got.points.find((x) => !x.connectivity),
          10_000,
          'an RTU-over-TCP reading',
        );
        expect(q.fields.level).toBeCloseTo(1.5, 5);
      } finally {
        await adapter?.stop();
        adapter = undefined;
        bridge.kill('SIGTERM');
      }
    } finally {
      await adapter?.stop();
      await sim?.close();
      socat.kill('SIGTERM');
    }
  });
});
