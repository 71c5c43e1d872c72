import { describe, expect, it } from 'vitest';
import { planReads } from './plan.js';
import {
  DATA_TYPES,
  decodeValue,
  encodeValue,
  errorCodesOf,
  ORDERS,
  type Register,
  registerSchema,
} from './registers.js';

const reg = (o: Record<string, unknown>): Register => registerSchema.parse({ name: 'x', address: 0, ...o });

describe('Modbus data types and byte orders', () => {
  it('float32 1234.5 in each order, as devices send it', () => {
    // 1234.5 = 0x449A5000: bytes A=44 B=9A C=50 D=00
    const wire: Record<string, number[]> = {
      ABCD: [0x449a, 0x5000],
      CDAB: [0x5000, 0x449a],
      BADC: [0x9a44, 0x0050],
      DCBA: [0x0050, 0x9a44],
    };
    for (const order of ORDERS) {
      expect(decodeValue(reg({ type: 'float32', order }), wire[order] as number[])).toBe(1234.5);
    }
  });

  it('int32 and uint32 with word swap', () => {
    expect(decodeValue(reg({ type: 'int32', order: 'CDAB' }), [0xfffe, 0xffff])).toBe(-2);
    expect(decodeValue(reg({ type: 'uint32', order: 'ABCD' }), [0x0001, 0x0000])).toBe(65536);
    expect(decodeValue(reg({ type: 'int16' }), [0xff85])).toBe(-123);
    expect(decodeValue(reg({ type: 'uint16' }), [0xff85])).toBe(65413);
  });

  it('every type and order round-trips through the simulator encoding', () => {
    const values: Record<string, number | boolean | string> = {
      bool: true,
      int16: -1234,
      uint16: 54321,
      int32: -123456789,
      uint32: 3_000_000_000,
      float32: -12.5,
      float64: 1e-9 + 12345.678,
      string: 'PM5560-X1',
    };
    for (const type of DATA_TYPES) {
      for (const order of ORDERS) {
        const r = reg({
          type,
          order,
          ...(type === 'string' ? { length: 6 } : {}),
          ...(type === 'bool' ? { bit: 3 } : {}),
        });
        expect(decodeValue(r, encodeValue(r, values[type] as never)), `${type} ${order}`).toBe(values[type]);
      }
    }
  });

  it('strings: two characters per register, trailing NULs and spaces trimmed', () => {
    expect(decodeValue(reg({ type: 'string', length: 3 }), [0x4142, 0x4344, 0x0000])).toBe('ABCD');
    expect(decodeValue(reg({ type: 'string', length: 2, order: 'BADC' }), [0x4241, 0x4420])).toBe('AB D');
  });

  it('bits of a status word as booleans and as error codes', () => {
    expect(decodeValue(reg({ type: 'bool', bit: 2 }), [0b0100])).toBe(true);
    expect(decodeValue(reg({ type: 'bool', bit: 1 }), [0b0100])).toBe(false);
    const alarms = reg({
      type: 'uint16',
      errorCodes: { '0x0001': 'E-OVERTEMP', '4': 'E-PHASE', '0x0006': 'E-BOTH' },
    });
    expect(errorCodesOf(alarms, 0b0101)).toEqual(['E-OVERTEMP', 'E-PHASE']);
    expect(errorCodesOf(alarms, 0b0110)).toEqual(['E-PHASE', 'E-BOTH']);
    expect(errorCodesOf(alarms, 0)).toEqual([]);
  });

  it('rejects maps that cannot be read', () => {
    const issues = (o: Record<string, unknown>) =>
      registerSchema.safeParse({ name: 'x', address: 0, ...o }).error?.issues.map((i) => i.message);
    expect(issues({ table: 'coil', type: 'float32' })).toEqual(['a coil is a single bit: its type is bool']);
    expect(issues({ type: 'string' })).toEqual(['a string needs length (registers)']);
    expect(issues({ type: 'float32', errorCodes: { '1': 'E' } })).toEqual([
      'error-code bit masks need an integer type',
    ]);
    expect(issues({ type: 'float64', address: 65534 })).toEqual(['the value runs past address 65535']);
    expect(issues({ address: 70000 })?.[0]).toBe('expected at most 65535, got 70000');
  });
});

describe('request coalescing', () => {
  const opts = { maxRegisters: 125, maxBits: 2000, maxGap: 4 };
  it('joins neighbours within the gap, splits past it, per table', () => {
    const plan = planReads(
      [
        reg({ name: 'a', address: 10, type: 'float32' }),
        reg({ name: 'b', address: 12 }),
        reg({ name: 'c', address: 17 }), // gap 4 after b (13..16): joined
        reg({ name: 'd', address: 30 }), // gap 12: new request
        reg({ name: 'e', table: 'input', address: 10 }),
        reg({ name: 'f', table: 'coil', address: 0, type: 'bool' }),
        reg({ name: 'g', table: 'coil', address: 5, type: 'bool' }),
      ],
      opts,
    );
    expect(
      plan.map((p) => [p.table, p.address, p.count, p.items.map((i) => `${i.register.name}@${i.offset}`)]),
    ).toEqual([
      ['holding', 10, 8, ['a@0', 'b@2', 'c@7']],
      ['holding', 30, 1, ['d@0']],
      ['input', 10, 1, ['e@0']],
      ['coil', 0, 6, ['f@0', 'g@5']],
    ]);
  });

  it('never exceeds the request size', () => {
    const many = Array.from({ length: 200 }, (_, i) => reg({ name: `r${i}`, address: i }));
    const plan = planReads(many, opts);
    expect(plan.map((p) => [p.address, p.count])).toEqual([
      [0, 125],
      [125, 75],
    ]);
    expect(planReads(many, { ...opts, maxRegisters: 60 }).map((p) => p.count)).toEqual([60, 60, 60, 20]);
  });
});
