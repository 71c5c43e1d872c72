import { describe, expect, it } from 'vitest';
import { silentLogger } from '../test/helpers.js';
import { DeviceOwnership } from './ownership.js';
import type { OwnershipStore } from './store.js';

/**
 * An ownership store in memory (the seam rules/ownership.ts is written against; the PostgreSQL one
 * passes test/contracts/ownership-store.ts): instances are live until `dead` says otherwise.
 */
function memoryStore() {
  const owners = new Map<string, string>();
  const dead = new Set<string>();
  let failing = false;
  const check = () => {
    if (failing) throw new Error('database unreachable');
  };
  const store: OwnershipStore = {
    heartbeat: async (instance) => {
      check();
      dead.delete(instance);
      return ['a', 'b'].filter((i) => !dead.has(i));
    },
    claim: async (instance, ids) => {
      check();
      for (const id of ids) {
        const o = owners.get(id);
        if (o === undefined || dead.has(o)) owners.set(id, instance);
      }
      return { owners: new Map(ids.map((id) => [id, owners.get(id) as string])), asked: new Set() };
    },
    claimOrphans: async () => [],
    asked: async () => [],
    handOver: async () => undefined,
    release: async (instance) => {
      for (const [d, o] of owners) if (o === instance) owners.delete(d);
    },
  };
  return { store, owners, dead, fail: (on: boolean) => (failing = on) };
}

function instance(store: OwnershipStore, id: string, now: () => number) {
  const log: string[] = [];
  const o = new DeviceOwnership({
    store,
    instance: id,
    ttlMs: 10_000,
    renewMs: 3_300,
    stepDownMs: 8_000,
    logger: silentLogger,
    now,
    gained: async (ids) => void log.push(`gained ${ids.join(',')}`),
    lost: async (ids, save) => void log.push(`lost ${ids.join(',')} saved=${save}`),
  });
  return { o, log };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('DeviceOwnership', () => {
  it('evaluates a device once claimed, its first readings in order after its state is loaded; skips another’s', async () => {
    const mem = memoryStore();
    let t = 0;
    const a = instance(mem.store, 'a', () => t);
    const b = instance(mem.store, 'b', () => t);
    await a.o.start();
    await b.o.start();
    const ran: string[] = [];
    for (const n of [1, 2, 3]) a.o.route('press-1', () => ran.push(`a${n}`));
    b.o.route('press-1', () => ran.push('b1'));
    await turn();
    await turn();
    expect(ran).toEqual(['a1', 'a2', 'a3']);
    expect(a.log).toEqual(['gained press-1']);
    expect(b.log).toEqual([]);
    a.o.route('press-1', () => ran.push('a4')); // owned: at once
    expect(ran.at(-1)).toBe('a4');
    expect(a.o.owns('press-1')).toBe(true);
    expect(b.o.owns('press-1')).toBe(false);
    // a dies: b notices at its heartbeat and evaluates what arrived since, then goes on.
    b.o.route('press-1', () => ran.push('b2'));
    mem.dead.add('a');
    t += 3_300;
    await (b.o as unknown as { beat(): Promise<void> }).beat();
    expect(ran.slice(-2)).toEqual(['b1', 'b2']);
    expect(b.log).toEqual(['gained press-1']);
    b.o.route('press-1', () => ran.push('b3'));
    expect(ran.at(-1)).toBe('b3');
    await a.o.stop();
    await b.o.stop();
    expect(b.log.at(-1)).toBe('lost press-1 saved=true');
  });

  it('without a heartbeat past the bound it stops evaluating (state not saved) and claims again once back', async () => {
    const mem = memoryStore();
    let t = 0;
    const a = instance(mem.store, 'a', () => t);
    await a.o.start();
    const ran: number[] = [];
    a.o.route('press-1', () => ran.push(1));
    await turn();
    await turn();
    expect(ran).toEqual([1]);
    mem.fail(true);
    t += 8_001; // heartbeats failed meanwhile
    a.o.route('press-1', () => ran.push(2));
    expect(ran).toEqual([1]);
    expect(a.o.owns('press-1')).toBe(false);
    await turn();
    expect(a.log).toEqual(['gained press-1', 'lost press-1 saved=false']);
    mem.fail(false);
    await (a.o as unknown as { beat(): Promise<void> }).beat();
    a.o.route('press-1', () => ran.push(3));
    await turn();
    await turn();
    expect(ran).toEqual([1, 3]);
    expect(a.log.at(-1)).toBe('gained press-1');
    await a.o.stop();
  });
});
