import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs (pino); human-readable only when writing to a terminal. Secrets are
 * redacted by path wherever they may appear in logged objects.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { name: 'faultline' },
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  };
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' },
      },
    });
  }
  return pino(options);
}
