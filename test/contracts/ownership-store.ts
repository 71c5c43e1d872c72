import { describe, expect, it } from 'vitest';
import type { OwnershipStore } from '../../rules/store.js';
import { eachFresh, type MakeStore } from './index.js';

const TTL = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * OwnershipStore: which instance evaluates each device (issue 20). One owner per device whatever
 * the race; a device passes to another instance only when its owner is not live; an instance that
 * is not live itself claims nothing.
 */
export function ownershipStoreContract(name: string, make: MakeStore<OwnershipStore>) {
  describe(`OwnershipStore contract: ${name}`, () => {
    let store!: OwnershipStore;
    eachFresh(make, (s) => {
      store = s;
    });
    const owners = async (instance: string, devices: readonly string[]) =>
      (await store.claim(instance, devices)).owners;

    it('a heartbeat makes an instance live and tells which instances are', async () => {
      expect(await store.heartbeat('a', TTL)).toEqual(['a']);
      expect(await store.heartbeat('b', TTL)).toEqual(['a', 'b']);
      expect(await store.heartbeat('a', TTL)).toEqual(['a', 'b']);
      await store.release('b');
      expect(await store.heartbeat('a', TTL)).toEqual(['a']);
    });

    it('the first live claimant owns a device; the others are told who does', async () => {
      await store.heartbeat('a', TTL);
      await store.heartbeat('b', TTL);
      expect(await owners('a', ['d1', 'd2', 'd1'])).toEqual(
        new Map([
          ['d1', 'a'],
          ['d2', 'a'],
        ]),
      );
      expect(await owners('b', ['d2', 'd3'])).toEqual(
        new Map([
          ['d2', 'a'],
          ['d3', 'b'],
        ]),
      );
      expect(await owners('a', ['d1'])).toEqual(new Map([['d1', 'a']])); // its own again
      expect(await owners('x', ['d4'])).toEqual(new Map()); // never live: claims nothing
      expect(await owners('a', [])).toEqual(new Map());
      expect(await store.claimOrphans('b', 10)).toEqual([]); // a is live
    });

    it('a device passes on only when its owner is no longer live: by a claim, or the sweep', async () => {
      await store.heartbeat('a', 300);
      await store.heartbeat('b', TTL);
      await owners('a', ['d1', 'd2', 'd3']);
      expect((await owners('b', ['d1'])).get('d1')).toBe('a');
      await sleep(400); // a's heartbeat expires
      expect(await store.heartbeat('b', TTL)).toEqual(['b']);
      expect((await owners('b', ['d1'])).get('d1')).toBe('b');
      expect(await store.claimOrphans('b', 1)).toEqual(['d2']);
      expect(await store.claimOrphans('b', 10)).toEqual(['d3']);
      expect(await store.claimOrphans('b', 10)).toEqual([]);
      expect(await owners('b', ['d1', 'd2', 'd3'])).toEqual(
        new Map([
          ['d1', 'b'],
          ['d2', 'b'],
          ['d3', 'b'],
        ]),
      );
      // a, back, finds them taken.
      await store.heartbeat('a', TTL);
      expect((await owners('a', ['d2'])).get('d2')).toBe('b');
    });

    it('concurrent claims of the same devices: exactly one owner each, and every answer agrees', async () => {
      await store.heartbeat('a', TTL);
      await store.heartbeat('b', TTL);
      const devices = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          owners(i % 2 ? 'a' : 'b', i % 3 ? devices : [...devices].reverse()),
        ),
      );
      const final = await owners('a', devices);
      for (const answer of answers) for (const [d, owner] of answer) expect(owner).toBe(final.get(d));
      expect(final.size).toBe(40);
    });

    it('an adopted device is asked for by an instance that receives it, and handed over by its adopter', async () => {
      await store.heartbeat('a', 300);
      await store.heartbeat('b', TTL);
      await owners('a', ['d1', 'd2']);
      await sleep(400); // a dies; b (the leader) adopts its devices
      await store.heartbeat('b', TTL);
      expect(await store.claimOrphans('b', 10)).toEqual(['d1', 'd2']);
      // c receives d1: it asks, b still owns it until it hands it over.
      await store.heartbeat('c', TTL);
      expect(await store.claim('c', ['d1'])).toEqual({
        owners: new Map([['d1', 'b']]),
        asked: new Set(['d1']),
      });
      expect(await store.asked('b')).toEqual(['d1']);
      expect(await store.asked('c')).toEqual([]);
      await store.handOver('b', ['d1']);
      expect(await store.asked('b')).toEqual([]);
      expect(await store.claim('c', ['d1'])).toEqual({ owners: new Map([['d1', 'c']]), asked: new Set() });
      // b receives d2 itself: no longer adopted, so nobody can ask for it.
      expect((await owners('b', ['d2'])).get('d2')).toBe('b');
      expect(await store.claim('c', ['d2'])).toEqual({ owners: new Map([['d2', 'b']]), asked: new Set() });
      // c (not adopted) keeps d1 against b.
      expect(await store.claim('b', ['d1'])).toEqual({ owners: new Map([['d1', 'c']]), asked: new Set() });
    });

    it('release gives up devices; without a list, all of them and the liveness', async () => {
      await store.heartbeat('a', TTL);
      await store.heartbeat('b', TTL);
      await owners('a', ['d1', 'd2', 'd3']);
      await store.release('a', ['d1']);
      expect((await owners('b', ['d1', 'd2'])).get('d1')).toBe('b');
      await store.release('a');
      expect(await store.heartbeat('b', TTL)).toEqual(['b']);
      expect(await owners('b', ['d2', 'd3'])).toEqual(
        new Map([
          ['d2', 'b'],
          ['d3', 'b'],
        ]),
      );
    });
  });
}
