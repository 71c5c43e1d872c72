import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort } from './common.js';

export interface MosquittoServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts again on the same port, with the persisted sessions and queued messages. */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * A private Mosquitto 2.x (Debian's `mosquitto`) in a temp dir: anonymous access on 127.0.0.1,
 * persistence on (so that sessions and queued QoS 1 messages survive a restart), `user root` so
 * that it can write its persistence file when the tests run as root (TESTING.md).
 */
export async function startMosquitto(
  extraConfig = '',
  opts: { persistence?: boolean; maxQueuedMessages?: number } = {},
): Promise<MosquittoServer> {
  const bin = findBinary('mosquitto');
  if (!bin) throw new Error('mosquitto not found (apt-get install mosquitto)');
  const dir = mkdtempSync(join(tmpdir(), 'faultline-mosquitto-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `user root
listener ${port} 127.0.0.1
allow_anonymous true
persistence ${opts.persistence ?? true}
persistence_location ${dir}/
autosave_interval 1
max_queued_messages ${opts.maxQueuedMessages ?? 100000}
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
${extraConfig}
`,
  );

  const start = async () => {
    const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`mosquitto did not start:\n${log}`)), 10_000);
      const onData = (c: Buffer) => {
        log += c.toString();
        if (/running|Opening ipv4 listen socket/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mosquitto exited ${code}:\n${log}`));
      });
    });
    proc.stdout?.resume();
    proc.stderr?.resume();
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM'); // saves persistence on the way out
    await exited;
    child = undefined;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
