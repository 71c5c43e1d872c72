import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { type ApiDeps, buildApi } from '../api/app.js';
import { ApiKeys } from '../api/auth.js';
import type { ForwardedResponse } from '../api/forward.js';
import { Sessions } from '../api/sessions.js';
import { Users } from '../api/users.js';
import type { Device } from '../ingest/devices.js';
import type { DeadLetterStore } from '../ingest/store.js';
import { FaultlineError } from '../lib/errors.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { Outbox, type StoredEvent } from '../notify/outbox.js';
import type { PartsPlanner } from '../parts/planner.js';
import type { PartsStock } from '../parts/stock.js';
import { TicketService } from '../tickets/service.js';
import { firstWarningAt } from '../tickets/sla-policy.js';
import { consoleSettings, type FromWorker, type ToWorker, type WorkerData } from './api-thread.js';
import { openSharedStores } from './stores.js';

/**
 * The API worker thread (`api.worker`, see `api-thread.ts`): owns the HTTP port, serves the routes
 * marked `worker` from its own connection to state.db (WAL: it reads while the main thread writes),
 * and passes the others to the main thread.
 */

const port = parentPort;
if (!port) throw new Error('api-worker.ts runs as a worker thread (gateway/api-thread.ts starts it)');
const data = workerData as WorkerData;
const { config } = data;
const post = (m: FromWorker) => port.postMessage(m);

/** Log lines go to the main thread's logger (one destination, one level, the same bindings). */
const logger = pino(
  { level: data.logLevel, base: undefined, timestamp: false },
  { write: (line: string) => post({ t: 'log', line }) },
);

/**
 * What only the main thread holds (the device registry, rules, adapters, …). The routes that use it
 * are forwarded, so their handlers never run here; reaching it is a routing mistake, said plainly.
 */
function mainThreadOnly<T extends object>(what: string): T {
  const fail = (): never => {
    throw new FaultlineError(
      'FL_ERR_INTERNAL',
      `${what} is on the main thread: its routes are forwarded there`,
    );
  };
  return new Proxy((() => undefined) as unknown as T, { get: fail, apply: fail });
}

let nextId = 0;
const pending = new Map<number, { resolve: (r: ForwardedResponse) => void; reject: (e: Error) => void }>();
const unavailable = (why: string) =>
  new FaultlineError('FL_ERR_API_UNAVAILABLE', `the gateway could not answer this request (${why}); retry`);

// Its own connections: to state.db (WAL: it reads while the main thread writes), or a pool of its own.
let stateDb: SqliteDatabase | null = null;
const stores = await openSharedStores({
  postgres: config.storage.postgres && {
    ...config.storage.postgres,
    poolSize: Math.max(2, Math.floor(config.storage.postgres.poolSize / 2)),
  },
  deadLetters: config.storage.deadLetters.maxEntries,
  warnAtOf: (c) => firstWarningAt(config.sla, c),
  stateDb: () => {
    stateDb = openDatabase(join(config.storage.dataDir, 'state.db'));
    return stateDb;
  },
});
const closeStores = async () => {
  await stores.close();
  (stateDb as SqliteDatabase | null)?.close();
};
const outbox = new Outbox(stores.outbox);
const keys = new ApiKeys(stores.keys);
const users = new Users(stores.users, Date.now, stores.sessions);
const sessions = new Sessions(stores.sessions, users, config.api.sessions);
const tickets = new TicketService({
  store: stores.tickets,
  policy: config.sla,
  logger,
  teams: config.teams,
  routing: config.routing,
  customers: config.customers,
  site: mainThreadOnly('the site directory'),
  device: mainThreadOnly<(id: string) => Device | undefined>('the device registry'),
});

const app = buildApi({
  tickets,
  keys,
  users: { users, sessions, settings: consoleSettings(config) },
  outbox,
  faultTypes: config.rules.faultTypes,
  alerts: mainThreadOnly('the alert store'),
  devices: mainThreadOnly('the device registry'),
  history: mainThreadOnly('the telemetry history'),
  deviceSources: mainThreadOnly('the adapters'),
  ingestStatus: mainThreadOnly('the ingest status'),
  deadLetters: mainThreadOnly<DeadLetterStore>('the dead letters'),
  directory: mainThreadOnly<NonNullable<ApiDeps['directory']>>('the key directory'),
  rules: mainThreadOnly('the rule set'),
  silences: mainThreadOnly('the maintenance windows'),
  metrics: mainThreadOnly('the metrics'),
  ready: mainThreadOnly('the start-up state'),
  ...(config.parts.catalogue.length
    ? {
        parts: {
          stock: mainThreadOnly<PartsStock>('the parts stock'),
          planner: mainThreadOnly<PartsPlanner>('the parts planner'),
        },
      }
    : {}),
  options: {
    metricsPublic: config.api.metricsPublic,
    rateLimit: { max: config.api.rateLimit.max, window: config.api.rateLimit.window },
    bodyLimit: config.api.bodyLimit,
    authFailures: config.api.authFailures,
    streams: config.api.streams,
    trustProxy: config.api.trustProxy,
  },
  logger,
  version: data.version,
  forward: (req) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      post({ t: 'request', id, req });
    }),
});

// Events reach this thread only while streams are open here. The first batch after streams opened
// may start after events stored meanwhile (the main thread learns of the streams a little later):
// those are read from the database, so that a stream misses nothing (issue 19).
// Opening and relaying run one after the other (a chain), so that batches keep their order.
// The last seq is asked for at once, before the opening stream reads its own (so the relay starts
// no later than the stream's replay, which drops what it sent already); batches sent before the
// streams closed and arriving after they opened again are dropped until the opening is done.
let streamsOpen = false;
let relayReady = false;
let relayedSeq = 0;
let relaying: Promise<void> = Promise.resolve();
const inOrder = (what: string, f: () => Promise<void>) => {
  relaying = relaying.then(f).catch((err: unknown) => logger.error({ err }, `event relay: ${what} failed`));
};
outbox.onListenerCount((n) => {
  if (n > 0 && !streamsOpen) {
    streamsOpen = true;
    const last = outbox.lastSeq();
    inOrder('opening', async () => {
      relayedSeq = await last;
      relayReady = streamsOpen;
      post({ t: 'streams', open: true });
    });
  } else if (n === 0 && streamsOpen) {
    streamsOpen = false;
    relayReady = false;
    post({ t: 'streams', open: false });
  }
});

async function relay(events: StoredEvent[]): Promise<void> {
  const first = events[0]?.seq;
  if (!streamsOpen || !relayReady || first === undefined) return;
  // Stored between the streams opening and the main thread hearing of it: read here.
  while (relayedSeq + 1 < first) {
    const page = (await outbox.since(relayedSeq, 500)).filter((e) => e.seq < first);
    if (page.length === 0) break;
    for (const e of page) {
      outbox.relay(e);
      relayedSeq = e.seq;
    }
  }
  for (const e of events)
    if (e.seq > relayedSeq) {
      outbox.relay(e);
      relayedSeq = e.seq;
    }
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'response': {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) return;
      if (m.res) p.resolve(m.res);
      else p.reject(unavailable(m.error ?? 'no answer'));
      return;
    }
    case 'events':
      inOrder('a batch', () => relay(m.events));
      return;
    case 'close':
      void close();
      return;
  }
});

async function close(): Promise<void> {
  try {
    // In-flight requests finish (the main thread still answers forwarded ones), streams end.
    await app.close();
  } finally {
    for (const p of pending.values()) p.reject(unavailable('the gateway is stopping'));
    pending.clear();
    await closeStores();
    post({ t: 'closed' });
  }
}

try {
  await app.listen({ host: data.host, port: data.port });
  const address = app.server.address();
  post({ t: 'listening', port: typeof address === 'object' && address ? address.port : data.port });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  post({ t: 'failed', error: { message: e.message, ...(e.code ? { code: e.code } : {}) } });
  await closeStores();
}
