import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { FaultlineError } from './errors.js';

/** The lock file in a data directory: `{ pid, host, startedAt }` of the gateway using it. */
export const LOCK_FILE = 'faultline.lock';

interface Holder {
  pid: number;
  host: string;
  startedAt: number;
}

/** Lock files this process holds (a second gateway in the same process is refused too). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

function readHolder(file: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string'
      ? { pid: h.pid, host: h.host, startedAt: Number(h.startedAt) || 0 }
      : null;
  } catch {
    return null; // unreadable or half written: treated as stale
  }
}

/**
 * Takes the data directory for this process, as PostgreSQL's postmaster.pid does: a second gateway
 * on the same directory would double every alert, ticket note and webhook delivery (issue 18). A lock
 * whose process is gone (a crash, SIGKILL) is taken over; one held by a live process on this host, or
 * by any process on another host (a shared volume), refuses the start with the holder named.
 * Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const file = resolve(dir, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), startedAt: Date.now() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (!held.has(file))
      try {
        const fd = openSync(file, 'wx', 0o644);
        writeSync(fd, JSON.stringify(me));
        closeSync(fd);
        held.add(file);
        let released = false;
        return () => {
          if (released) return;
          released = true;
          held.delete(file);
          if (readHolder(file)?.pid === me.pid) rmSync(file, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    const h = readHolder(file) ?? (held.has(file) ? me : null);
    // Our own pid in a lock we do not hold: left by an earlier process that had the same pid (a
    // container's pid 1 after a restart): stale.
    const ours = h !== null && h.host === me.host && h.pid === me.pid && !held.has(file);
    if (h && !ours && (h.host !== me.host || alive(h.pid)))
      throw new FaultlineError(
        'FL_ERR_DATA_DIR_LOCKED',
        `data directory ${dir} is in use by another gateway (pid ${h.pid} on ${h.host}, since ${new Date(h.startedAt).toISOString()}): stop it or start this one with its own --data-dir${h.host !== me.host ? `; if it no longer runs, delete ${file}` : ''}`,
      );
    rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new FaultlineError('FL_ERR_DATA_DIR_LOCKED', `could not take the lock ${file}`);
}
