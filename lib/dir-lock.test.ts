import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { LOCK_FILE, lockDataDir } from './dir-lock.js';
import type { FaultlineError } from './errors.js';

describe('data directory lock (issue 18)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const holder = (dir: string, pid: number, host = hostname()) =>
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host, startedAt: Date.UTC(2026, 0, 1) }));
  const refusal = (dir: string): FaultlineError => {
    try {
      lockDataDir(dir);
    } catch (err) {
      return err as FaultlineError;
    }
    throw new Error('the lock was taken');
  };

  it('is taken once per directory, also within one process, and released', () => {
    const release = lockDataDir(tmp.dir);
    expect(JSON.parse(readFileSync(join(tmp.dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    expect(refusal(tmp.dir)).toMatchObject({ code: 'FL_ERR_DATA_DIR_LOCKED' });
    release();
    expect(existsSync(join(tmp.dir, LOCK_FILE))).toBe(false);
    lockDataDir(tmp.dir)();
  });

  it('refuses while another live process holds it, naming its pid; takes it over once that is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const pid = child.pid as number;
    holder(tmp.dir, pid);
    expect(refusal(tmp.dir).message).toMatch(new RegExp(`in use by another gateway \\(pid ${pid} on `));
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    const release = lockDataDir(tmp.dir); // stale: its process is gone
    release();
  });

  it('a lock of another host is not guessed stale; our own pid from an earlier life is', () => {
    holder(tmp.dir, 1, 'other-host');
    expect(refusal(tmp.dir).message).toMatch(/pid 1 on other-host.*delete .*faultline\.lock/);
    holder(tmp.dir, process.pid); // a container's pid 1 after a restart: the same pid, not held
    lockDataDir(tmp.dir)();
    writeFileSync(join(tmp.dir, LOCK_FILE), '{ half written');
    lockDataDir(tmp.dir)();
  });
});
