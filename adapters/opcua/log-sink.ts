import type { Logger } from '../../lib/log.js';

/**
 * Where node-opcua's messages go (adapters/opcua/node-opcua-log.ts routes them here). Apart from
 * the routing so that the gateway can name its logger without loading node-opcua's packages, which
 * only the OPC UA adapter, the simulator and the certificate commands need (issue 19: memory).
 */
export type OpcuaLogLevel = 'error' | 'warn' | 'debug' | 'trace';
type Sink = (level: OpcuaLogLevel, where: string, msg: string) => void;

let sink: Sink = (level, where, msg) => {
  if (level === 'error' || level === 'warn') process.stderr.write(`node-opcua ${level} ${where}: ${msg}\n`);
};

export function toOpcuaSink(level: OpcuaLogLevel, where: string, msg: string): void {
  sink(level, where, msg);
}

/** From now on node-opcua's messages go to this logger. */
export function useOpcuaLogger(logger: Logger): void {
  const child = logger.child({ component: 'node-opcua' });
  sink = (level, where, msg) => child[level]({ where }, msg);
}
