import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package-root.js';

/** Ticks per second of /proc's CPU times (USER_HZ). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssBytes: number;
  /** The highest RSS so far (VmHWM). */
  peakRssBytes: number;
  fds: number;
}

/** User + system CPU seconds from a /proc `stat` line (of a process or one of its threads). */
function cpuSecondsOf(stat: string): number {
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/**
 * CPU seconds of a process's threads, summed by thread name (/proc/<pid>/task/<tid>/comm: "node"
 * for the main thread, "V8 DefaultWorke" for the GC's helpers, "libuv-worker" for the thread pool…).
 * Threads that ended are not counted.
 */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const key = tid === String(pid) ? `${name} (main)` : `${name}#${Number(tid) - pid}`;
      out.set(key, (out.get(key) ?? 0) + cpuSecondsOf(stat));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** CPU, memory and open files of a process, from /proc (Linux). */
export function procSample(pid: number): ProcSample {
  const cpuSeconds = cpuSecondsOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  let fds = 0;
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    fds = -1;
  }
  return { cpuSeconds, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), fds };
}

/** Runs a compiled bench script (`dist-bench/bench/e2e/<name>.js`) as its own process. */
export function spawnScript(name: string, options: unknown): ChildProcess {
  const script = join(packageRoot(), 'dist-bench', 'bench', 'e2e', `${name}.js`);
  return spawn(process.execPath, [script, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Calls `onLine` with each line the child prints on stdout; collects stderr for errors. */
export function lines(child: ChildProcess, onLine: (line: string) => void): { stderr: () => string } {
  let buf = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    buf += c.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  });
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-8_000);
  });
  return { stderr: () => err };
}

/** Resolves with the last stdout line parsed as JSON once the child exits 0. */
export function runScript<T>(name: string, options: unknown): Promise<T> {
  const child = spawnScript(name, options);
  let last = '';
  const out = lines(child, (l) => {
    if (l.trim() !== '') last = l;
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(last) as T);
      else reject(new Error(`${name} exited ${code}: ${out.stderr()}`));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const wallNow = () => performance.timeOrigin + performance.now();

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}
