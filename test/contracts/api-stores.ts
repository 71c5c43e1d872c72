import { describe, expect, it } from 'vitest';
import type { ApiKey } from '../../api/auth.js';
import type { ApiKeyStore } from '../../api/store.js';
import { eachFresh, type MakeStore } from './index.js';

const record = (id: string, o: Partial<ApiKey> = {}): ApiKey => ({
  keyId: id,
  name: `key ${id}`,
  role: 'technician',
  sites: ['north', 'south'],
  technician: 'tech-anna',
  customer: null,
  createdAt: 1_000,
  createdBy: 'admin',
  expiresAt: null,
  lastUsedAt: null,
  revokedAt: null,
  ...o,
});

/** ApiKeyStore: records with their hashes, found by hash; revocation, use and expiry. */
export function apiKeyStoreContract(name: string, make: MakeStore<ApiKeyStore>) {
  describe(`ApiKeyStore contract: ${name}`, () => {
    let store!: ApiKeyStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('stores a record and finds it by id and by hash, as stored', async () => {
      const a = record('K-a');
      const b = record('K-b', {
        role: 'admin',
        sites: null,
        technician: null,
        customer: 'acme',
        expiresAt: 9_000,
      });
      await store.insert(a, 'hash-a');
      await store.insert(b, 'hash-b');
      expect(await store.get('K-a')).toEqual(a);
      expect(await store.byHash('hash-b')).toEqual(b);
      expect(await store.hashOf('K-a')).toBe('hash-a');
      expect(await store.byHash('hash-x')).toBeUndefined();
      expect(await store.get('K-x')).toBeUndefined();
      expect(await store.hashOf('K-x')).toBeUndefined();
    });

    it('refuses a second key with the same id or the same hash, keeping the first', async () => {
      await store.insert(record('K-a'), 'hash-a');
      await expect(store.insert(record('K-a', { name: 'other' }), 'hash-z')).rejects.toMatchObject({
        code: 'FL_ERR_INTERNAL',
      });
      await expect(store.insert(record('K-b'), 'hash-a')).rejects.toMatchObject({ code: 'FL_ERR_INTERNAL' });
      expect((await store.list()).map((k) => [k.keyId, k.name])).toEqual([['K-a', 'key K-a']]);
    });

    it('replace() puts a new record and hash under the same id; the old hash finds nothing', async () => {
      await store.insert(record('K-env', { role: 'admin', sites: null }), 'old');
      await store.replace(record('K-env', { role: 'admin', sites: null, createdAt: 5_000 }), 'new');
      expect(await store.byHash('old')).toBeUndefined();
      expect(await store.byHash('new')).toMatchObject({ keyId: 'K-env', createdAt: 5_000 });
      await store.replace(record('K-fresh'), 'fresh');
      expect((await store.list()).map((k) => k.keyId)).toEqual(['K-fresh', 'K-env']); // by making time
    });

    it('list() is oldest first, then by id; revoke() keeps the first time; touch() records use', async () => {
      await store.insert(record('K-c', { createdAt: 3 }), 'c');
      await store.insert(record('K-b', { createdAt: 1 }), 'b');
      await store.insert(record('K-a', { createdAt: 3 }), 'a');
      expect((await store.list()).map((k) => k.keyId)).toEqual(['K-b', 'K-a', 'K-c']);
      expect(await store.revoke('K-a', 10)).toMatchObject({ revokedAt: 10 });
      expect(await store.revoke('K-a', 20)).toMatchObject({ revokedAt: 10 });
      expect(await store.revoke('K-x', 20)).toBeUndefined();
      await store.touch('K-b', 42);
      expect(await store.get('K-b')).toMatchObject({ lastUsedAt: 42 });
    });

    it('activeCount(at) counts keys neither revoked nor expired at `at`', async () => {
      await store.insert(record('K-1'), '1');
      await store.insert(record('K-2', { expiresAt: 100 }), '2');
      await store.insert(record('K-3'), '3');
      await store.revoke('K-3', 50);
      expect(await store.activeCount(99)).toBe(2);
      expect(await store.activeCount(100)).toBe(1);
    });
  });
}
