import { describe, expect, it } from 'vitest';
import type { SessionRecord, SessionStore } from '../../api/store.js';
import { eachFresh, type MakeStore } from './index.js';

const session = (userId: string, o: Partial<SessionRecord> = {}): SessionRecord => ({
  userId,
  createdAt: 1_000,
  lastSeenAt: 1_000,
  data: '{"_csrf":"s"}',
  ...o,
});

/** SessionStore (issue 21): console sessions by id hash, ended per user, purged by age; the cookie secret. */
export function sessionStoreContract(name: string, make: MakeStore<SessionStore>) {
  describe(`SessionStore contract: ${name}`, () => {
    let store!: SessionStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('keeps the first secret it was given, whatever later callers offer', async () => {
      expect(await store.secret('first-secret')).toBe('first-secret');
      expect(await store.secret('second-secret')).toBe('first-secret');
      const raced = await Promise.all(['a', 'b', 'c'].map((s) => store.secret(s)));
      expect(new Set(raced)).toEqual(new Set(['first-secret']));
    });

    it('stores, replaces and removes a session by its hash', async () => {
      expect(await store.get('h1')).toBeUndefined();
      await store.put('h1', session('U-a'));
      expect(await store.get('h1')).toEqual(session('U-a'));
      await store.put('h1', session('U-a', { data: '{"_csrf":"t"}', lastSeenAt: 2_000 }));
      expect(await store.get('h1')).toEqual(session('U-a', { data: '{"_csrf":"t"}', lastSeenAt: 2_000 }));
      await store.remove('h1');
      expect(await store.get('h1')).toBeUndefined();
      await store.remove('h1');
    });

    it('records activity forward only', async () => {
      await store.put('h1', session('U-a', { lastSeenAt: 5_000 }));
      await store.touch('h1', 4_000);
      expect((await store.get('h1'))?.lastSeenAt).toBe(5_000);
      await store.touch('h1', 1_796_723_223_594);
      expect((await store.get('h1'))?.lastSeenAt).toBe(1_796_723_223_594);
      await store.touch('unknown', 9_000);
      expect(await store.get('unknown')).toBeUndefined();
    });

    it("ends a user's sessions, but the one kept and other users'", async () => {
      await store.put('a1', session('U-a'));
      await store.put('a2', session('U-a'));
      await store.put('a3', session('U-a'));
      await store.put('b1', session('U-b'));
      expect(await store.removeForUser('U-a', 'a2')).toBe(2);
      expect(await store.get('a1')).toBeUndefined();
      expect(await store.get('a2')).toBeDefined();
      expect(await store.get('b1')).toBeDefined();
      expect(await store.removeForUser('U-a')).toBe(1);
      expect(await store.get('a2')).toBeUndefined();
      expect(await store.removeForUser('U-nobody')).toBe(0);
    });

    it('purges sessions idle too long or made too long ago', async () => {
      await store.put('fresh', session('U-a', { createdAt: 9_000, lastSeenAt: 9_500 }));
      await store.put('idle', session('U-a', { createdAt: 9_000, lastSeenAt: 9_000 }));
      await store.put('old', session('U-b', { createdAt: 1_000, lastSeenAt: 9_900 }));
      expect(await store.purge(9_100, 5_000)).toBe(2);
      expect(await store.get('fresh')).toBeDefined();
      expect(await store.get('idle')).toBeUndefined();
      expect(await store.get('old')).toBeUndefined();
    });
  });
}
