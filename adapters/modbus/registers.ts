import { z } from 'zod';
import '../../lib/zod-messages.js';

export const TABLES = ['coil', 'discrete', 'holding', 'input'] as const;
export type Table = (typeof TABLES)[number];
export const DATA_TYPES = [
  'bool',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'float64',
  'string',
] as const;
export type DataType = (typeof DATA_TYPES)[number];
/** Byte order of multi-register values: A is the most significant byte (Modbus sends each register big-endian). */
export const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type Order = (typeof ORDERS)[number];

/** Registers a value of this type spans (for `string`, its `length`). */
export function widthOf(type: DataType, length = 1): number {
  switch (type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'float64':
      return 4;
    case 'string':
      return length;
  }
}

const codeKey = z.string().regex(/^(0x[0-9a-fA-F]+|\d+)$/, 'a bit mask such as 0x0004 or 4');

/** One value in a device's register map. */
export const registerSchema = z
  .object({
    /** The metric it becomes. */
    name: z.string().min(1),
    table: z.enum(TABLES).default('holding'),
    /** 0-based protocol address (register 40001 in "Modicon" numbering is holding address 0). */
    address: z.number().int().min(0).max(65535),
    type: z.enum(DATA_TYPES).default('uint16'),
    /** Byte and word order of 32- and 64-bit values and strings. */
    order: z.enum(ORDERS).default('ABCD'),
    /** `string`: how many registers (2 characters each). */
    length: z.number().int().min(1).max(125).optional(),
    /** `bool` from a holding or input register: which bit (0 = least significant). */
    bit: z.number().int().min(0).max(15).optional(),
    /** value × scale + offset */
    scale: z.number().default(1),
    offset: z.number().default(0),
    unit: z.string().optional(),
    /** Bits of an integer register that mean an error code: `{ "0x0004": E-OVERTEMP }`. */
    errorCodes: z.record(codeKey, z.string().min(1)).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const bitTable = r.table === 'coil' || r.table === 'discrete';
    if (bitTable && r.type !== 'bool') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `a ${r.table} is a single bit: its type is bool`,
      });
    }
    if (r.type === 'string' && r.length === undefined)
      ctx.addIssue({ code: 'custom', path: ['length'], message: 'a string needs length (registers)' });
    if (r.errorCodes && !['int16', 'uint16', 'int32', 'uint32'].includes(r.type)) {
      ctx.addIssue({
        code: 'custom',
        path: ['errorCodes'],
        message: 'error-code bit masks need an integer type',
      });
    }
    if (r.address + widthOf(r.type, r.length) - 1 > 65535) {
      ctx.addIssue({ code: 'custom', path: ['address'], message: `the value runs past address 65535` });
    }
  });

export type Register = z.output<typeof registerSchema>;

/** The bytes of a multi-register value in significance order (A first), from the registers as read. */
function bytesOf(words: readonly number[], order: Order): Buffer {
  const seq = order === 'CDAB' || order === 'DCBA' ? [...words].reverse() : words;
  const swap = order === 'BADC' || order === 'DCBA';
  const out = Buffer.alloc(seq.length * 2);
  seq.forEach((w, i) => {
    const hi = (w >> 8) & 0xff;
    const lo = w & 0xff;
    out[i * 2] = swap ? lo : hi;
    out[i * 2 + 1] = swap ? hi : lo;
  });
  return out;
}

/** The inverse of bytesOf: registers to write for a value's bytes (used by the simulator). */
export function wordsOf(bytes: Buffer, order: Order): number[] {
  const swap = order === 'BADC' || order === 'DCBA';
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1] ?? 0;
    words.push(swap ? (b << 8) | a : (a << 8) | b);
  }
  return order === 'CDAB' || order === 'DCBA' ? words.reverse() : words;
}

/** Raw value of a register entry from the words (or bits) read for it. */
export function decodeValue(
  r: Register,
  words: readonly number[],
  bits?: readonly boolean[],
): number | boolean | string {
  if (r.table === 'coil' || r.table === 'discrete') return bits?.[0] ?? false;
  if (r.type === 'bool') return (((words[0] ?? 0) >> (r.bit ?? 0)) & 1) === 1;
  if (r.type === 'string') {
    return bytesOf(words, r.order === 'BADC' || r.order === 'DCBA' ? 'BADC' : 'ABCD')
      .toString('latin1')
      .replace(/[\0 ]+$/, '');
  }
  const b = bytesOf(words, r.order);
  switch (r.type) {
    case 'int16':
      return b.readInt16BE(0);
    case 'uint16':
      return b.readUInt16BE(0);
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'float32':
      return b.readFloatBE(0);
    case 'float64':
      return b.readDoubleBE(0);
  }
}

/** Bytes (significance order) of a value, for the simulator to serve. */
export function encodeValue(r: Register, value: number | boolean | string): number[] {
  if (r.type === 'bool') return [value ? 1 << (r.bit ?? 0) : 0];
  const b = Buffer.alloc(widthOf(r.type, r.length) * 2);
  switch (r.type) {
    case 'int16':
      b.writeInt16BE(Math.round(Number(value)));
      break;
    case 'uint16':
      b.writeUInt16BE(Math.round(Number(value)) & 0xffff);
      break;
    case 'int32':
      b.writeInt32BE(Math.round(Number(value)));
      break;
    case 'uint32':
      b.writeUInt32BE(Math.round(Number(value)) >>> 0);
      break;
    case 'float32':
      b.writeFloatBE(Number(value));
      break;
    case 'float64':
      b.writeDoubleBE(Number(value));
      break;
    case 'string':
      b.write(String(value).slice(0, b.length), 'latin1');
      return wordsOf(b, r.order === 'BADC' || r.order === 'DCBA' ? 'BADC' : 'ABCD');
  }
  return wordsOf(b, r.order);
}

/** Error codes whose bit masks are set in an integer value. */
export function errorCodesOf(r: Register, raw: number): string[] {
  if (!r.errorCodes) return [];
  const out: string[] = [];
  // In mask order (an object lists integer-like keys first, whatever the file says).
  const entries = Object.entries(r.errorCodes).map(([mask, code]) => [Number(mask), code] as const);
  for (const [m, code] of entries.sort((a, b) => a[0] - b[0])) {
    if ((raw & m) === m) out.push(code);
  }
  return out;
}
