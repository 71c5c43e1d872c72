import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { answerForwarded, type ForwardedRequest, type ForwardedResponse } from '../api/forward.js';
import type { InfluxHistory } from '../api/routes/devices.js';
import type { ConsoleSettings } from '../api/routes/session.js';
import type { InfluxConfig } from '../ingest/influx/config.js';
import { InfluxQuery } from '../ingest/influx/query.js';
import { FaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Outbox, StoredEvent } from '../notify/outbox.js';
import type { Config } from './config/schema.js';

/**
 * The API on its own thread (`api.worker`, on by default). Ingest keeps the main event loop busy
 * (decoding, the spool, rules); a dashboard's reads answered on that loop wait behind it and slow
 * it in turn. The worker owns the HTTP port and answers the reads — tickets, lists, statistics,
 * technicians, the event stream — from its own SQLite connection; every other route is checked
 * there and answered here by the same app (`api/forward.ts`). Events published here are relayed to
 * the worker's streams. A worker that dies is started again on the same port.
 */

export interface WorkerData {
  config: Config;
  host: string;
  port: number;
  version: string;
  logLevel: string;
}

export type ToWorker =
  | { t: 'response'; id: number; res?: ForwardedResponse; error?: string }
  /** The events of one turn, oldest first, sent only while the worker has streams open. */
  | { t: 'events'; events: StoredEvent[] }
  | { t: 'close' };

export type FromWorker =
  | { t: 'listening'; port: number }
  | { t: 'failed'; error: { message: string; code?: string } }
  | { t: 'request'; id: number; req: ForwardedRequest }
  | { t: 'log'; line: string }
  /** Whether the worker has live streams open: events are sent to it only then (issue 19). */
  | { t: 'streams'; open: boolean }
  | { t: 'closed' };

/** How long a starting worker may take to listen, and a closing one to finish its requests. */
const START_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000;
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

/** The compiled worker: beside this file, or under dist/ when this runs from the TypeScript sources (the tests). */
function workerFile(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../dist/gateway/api-worker.js', here)
    : new URL('./api-worker.js', here);
  if (!existsSync(fileURLToPath(url)))
    throw new FaultlineError(
      'FL_ERR_INTERNAL',
      `the API worker ${fileURLToPath(url)} is missing: build first (npm run build), or set api.worker: false`,
    );
  return url;
}

export interface ApiThreadOptions {
  /** The main thread's app: answers the forwarded routes. */
  app: FastifyInstance;
  config: Config;
  outbox: Outbox;
  logger: Logger;
  version: string;
}

export class ApiThread {
  private worker: Worker | null = null;
  private listening = false;
  private restarts = 0;
  /** The port the worker listens on: after the first start, the one bound then (also when the configuration said 0). */
  private port: number;
  private closing = false;
  private restartDelay = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly offEvents: () => void;
  private readonly log: Logger;
  /** Whether the worker has streams open; events are batched per turn and sent only then. */
  private streams = false;
  private batch: StoredEvent[] = [];
  private flushing = false;
  private readonly sent = { events: 0, batches: 0 };

  constructor(private readonly opts: ApiThreadOptions) {
    this.port = opts.config.api.port;
    this.log = opts.logger.child({ component: 'api' });
    this.offEvents = opts.outbox.on((event) => this.queue(event));
  }

  /**
   * An event for the worker's streams: nothing when none is open (a structured clone per event was 5 %
   * of the main thread under flapping alerts, issue 19), else one message per event-loop turn.
   */
  private queue(event: StoredEvent): void {
    if (!this.streams || !this.worker) return;
    this.batch.push(event);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const events = this.batch;
      this.batch = [];
      if (events.length === 0 || !this.streams || !this.worker) return;
      this.worker.postMessage({ t: 'events', events } satisfies ToWorker);
      this.sent.events += events.length;
      this.sent.batches++;
    });
  }

  /** For the metrics: whether the worker listens, and how often it was started again. */
  stats(): { up: boolean; restarts: number } {
    return { up: this.listening, restarts: this.restarts };
  }

  /** Events and messages sent to the worker's streams since start (tests, diagnosis). */
  eventStats(): { events: number; batches: number; streamsOpen: boolean } {
    return { ...this.sent, streamsOpen: this.streams };
  }

  /** Starts the worker; resolves once it listens, rejects as listening failed (EADDRINUSE, …). */
  async start(): Promise<number> {
    await this.opts.app.ready();
    this.port = await this.spawn();
    return this.port;
  }

  private spawn(): Promise<number> {
    const w = new Worker(workerFile(), {
      workerData: {
        config: this.opts.config,
        host: this.opts.config.api.host,
        port: this.port,
        version: this.opts.version,
        logLevel: this.opts.logger.level,
      } satisfies WorkerData,
    });
    this.worker = w;
    return new Promise<number>((resolve, reject) => {
      let listening = false;
      const timer = setTimeout(() => {
        reject(new FaultlineError('FL_ERR_INTERNAL', 'the API worker did not start listening within 60 s'));
        void w.terminate();
      }, START_TIMEOUT_MS);
      w.on('message', (m: FromWorker) => {
        switch (m.t) {
          case 'listening':
            listening = true;
            this.listening = true;
            clearTimeout(timer);
            this.restartDelay = RESTART_MIN_MS;
            resolve(m.port);
            return;
          case 'failed': {
            clearTimeout(timer);
            const err = Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {});
            reject(err);
            void w.terminate();
            return;
          }
          case 'request':
            this.answer(w, m.id, m.req);
            return;
          case 'log':
            this.relayLog(m.line);
            return;
          case 'streams':
            this.streams = m.open;
            if (!m.open) this.batch = [];
            return;
          case 'closed':
            return;
        }
      });
      w.on('error', (err) => {
        this.log.error({ err }, 'the API worker failed');
        if (!listening) {
          clearTimeout(timer);
          reject(err);
        }
      });
      w.on('exit', (code) => {
        if (this.worker !== w) return;
        this.worker = null;
        this.listening = false;
        this.streams = false; // a new worker starts without streams
        this.batch = [];
        if (this.closing || !listening) return;
        // Ingest goes on; the API comes back on its port.
        this.restarts++;
        this.log.error({ code, restartIn: this.restartDelay }, 'the API worker stopped: starting it again');
        this.scheduleRestart();
      });
    });
  }

  private scheduleRestart(): void {
    const delay = this.restartDelay;
    this.restartDelay = Math.min(delay * 2, RESTART_MAX_MS);
    this.restartTimer = setTimeout(() => {
      if (this.closing) return;
      this.spawn().then(
        (port) => this.log.info({ port }, 'the API worker listens again'),
        (err: unknown) => {
          this.log.error({ err }, 'the API worker could not start again');
          if (!this.closing) this.scheduleRestart();
        },
      );
    }, delay);
  }

  private answer(w: Worker, id: number, req: ForwardedRequest): void {
    answerForwarded(this.opts.app, req).then(
      (res) => w.postMessage({ t: 'response', id, res } satisfies ToWorker),
      (err: unknown) => {
        this.log.error({ err, url: req.url }, 'a forwarded request failed');
        w.postMessage({ t: 'response', id, error: (err as Error).message } satisfies ToWorker);
      },
    );
  }

  /** A worker's log line, through this thread's logger (its level, its bindings, its destination). */
  private relayLog(line: string): void {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, ...rest } = o;
    const label = pino.levels.labels[Number(level)] as pino.Level | undefined;
    if (label) this.opts.logger[label](rest, typeof msg === 'string' ? msg : '');
  }

  /** Stops taking requests, lets those in flight finish (forwarded ones are still answered here), ends the thread. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    this.offEvents();
    const w = this.worker;
    if (!w) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      w.on('message', (m: FromWorker) => {
        if (m.t === 'closed') {
          clearTimeout(timer);
          resolve();
        }
      });
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      w.postMessage({ t: 'close' } satisfies ToWorker);
    });
    await w.terminate();
    this.worker = null;
  }

  /** Ends the worker as a crash would (for the tests of the restart). */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }
}

/** What the console is told of the configuration (both threads answer `GET /api/v1/session`). */
export function consoleSettings(config: Config): ConsoleSettings {
  return {
    slaWarnAt: config.sla.warnAt,
    sites: config.sites.map((s) => ({ id: s.id, name: s.name ?? s.id })),
    teams: config.teams.map((t) => ({ id: t.id, name: t.name ?? t.id })),
  };
}

/** The console's charts from InfluxDB: one InfluxQL query per chart, answered within 10 s or not at all. */
export function influxHistoryOf(cfg: InfluxConfig): InfluxHistory {
  const influx = new InfluxQuery(cfg);
  return (deviceId, metric, from, to, stepMs) => influx.buckets(deviceId, metric, from, to, stepMs, 10_000);
}
