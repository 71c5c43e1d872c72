import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { describe } from 'vitest';

/** CI sets this: a missing server binary fails its tests instead of skipping them. */
export const REQUIRE_SERVERS = process.env.FAULTLINE_REQUIRE_SERVERS === '1';

export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '')
    .split(delimiter)
    .concat(['/usr/sbin', '/usr/bin', '/usr/local/bin'])) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * `describe` for tests that need a real server binary: skipped with the reason when the binary is
 * missing, unless FAULTLINE_REQUIRE_SERVERS=1, when the suite runs and fails on the missing binary.
 */
export function describeWithServer(binary: string, install: string) {
  const path = findBinary(binary);
  if (path || REQUIRE_SERVERS) return { path, describe: describe, label: '' };
  return { path, describe: describe.skip, label: ` [skipped: ${binary} not found; ${install}]` };
}

/** `describe` for tests that need something installed: skipped with the reason, or failing under REQUIRE. */
export function describeIf(available: boolean, what: string, install: string) {
  if (available || REQUIRE_SERVERS) return { available, describe: describe, label: '' };
  return { available, describe: describe.skip, label: ` [skipped: ${what} not found; ${install}]` };
}

/** Debian's python3-pymodbus is installed for /usr/bin/python3, which may not be the python3 on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export function hasPythonModule(name: string): boolean {
  return spawnSync(SYSTEM_PYTHON, ['-c', `import ${name}`], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port on 127.0.0.1, for servers that cannot bind port 0 and report it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
