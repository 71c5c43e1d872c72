import { format } from 'node:util';
import { setDebugLogger, setErrorLogger, setTraceLogger, setWarningLogger } from 'node-opcua-debug';
import type { Logger } from '../../lib/log.js';

/**
 * node-opcua prints its warnings and errors with console.log, on stdout, where Faultline writes its
 * JSON log lines and `--json` answers. Importing this module sends them to stderr instead, and
 * `useOpcuaLogger` sends them into the gateway's log with `component: "node-opcua"`.
 */
type Context = { filename?: string; callerline?: number } | undefined;
type Sink = (level: 'error' | 'warn' | 'debug' | 'trace', where: string, msg: string) => void;

const MAX_PER_PLACE = 100; // as node-opcua does: a warning repeated in a loop is logged 100 times
const seen = new Map<string, number>();

let sink: Sink = (level, where, msg) => {
  if (level === 'error' || level === 'warn') process.stderr.write(`node-opcua ${level} ${where}: ${msg}\n`);
};

function route(level: 'error' | 'warn' | 'debug' | 'trace') {
  return (ctx?: unknown, ...args: unknown[]) => {
    const c = ctx as Context;
    const where = `${c?.filename ?? '?'}:${c?.callerline ?? '?'}`;
    const n = (seen.get(where) ?? 0) + 1;
    if (n > MAX_PER_PLACE) return;
    seen.set(where, n);
    const msg = format(...args).trim();
    // W27 says RSA PKCS#1 v1.5 decryption is off in this Node. Only the deprecated policies
    // (Basic128Rsa15, Basic256), refused unless allowed, need it; see adapters/opcua/README.md.
    sink(/NODE-OPCUA-W27|security-revert=CVE-2023-46809/.test(msg) ? 'debug' : level, where, msg);
  };
}

setErrorLogger(route('error'));
setWarningLogger(route('warn'));
setDebugLogger(route('debug'));
setTraceLogger(route('trace'));

/** From now on node-opcua's messages go to this logger. */
export function useOpcuaLogger(logger: Logger): void {
  const child = logger.child({ component: 'node-opcua' });
  sink = (level, where, msg) => child[level]({ where }, msg);
}
