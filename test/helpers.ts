import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { loadConfig } from '../gateway/config/load.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import { packageRoot } from '../lib/package-root.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';

export const silentLogger = pino({ level: 'silent' });

/** The admin key of gateways started by the tests (as FAULTLINE_API_KEY would give it). */
export const TEST_API_KEY = 'flk_test-suite-admin-key-0123456789';

/** The Authorization header for a key (the test admin key by default). */
export function auth(key: string = TEST_API_KEY): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

export function tempDir(prefix = 'faultline-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * SQLite files in a temporary folder, each opened twice — the connection under test and a reader
 * (another connection, as the API worker reads) — closed after each test, the folder after the file.
 */
export function sqliteFiles(): (name: string) => { db: SqliteDatabase; reader: SqliteDatabase } {
  const tmp = tempDir();
  const open: SqliteDatabase[] = [];
  afterEach(() => {
    for (const db of open.splice(0)) db.close();
  });
  afterAll(() => tmp.cleanup());
  return (name) => {
    const file = join(tmp.dir, `${name}.db`);
    const db = openDatabase(file);
    const reader = openDatabase(file);
    open.push(db, reader);
    return { db, reader };
  };
}

/** Writes files (relative path → content) under `dir`, making folders as needed. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

/** Starts a gateway from a config file on ephemeral ports with its data under `dataDir`. */
export async function startFromFile(file: string, dataDir: string): Promise<RunningGateway> {
  const loaded = await loadConfig(file, { apiPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', dataDir });
  if (loaded.issues.length) throw new Error(JSON.stringify(loaded.issues));
  loaded.config.api.adminKey ??= TEST_API_KEY;
  return startGateway(loaded.config, silentLogger);
}

/**
 * A gateway for a describe block: started in beforeAll from `config` (YAML, or a function giving it
 * once servers the config names are up) with its data in a temporary folder, stopped in afterAll.
 */
export function gatewayFixture(config: string | (() => string), files: Record<string, string> = {}) {
  const tmp = tempDir();
  let gw: RunningGateway | undefined;
  beforeAll(async () => {
    writeFiles(tmp.dir, { ...files, 'faultline.yaml': typeof config === 'string' ? config : config() });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
  });
  afterAll(async () => {
    await gw?.stop();
    tmp.cleanup();
  });
  return {
    get gw(): RunningGateway {
      if (!gw) throw new Error('the gateway is not started yet');
      return gw;
    },
    /** An /api/v1 URL of the gateway. */
    api: (path: string) => `${(gw as RunningGateway).apiUrl}/api/v1${path}`,
    dir: tmp.dir,
  };
}

/** Two teams: own mechanics (ana leads, ben) for local sites, a partner team (fox) for remote ones. */
export const TWO_TEAMS = `teams:
  - id: mechanics
    skills: [mechanical]
    areas: [local]
    lead: ana
    technicians: [{ id: ana }, { id: ben }]
  - id: partner-south
    skills: [mechanical, electrical]
    areas: [remote]
    partner: true
    technicians: [{ id: fox }]
routing: { autoAssign: true }
`;

/** Polls `fn` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET with the test admin key (or `key`; null: none). */
export async function getJson<T = unknown>(
  url: string,
  key: string | null = TEST_API_KEY,
): Promise<{ status: number; type: string; body: T }> {
  const res = await fetch(url, { headers: key === null ? {} : auth(key) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as T };
}

/** A JSON request (POST by default) with the test admin key (or `key`; null: none). */
export async function postJson<T = unknown>(
  url: string,
  body: unknown,
  key: string | null = TEST_API_KEY,
  method = 'POST',
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(key === null ? {} : auth(key)) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * Runs the built CLI (`dist/gateway/cli.js`) without blocking the event loop — servers running in
 * this test process (simulators) keep answering while it works.
 */
export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const cli = join(packageRoot(), 'dist', 'gateway', 'cli.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, FAULTLINE_API_KEY: TEST_API_KEY, ...opts.env },
    });
    child.stdin.end(opts.input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A calendar spec for SLA tests: 08:00–17:00 Monday to Friday in `timezone`, with `holidays`. */
export function officeHours(holidays: string[] = [], timezone = 'Europe/Berlin') {
  return {
    timezone,
    hours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, ['08:00-17:00']])),
    holidays,
  };
}

/** Reads a Server-Sent Events stream with fetch (as a browser's EventSource would). */
export async function stream(url: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  const events: { id: string; event: string; data: { subject: string; data: unknown } }[] = [];
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += dec.decode(value, { stream: true });
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const lines = buf.slice(0, i).split('\n');
            buf = buf.slice(i + 2);
            const field = (k: string) => lines.find((l) => l.startsWith(`${k}: `))?.slice(k.length + 2);
            const data = field('data');
            if (data)
              events.push({ id: field('id') ?? '', event: field('event') ?? '', data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { status: res.status, type: res.headers.get('content-type'), events, close: () => ac.abort() };
}

/** The built module `dist/<path>` as a file URL (for scripts run in other processes). */
export function distUrl(path: string): string {
  return pathToFileURL(join(packageRoot(), 'dist', path)).href;
}

/**
 * Runs an ES module script in a separate Node process (a second gateway, a competing writer) and
 * resolves the JSON it writes to stdout; rejects with its stderr when it fails.
 */
export function runScript<T>(script: string, args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`script exited ${code}: ${err}`)),
    );
  });
}

/** A gateway run by the built CLI in its own process, as users run it. */
export interface CliGateway {
  child: ChildProcess;
  apiUrl: string;
  /** The embedded broker's URL ('' when it is off). */
  mqttUrl: string;
  /** An /api/v1 URL of it. */
  api: (path: string) => string;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  /** SIGTERM; resolves its exit code. */
  stop: () => Promise<number | null>;
}

/**
 * Starts `faultline start` with `args` (on free ports) and resolves once it logged "listening";
 * rejects with its output when it exits before that.
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliGateway> {
  const cli = join(packageRoot(), 'dist', 'gateway', 'cli.js');
  const child = spawn(process.execPath, [cli, 'start', '--api-port', '0', '--mqtt-port', '0', ...args], {
    env: { ...process.env, FAULTLINE_API_KEY: TEST_API_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /"api":"(http:\/\/[^"]+)","mqtt":(?:"(mqtt:\/\/[^"]+)"|null).*"msg":"listening"/.exec(out);
      if (m)
        resolve({
          child,
          apiUrl: m[1] as string,
          mqttUrl: m[2] ?? '',
          api: (p) => `${m[1]}/api/v1${p}`,
          output: () => out,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) =>
      reject(Object.assign(new Error(`gateway exited ${code}: ${out}`), { output: out })),
    );
  });
}
