import { format } from 'node:util';
import { setDebugLogger, setErrorLogger, setTraceLogger, setWarningLogger } from 'node-opcua-debug';
import { type OpcuaLogLevel, toOpcuaSink } from './log-sink.js';

/**
 * node-opcua prints its warnings and errors with console.log, on stdout, where Faultline writes its
 * JSON log lines and `--json` answers. Importing this module sends them to stderr instead, and
 * `useOpcuaLogger` (log-sink.ts) into the gateway's log with `component: "node-opcua"`.
 */
type Context = { filename?: string; callerline?: number } | undefined;

const MAX_PER_PLACE = 100; // as node-opcua does: a warning repeated in a loop is logged 100 times
const seen = new Map<string, number>();

function route(level: OpcuaLogLevel) {
  return (ctx?: unknown, ...args: unknown[]) => {
    const c = ctx as Context;
    const where = `${c?.filename ?? '?'}:${c?.callerline ?? '?'}`;
    const n = (seen.get(where) ?? 0) + 1;
    if (n > MAX_PER_PLACE) return;
    seen.set(where, n);
    const msg = format(...args).trim();
    // W27 says RSA PKCS#1 v1.5 decryption is off in this Node. Only the deprecated policies
    // (Basic128Rsa15, Basic256), refused unless allowed, need it; see adapters/opcua/README.md.
    toOpcuaSink(/NODE-OPCUA-W27|security-revert=CVE-2023-46809/.test(msg) ? 'debug' : level, where, msg);
  };
}

setErrorLogger(route('error'));
setWarningLogger(route('warn'));
setDebugLogger(route('debug'));
setTraceLogger(route('trace'));
