import { accessSync, constants } from 'node:fs';
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
