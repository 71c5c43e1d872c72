import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';
import { TEST_API_KEY, tempDir } from '../helpers.js';
import { describeIf } from '../servers/common.js';

/**
 * Issue 11's fault test: a read-only data directory. The gateway must refuse to start with a clear
 * error (FL_ERR_DATA_DIR), not run and accept readings it cannot keep. The directory is a read-only
 * bind mount (as root, file modes do not stop writes; a read-only mount does), so the test needs
 * mount(8) and CAP_SYS_ADMIN — which CI has (it runs as root).
 */
const CLI = join(packageRoot(), 'dist', 'gateway', 'cli.js');
const canMount = (() => {
  try {
    return process.getuid?.() === 0 && execFileSync('which', ['mount']).length > 0;
  } catch {
    return false;
  }
})();
const suite = describeIf(canMount, 'mount (root)', 'run as root with util-linux mount');

suite.describe(`faults: read-only data directory${suite.label}`, () => {
  const tmp = tempDir();
  const ro = join(tmp.dir, 'ro');
  beforeAll(() => {
    mkdirSync(ro, { recursive: true });
    execFileSync('mount', ['--bind', ro, ro]);
    execFileSync('mount', ['-o', 'remount,ro,bind', ro]);
  });
  afterAll(() => {
    try {
      execFileSync('umount', [ro]);
    } finally {
      tmp.cleanup();
    }
  });

  it.each([
    ['the data directory itself', () => ro],
    ['a data directory to be made under it', () => join(ro, 'data')],
  ])('%s: refuses to start, saying why', async (_what, dataDir) => {
    const child = spawn(
      process.execPath,
      [CLI, 'start', '--data-dir', dataDir(), '--api-port', '0', '--mqtt-port', '0'],
      { env: { ...process.env, FAULTLINE_API_KEY: TEST_API_KEY }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(out).toContain('FL_ERR_DATA_DIR');
    expect(out).toContain('is not writable (read-only file system)');
    expect(out).not.toContain('"msg":"listening"');
  });
});
