import { type Register, type Table, widthOf } from './registers.js';

/** One read request and the register entries it serves. */
export interface ReadRequest {
  table: Table;
  address: number;
  count: number;
  items: { register: Register; offset: number; width: number }[];
}

export interface PlanOptions {
  /** Most registers in one request (the protocol allows 125; some devices less). */
  maxRegisters: number;
  /** Most coils or discrete inputs in one request (the protocol allows 2000). */
  maxBits: number;
  /** Unused addresses a request may span to join two values (reading them is cheaper than a second request). */
  maxGap: number;
}

/**
 * Coalesces a register map into as few read requests as the limits allow: per table, in address
 * order, joining values whose gap is at most `maxGap` while the request stays within its size limit.
 */
export function planReads(registers: readonly Register[], o: PlanOptions): ReadRequest[] {
  const out: ReadRequest[] = [];
  const byTable = new Map<Table, Register[]>();
  for (const r of registers) byTable.set(r.table, [...(byTable.get(r.table) ?? []), r]);
  for (const [table, regs] of byTable) {
    const limit = table === 'coil' || table === 'discrete' ? o.maxBits : o.maxRegisters;
    const sorted = [...regs].sort((a, b) => a.address - b.address);
    let cur: ReadRequest | undefined;
    for (const r of sorted) {
      const width = widthOf(r.type, r.length);
      const end = r.address + width; // exclusive
      if (cur) {
        const curEnd = cur.address + cur.count;
        const gap = r.address - curEnd;
        const newCount = Math.max(curEnd, end) - cur.address;
        if (gap <= o.maxGap && newCount <= limit) {
          cur.count = newCount;
          cur.items.push({ register: r, offset: r.address - cur.address, width });
          continue;
        }
      }
      if (width > limit)
        throw new Error(`${r.name}: ${width} registers exceed the request limit of ${limit}`);
      cur = { table, address: r.address, count: width, items: [{ register: r, offset: 0, width }] };
      out.push(cur);
    }
  }
  return out;
}
