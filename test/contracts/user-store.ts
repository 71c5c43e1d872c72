import { describe, expect, it } from 'vitest';
import type { UserStore } from '../../api/store.js';
import type { User } from '../../api/users.js';
import { isFaultlineError } from '../../lib/errors.js';
import { eachFresh, type MakeStore } from './index.js';

const user = (id: string, username: string, o: Partial<User> = {}): User => ({
  id,
  username,
  displayName: `User ${username}`,
  role: 'technician',
  sites: ['north'],
  technician: 'tech-anna',
  customer: null,
  createdAt: 1_000,
  createdBy: 'admin',
  passwordChangedAt: 1_000,
  lastSignInAt: null,
  disabledAt: null,
  ...o,
});

/** UserStore (issue 21): console users with their password hashes; unique names; sign-ins, disabling. */
export function userStoreContract(name: string, make: MakeStore<UserStore>) {
  describe(`UserStore contract: ${name}`, () => {
    let store!: UserStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('stores a user and finds it by id and by user name, with its hash', async () => {
      const a = user('U-a', 'anna');
      await store.insert(a, '$argon2id$hash-a');
      await store.insert(
        user('U-b', 'ben', { sites: null, role: 'customer', customer: 'acme', createdAt: 900 }),
        'h',
      );
      expect(await store.get('U-a')).toEqual(a);
      expect(await store.byUsername('anna')).toEqual({ user: a, passwordHash: '$argon2id$hash-a' });
      expect(await store.byUsername('Anna')).toBeUndefined();
      expect(await store.byUsername("anna' OR '1'='1")).toBeUndefined();
      expect(await store.get('U-zz')).toBeUndefined();
      expect((await store.list()).map((u) => u.username)).toEqual(['ben', 'anna']);
      expect((await store.get('U-b'))?.sites).toBeNull();
    });

    it('a taken user name or id is refused with FL_ERR_USER_EXISTS', async () => {
      await store.insert(user('U-a', 'anna'), 'h');
      for (const dup of [user('U-c', 'anna'), user('U-a', 'carl')]) {
        const err = await store.insert(dup, 'h').catch((e: unknown) => e);
        expect(isFaultlineError(err) && err.code).toBe('FL_ERR_USER_EXISTS');
      }
      expect(await store.list()).toHaveLength(1);
    });

    it('changes the password, records sign-ins, disables (first time kept) and enables', async () => {
      await store.insert(user('U-a', 'anna'), 'old');
      expect(await store.setPassword('U-a', 'new', 2_000)).toMatchObject({ passwordChangedAt: 2_000 });
      expect((await store.byUsername('anna'))?.passwordHash).toBe('new');
      await store.signedIn('U-a', 3_000);
      expect((await store.get('U-a'))?.lastSignInAt).toBe(3_000);
      expect(await store.setDisabled('U-a', 4_000)).toMatchObject({ disabledAt: 4_000 });
      expect(await store.setDisabled('U-a', 5_000)).toMatchObject({ disabledAt: 4_000 });
      expect(await store.setDisabled('U-a', null)).toMatchObject({ disabledAt: null });
      expect(await store.setPassword('U-zz', 'x', 1)).toBeUndefined();
      expect(await store.setDisabled('U-zz', 1)).toBeUndefined();
    });
  });
}
