import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteUserStore } from '../api/sqlite-user-store.js';
import { Users } from '../api/users.js';
import { openDatabase } from '../lib/sqlite.js';
import { runCli, tempDir } from './helpers.js';

/** `faultline users …` as an administrator runs it on the gateway's host (issue 21), on state.db. */
describe('faultline users', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const dataDir = join(tmp.dir, 'data');
  const cli = (args: string[], input?: string) =>
    runCli(['users', ...args, '--data-dir', dataDir], {
      cwd: tmp.dir,
      ...(input !== undefined ? { input } : {}),
    });
  const check = async (username: string, password: string) => {
    const db = openDatabase(join(dataDir, 'state.db'));
    try {
      return await new Users(new SqliteUserStore(db)).check(username, password);
    } finally {
      db.close();
    }
  };

  it('adds, lists, changes passwords, disables and enables users; refuses what it should, with a code', async () => {
    const anna = await cli(
      [
        'add',
        'anna',
        '--role',
        'technician',
        '--technician',
        'anna',
        '--name',
        'Anna Lee',
        '--password-stdin',
      ],
      'a long passphrase\n',
    );
    expect(anna.stderr).toBe('');
    expect(anna.status).toBe(0);
    expect(anna.stdout).toMatch(/^user anna \(U-[0-9a-f]{12}\) added: technician\n$/);
    const ben = await cli(['add', 'ben', '--role', 'viewer', '--sites', 'north, south']);
    expect(ben.status).toBe(0);
    const generated = /password \(shown once\): (\S+)/.exec(ben.stdout)?.[1] as string;
    expect(generated).toHaveLength(20);
    expect(await check('ben', generated)).toMatchObject({ role: 'viewer', sites: ['north', 'south'] });
    expect(await check('anna', 'a long passphrase')).toMatchObject({
      displayName: 'Anna Lee',
      technician: 'anna',
    });

    const list = await cli(['list', '--json']);
    expect((JSON.parse(list.stdout) as { username: string }[]).map((u) => u.username)).toEqual([
      'anna',
      'ben',
    ]);
    expect(list.stdout).not.toMatch(/argon2|hash/i);
    expect((await cli(['list'])).stdout).toMatch(/^anna\s+technician\s+active\s+Anna Lee/m);

    const again = await cli(['add', 'anna', '--role', 'viewer', '--password-stdin'], 'another passphrase\n');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/FL_ERR_USER_EXISTS/);
    const weak = await cli(['add', 'carl', '--role', 'viewer', '--password-stdin'], 'short\n');
    expect(weak.status).toBe(1);
    expect(weak.stderr).toMatch(/at least 10 characters \(FL_ERR_USER_PASSWORD\)/);
    const role = await cli(['add', 'dora', '--role', 'root']);
    expect(role.status).not.toBe(0);
    expect(role.stderr).toMatch(/Allowed choices are viewer, technician/);

    expect((await cli(['disable', 'anna'])).stdout).toBe('anna disabled\n');
    expect(await check('anna', 'a long passphrase')).toBeUndefined();
    expect((await cli(['enable', 'anna'])).status).toBe(0);
    expect((await cli(['passwd', 'anna', '--password-stdin'], 'a newer passphrase\n')).status).toBe(0);
    expect(await check('anna', 'a long passphrase')).toBeUndefined();
    expect(await check('anna', 'a newer passphrase')).toBeDefined();
    const nobody = await cli(['passwd', 'nobody']);
    expect(nobody.status).toBe(1);
    expect(nobody.stderr).toMatch(/FL_ERR_USER_NOT_FOUND/);
  }, 60_000);
});
