import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './common.js';

export interface PostgresServer {
  /** `postgres://faultline@127.0.0.1:<port>/postgres` (trust authentication on loopback). */
  url: string;
  port: number;
  /** A URL of a fresh, empty database on this server (one per test suite or case). */
  createDatabase(name: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** Debian's PostgreSQL binaries (`apt-get install postgresql`): the newest major under /usr/lib/postgresql. */
export function postgresBin(): string | undefined {
  for (const v of ['17', '16', '15']) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, 'postgres'))) return dir;
  }
  return undefined;
}

/**
 * initdb and postgres refuse to run as root (TESTING.md): as root they run as `nobody`, through
 * spawn's uid/gid (so that signals reach postgres itself, not a `su` in between).
 */
function serverUser(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * A private PostgreSQL (Debian's `postgresql`, 15 or newer) in a temp dir on a free loopback port:
 * `initdb` with trust authentication for the `faultline` superuser, the socket in the data dir,
 * fsync off (a test server: nothing here must survive a power cut).
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL not found (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'faultline-pg-'));
  const data = join(dir, 'data');
  const user = serverUser();
  if ('uid' in user) spawnSync('chown', [`${user.uid}:${user.gid}`, dir]);
  const r = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'faultline', '--auth=trust', '-E', 'UTF8'], {
    encoding: 'utf8',
    cwd: dir,
    ...user,
  });
  if (r.status !== 0) throw new Error(`initdb failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const port = await freePort();
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'max_connections=200',
  ];
  const child: ChildProcess = spawn(join(bin, 'postgres'), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: dir,
    ...user,
  });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`postgres did not start:\n${log}`)), 20_000);
    const onData = (c: Buffer) => {
      log += c.toString();
      if (/ready to accept connections/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`postgres exited ${code}:\n${log}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  const url = `postgres://faultline@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async createDatabase(name: string) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return `postgres://faultline@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    async cleanup() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((res) => child.once('exit', () => res()));
        // SIGINT: PostgreSQL's fast shutdown.
        child.kill('SIGINT');
        await Promise.race([exited, new Promise((res) => setTimeout(res, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
