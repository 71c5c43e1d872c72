import { afterEach, describe, expect, it } from 'vitest';
import { isFaultlineError } from '../lib/errors.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { SqliteUserStore } from './sqlite-user-store.js';
import { principalOf, Users } from './users.js';

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (isFaultlineError(e) ? e.code : String(e)),
  );

describe('Users', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());
  const users = () => {
    db = openDatabase(':memory:');
    return new Users(new SqliteUserStore(db), () => 1_000);
  };

  it('signs in with the right password only; an unknown name and a disabled user alike get nothing', async () => {
    const u = users();
    const anna = await u.create(
      {
        username: ' Anna.Lee ',
        displayName: 'Anna Lee',
        role: 'technician',
        technician: 'anna',
        createdBy: 'admin',
      },
      'correct horse battery',
    );
    expect(anna).toMatchObject({
      username: 'anna.lee',
      displayName: 'Anna Lee',
      role: 'technician',
      sites: null,
    });
    expect(await u.check('ANNA.LEE', 'correct horse battery')).toMatchObject({
      id: anna.id,
      lastSignInAt: 1_000,
    });
    expect(await u.check('anna.lee', 'correct horse batterY')).toBeUndefined();
    expect(await u.check('nobody', 'correct horse battery')).toBeUndefined();
    expect(await u.check('anna.lee', 'x'.repeat(10_000))).toBeUndefined();
    await u.setDisabled(anna.id, true);
    expect(await u.check('anna.lee', 'correct horse battery')).toBeUndefined();
    await u.setDisabled(anna.id, false);
    await u.setPassword(anna.id, 'a new long passphrase');
    expect(await u.check('anna.lee', 'correct horse battery')).toBeUndefined();
    expect(await u.check('anna.lee', 'a new long passphrase')).toBeDefined();
    expect(principalOf(anna)).toEqual({
      keyId: `user:${anna.id}`,
      name: 'Anna Lee',
      role: 'technician',
      sites: null,
      technician: 'anna',
      customer: null,
    });
  });

  it('refuses weak passwords, bad names, unknown roles, customer users without a customer, taken names', async () => {
    const u = users();
    const base = { username: 'ben', role: 'viewer' as const, createdBy: 'admin' };
    expect(await code(u.create(base, 'short'))).toBe('FL_ERR_USER_PASSWORD');
    expect(await code(u.create(base, 'ben-is-my-password'))).toBe('FL_ERR_USER_PASSWORD');
    expect(await code(u.create(base, 'x'.repeat(257)))).toBe('FL_ERR_USER_PASSWORD');
    for (const username of ['', 'ab', 'has space', 'slash/name', '-lead', 'x'.repeat(65), 'nul\u0000x'])
      expect(await code(u.create({ ...base, username }, 'long enough pass'))).toBe('FL_ERR_API_VALIDATION');
    expect(await code(u.create({ ...base, role: 'root' as never }, 'long enough pass'))).toBe(
      'FL_ERR_API_VALIDATION',
    );
    expect(await code(u.create({ ...base, role: 'customer' }, 'long enough pass'))).toBe(
      'FL_ERR_API_VALIDATION',
    );
    for (const displayName of ['x'.repeat(129), 'Ben\u0007', 'Ben\nAdmin'])
      expect(await code(u.create({ ...base, displayName }, 'long enough pass'))).toBe(
        'FL_ERR_API_VALIDATION',
      );
    expect(await code(u.create(base, 'long enough pass'))).toBe('ok');
    expect(await code(u.create({ ...base, username: 'BEN' }, 'long enough pass'))).toBe('FL_ERR_USER_EXISTS');
    expect(await code(u.setPassword('U-none', 'long enough pass'))).toBe('FL_ERR_USER_NOT_FOUND');
  });
});
