import { afterEach, describe, expect, it } from 'vitest';
import type { ReadingSink } from '../../ingest/ingest.js';
import type { Point } from '../../ingest/point.js';
import { type ModbusSimulator, start as startSim } from '../../simulators/modbus/index.js';
import { silentLogger, waitFor } from '../../test/helpers.js';
import { ModbusAdapter, type PollStats } from './adapter.js';
import { modbusAdapterSchema } from './config.js';
import { DATA_TYPES, ORDERS, registerSchema } from './registers.js';

describe('Modbus adapter against the simulator (real sockets)', () => {
  let sim: ModbusSimulator | undefined;
  let adapter: ModbusAdapter | undefined;
  afterEach(async () => {
    await adapter?.stop();
    await sim?.close();
    adapter = undefined;
  });

  const capture = () => {
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    return { points, sink };
  };
  const stats = (id: string): PollStats & { requestsPerPoll: number } => {
    const devices = adapter?.status().details.devices as
      | Record<string, PollStats & { requestsPerPoll: number }>
      | undefined;
    const s = devices?.[id];
    if (!s) throw new Error(`no poll statistics for ${id}`);
    return s;
  };

  async function run(
    registers: Record<string, unknown>[],
    cfg: Record<string, unknown> = {},
    devices?: Record<string, unknown>[],
  ) {
    const regs = registers.map((r) => registerSchema.parse(r));
    sim = await startSim({ registers: regs });
    const { points, sink } = capture();
    adapter = new ModbusAdapter(
      modbusAdapterSchema.parse({
        protocol: 'modbus',
        id: 'mb',
        host: '127.0.0.1',
        port: sim.port,
        interval: '50ms',
        timeout: '200ms',
        backoff: { min: '300ms', max: '600ms' },
        devices: devices ?? [{ id: 'dev', unit: 1, registers }],
        ...cfg,
      }),
    );
    await adapter.start({ sink, logger: silentLogger, now: Date.now });
    return points;
  }
  const readings = (points: Point[], id = 'dev') =>
    points.filter((p) => p.deviceId === id && !p.connectivity);

  it('reads every data type in every byte order, with scale, offset, bits and error codes', async () => {
    const values: Record<string, number | boolean | string> = {
      bool: true,
      int16: -1234,
      uint16: 54321,
      int32: -123456789,
      uint32: 3_000_000_000,
      float32: -12.5,
      float64: 12345.678,
      string: 'PM5560',
    };
    const registers: Record<string, unknown>[] = [];
    let address = 0;
    for (const type of DATA_TYPES) {
      for (const order of ORDERS) {
        const width =
          type === 'string'
            ? 4
            : type === 'float64'
              ? 4
              : ['int32', 'uint32', 'float32'].includes(type)
                ? 2
                : 1;
        registers.push({
          name: `${type}_${order}`,
          address,
          type,
          order,
          ...(type === 'string' ? { length: 4 } : {}),
          ...(type === 'bool' ? { bit: 5 } : {}),
        });
        address += width + 1;
      }
    }
    registers.push({ name: 'scaled', address: 200, type: 'int16', scale: 0.1, offset: -40, unit: '°C' });
    registers.push({
      name: 'alarms',
      address: 201,
      type: 'uint16',
      errorCodes: { '0x0001': 'E-OVERTEMP', '0x0004': 'E-PHASE' },
    });
    registers.push({ name: 'running', table: 'coil', address: 7, type: 'bool' });
    registers.push({ name: 'door', table: 'discrete', address: 3, type: 'bool' });
    registers.push({ name: 'flow', table: 'input', address: 10, type: 'float32', order: 'DCBA' });
    const points = await run(registers);
    for (const r of registers.slice(0, 32)) {
      const type = String(r.name).split('_')[0] as string;
      (sim as ModbusSimulator).setValue(String(r.name), values[type]);
    }
    sim?.setValue('scaled', 23.4); // raw (23.4 + 40) / 0.1 = 634
    sim?.setValue('alarms', 5);
    sim?.setValue('running', true);
    sim?.setValue('door', false);
    sim?.setValue('flow', 42.25);
    await new Promise((r) => setTimeout(r, 120));
    const mark = points.length;
    const p = await waitFor(async () => readings(points.slice(mark))[0], 5_000, 'a reading');
    for (const r of registers.slice(0, 32)) {
      const type = String(r.name).split('_')[0] as string;
      const got = p.fields[String(r.name)];
      if (type === 'float32') expect(got, String(r.name)).toBeCloseTo(values[type] as number, 5);
      else expect(got, String(r.name)).toBe(values[type]);
    }
    expect(p.fields.scaled).toBeCloseTo(23.4, 5);
    expect(p.fields).toMatchObject({ alarms: 5, running: true, door: false, flow: 42.25 });
    expect(p.errorCodes).toEqual(['E-OVERTEMP', 'E-PHASE']);
    expect(p.units).toEqual({ scaled: '°C' });
  });

  it('coalesces adjacent registers into few requests', async () => {
    await run([
      { name: 'a', address: 0, type: 'float32' },
      { name: 'b', address: 2 },
      { name: 'c', address: 8 },
      { name: 'd', address: 100 },
      { name: 'e', table: 'input', address: 0 },
    ]);
    await waitFor(async () => (stats('dev').ok >= 3 ? true : undefined), 5_000, 'polls');
    expect(stats('dev').requestsPerPoll).toBe(3); // holding 0..8, holding 100, input 0
  });

  it('an exception answer is counted and the device stays online with the rest of its values', async () => {
    const points = await run([
      { name: 'a', address: 0 },
      { name: 'b', table: 'input', address: 0 },
    ]);
    await waitFor(async () => (readings(points).length > 0 ? true : undefined), 5_000, 'reading');
    sim?.setFault({ kind: 'exception', code: 2 });
    await waitFor(async () => (stats('dev').exceptions >= 2 ? true : undefined), 5_000, 'exceptions');
    expect(stats('dev').lastError).toContain('Illegal data address');
    sim?.setFault({ kind: 'none' });
  });

  it('no answer: timeouts, then offline (a connectivity reading) with backoff, then back online', async () => {
    const points = await run([{ name: 'a', address: 0 }]);
    await waitFor(async () => (readings(points).length > 0 ? true : undefined), 5_000, 'reading');
    sim?.setFault({ kind: 'noAnswer' });
    const off = await waitFor(
      async () => points.find((p) => p.connectivity?.state === 'offline'),
      10_000,
      'offline',
    );
    expect(off.connectivity?.reason).toMatch(/^Modbus: no answer within 200 ms \(3 polls\)$/);
    expect(stats('dev')).toMatchObject({ state: 'offline' });
    expect(stats('dev').timeouts).toBeGreaterThanOrEqual(6); // 3 polls × (1 + 1 retry)
    const polls = stats('dev').polls;
    await new Promise((r) => setTimeout(r, 500));
    expect(stats('dev').polls - polls).toBeLessThanOrEqual(2); // backoff, not the 50 ms interval
    sim?.setFault({ kind: 'none' });
    await waitFor(async () => (stats('dev').state === 'online' ? true : undefined), 5_000, 'online again');
  });

  it.each([
    ['slow but within the timeout', { kind: 'slow', delayMs: 60 }, 'ok'],
    ['slower than the timeout', { kind: 'slow', delayMs: 400 }, 'timeouts'],
    ['truncated frames', { kind: 'truncated' }, 'timeouts'],
    ['garbage frames (wrong byte count)', { kind: 'garbage' }, 'malformed'],
  ] as const)('%s: counted, and the device recovers when the fault ends', async (_what, fault, counter) => {
    const points = await run([
      { name: 'a', address: 0 },
      { name: 'b', address: 1 },
    ]);
    await waitFor(async () => (readings(points).length > 0 ? true : undefined), 5_000, 'reading');
    const before = stats('dev')[counter as keyof PollStats] as number;
    sim?.setFault(fault);
    await waitFor(
      async () => ((stats('dev')[counter as keyof PollStats] as number) > before + 1 ? true : undefined),
      10_000,
      counter,
    );
    sim?.setFault({ kind: 'none' });
    const mark = readings(points).length;
    await waitFor(async () => (readings(points).length > mark + 2 ? true : undefined), 10_000, 'recovered');
    if (counter !== 'ok') {
      const details = adapter?.status().details as { reconnects?: number } | undefined;
      const reconnects = details?.reconnects ?? 0;
      expect(reconnects).toBeGreaterThanOrEqual(1);
    }
  });

  it('a slow unit on the same connection does not change the poll rate of the healthy one', async () => {
    const regs = [{ name: 'a', address: 0 }];
    const points = await run(regs, { interval: '100ms' }, [
      { id: 'healthy', unit: 1, registers: regs },
      { id: 'slow', unit: 2, registers: regs },
    ]);
    const count = () => readings(points, 'healthy').length;
    await waitFor(async () => (count() > 3 ? true : undefined), 5_000, 'polling');
    const c0 = count();
    await new Promise((r) => setTimeout(r, 2_000));
    const reference = count() - c0;
    sim?.setFault({ kind: 'slow', delayMs: 40 }, 2); // answers, 40 ms late, every 100 ms
    const c1 = count();
    await new Promise((r) => setTimeout(r, 2_000));
    const withSlow = count() - c1;
    process.stdout.write(
      `healthy polls per 2 s: ${withSlow} with a slow unit on the connection, ${reference} without\n`,
    );
    expect(stats('slow').state).toBe('online');
    expect(reference).toBeGreaterThanOrEqual(16);
    expect(withSlow).toBeGreaterThanOrEqual(reference * 0.8);
  });

  it('an exception on a multi-register request keeps its code', async () => {
    await run([{ name: 'f', address: 0, type: 'float32' }]);
    await waitFor(async () => (stats('dev').ok > 0 ? true : undefined), 5_000, 'polls');
    sim?.setFault({ kind: 'exception', code: 6 });
    await waitFor(async () => (stats('dev').exceptions > 0 ? true : undefined), 5_000, 'exception');
    expect(stats('dev').lastError).toContain('Modbus exception 6');
  });

  it('a dead unit on the same connection does not change the poll rate of the healthy one', async () => {
    const regs = [{ name: 'a', address: 0 }];
    const points = await run(regs, { interval: '100ms' }, [
      { id: 'healthy', unit: 1, registers: regs },
      { id: 'dead', unit: 2, registers: regs },
    ]);
    sim?.setFault({ kind: 'noAnswer' }, 2);
    await waitFor(
      async () => (stats('dead').state === 'offline' ? true : undefined),
      10_000,
      'dead unit offline',
    );
    const count = () => readings(points, 'healthy').length;
    // Steady state with the dead unit offline: 2 s window.
    const c0 = count();
    await new Promise((r) => setTimeout(r, 2_000));
    const withDead = count() - c0;
    // Reference: the same window with the dead unit answering again.
    sim?.setFault({ kind: 'none' }, 2);
    await waitFor(
      async () => (stats('dead').state === 'online' ? true : undefined),
      10_000,
      'dead unit back',
    );
    const c1 = count();
    await new Promise((r) => setTimeout(r, 2_000));
    const withoutDead = count() - c1;
    process.stdout.write(
      `healthy polls per 2 s: ${withDead} with a dead unit on the connection, ${withoutDead} without\n`,
    );
    // 100 ms interval → about 20 polls per window; the dead unit may cost one 200 ms timeout per backoff.
    expect(withoutDead).toBeGreaterThanOrEqual(16);
    expect(withDead).toBeGreaterThanOrEqual(withoutDead * 0.8);
  });
});
