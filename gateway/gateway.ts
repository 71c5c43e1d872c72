import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createAdapter } from '../adapters/index.js';
import { EmbeddedBroker } from '../adapters/mqtt/broker.js';
import { useOpcuaLogger } from '../adapters/opcua/log-sink.js';
import type { Adapter } from '../adapters/types.js';
import { buildApi, type InstanceInfo } from '../api/app.js';
import { ApiKeys } from '../api/auth.js';
import { Sessions } from '../api/sessions.js';
import { Users } from '../api/users.js';
import { ConnectivityMonitor } from '../ingest/connectivity.js';
import { DeviceRegistry } from '../ingest/devices.js';
import { Forwarder } from '../ingest/forwarder.js';
import { History } from '../ingest/history.js';
import { createWriter } from '../ingest/influx/writer.js';
import { Ingest } from '../ingest/ingest.js';
import { SqliteHistoryStore } from '../ingest/sqlite-history-store.js';
import { SqliteTelemetryLog } from '../ingest/sqlite-telemetry-log.js';
import { ingestStatus } from '../ingest/status.js';
import { Checkpointer } from '../lib/checkpoint.js';
import { lockDataDir } from '../lib/dir-lock.js';
import { FaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { packageVersion } from '../lib/package-root.js';
import { afterSlice, FLUSH_SLICE } from '../lib/slices.js';
import { formatIssue } from '../lib/source-errors.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { UnitOfWork } from '../lib/unit-of-work.js';
import { Outbox } from '../notify/outbox.js';
import { PartsStock } from '../parts/stock.js';
import { AlertTracker } from '../rules/alerts.js';
import { RuleEngine, systemScheduler } from '../rules/engine.js';
import { loadRuleFiles } from '../rules/load.js';
import type { DeviceOwnership } from '../rules/ownership.js';
import { RuleReloader } from '../rules/reloader.js';
import { Silences } from '../rules/silences.js';
import { AlertIntake } from '../tickets/alert-intake.js';
import { PreventivePlanner } from '../tickets/preventive.js';
import { TicketService } from '../tickets/service.js';
import { firstWarningAt } from '../tickets/sla-policy.js';
import { type Notice, SlaWatcher } from '../tickets/sla-watcher.js';
import { ApiThread, consoleSettings, influxHistoryOf } from './api-thread.js';
import { Components } from './components.js';
import type { Config } from './config/schema.js';
import { Housekeeping } from './housekeeping.js';
import { instanceId, runLeaderWork } from './leadership.js';
import { createMetrics } from './metrics.js';
import { startOutbound } from './outbound.js';
import { openOwnership } from './ownership.js';
import { wireParts } from './parts.js';
import { wirePipeline } from './pipeline.js';
import { followSharedState } from './shared-state.js';
import { adapterDeviceIds, assertWritableDir, displayUrl, ensureAdminKey, restoreAlerts } from './startup.js';
import { openSharedStores } from './stores.js';

/** A series that only ran (no transition) is saved every this many state saves. */
const RULE_STATE_CHECKPOINTS = 6;

export interface RunningGateway {
  apiUrl: string;
  mqttUrl: string | null;
  stop(): Promise<void>;
  /** The parts, for tests and the demo. */
  readonly ingest: Ingest;
  readonly spool: SqliteTelemetryLog;
  readonly forwarder: Forwarder | null;
  readonly history: History;
  readonly housekeeping: Housekeeping;
  readonly tickets: TicketService;
  readonly alerts: AlertTracker;
  /** Alert changes → tickets (and the flapping alerts' summaries). */
  readonly intake: AlertIntake;
  readonly engine: RuleEngine;
  /** Reloads the rule files (SIGHUP, the API, file changes). */
  readonly rules: RuleReloader;
  /** The app: it listens itself, or answers what the API worker forwards (`api.worker`). */
  readonly api: FastifyInstance;
  /** The API worker thread, with `api.worker`. */
  readonly apiThread: ApiThread | null;
  readonly adapters: readonly Adapter[];
  /** API keys (the demo makes one per run). */
  readonly keys: ApiKeys;
  /** Console users (the demo makes one). */
  readonly users: Users;
  /** Events and their deliveries. */
  readonly outbox: Outbox;
  /** Maintenance windows (kept in memory, reloaded when another instance changes them). */
  readonly silences: Silences;
  /** The state path's turn transactions (commits, failures). */
  readonly unitOfWork: UnitOfWork;
  /** Which devices this instance evaluates, with PostgreSQL (null: all of them). */
  readonly ownership: DeviceOwnership | null;
}

/**
 * Wires every part together and starts it: stores, rules, tickets, the forwarder, the API, then the
 * adapters (so that nothing is acknowledged before the pipeline behind it is ready). `stop()`
 * reverses the order.
 */
export async function startGateway(config: Config, logger: Logger): Promise<RunningGateway> {
  const id = instanceId(); // a malformed FAULTLINE_INSTANCE_ID stops the start here (FL_ERR_CONFIG)
  // Several instances share PostgreSQL: every log line names this one.
  if (config.storage.postgres) {
    logger = logger.child({ instance: id });
    if (!process.env.FAULTLINE_INSTANCE_ID?.trim())
      logger.warn(
        'FAULTLINE_INSTANCE_ID is not set: this instance is named after its host and process, which change at a restart (MQTT client sessions, device ownership); give each instance a stable id',
      );
  }
  const rules = await loadRuleFiles(config.rules.files, process.cwd(), {
    faultTypes: config.rules.faultTypes,
  });
  if (rules.issues.length) {
    throw new FaultlineError(
      'FL_ERR_RULES_INVALID',
      `invalid rules:\n${rules.issues.map(formatIssue).join('\n')}`,
    );
  }
  if (rules.rules.length === 0) {
    logger.warn({ files: config.rules.files }, 'no rules loaded: no tickets will be opened from telemetry');
  }

  useOpcuaLogger(logger);
  const dataDir = config.storage.dataDir;
  const databases: SqliteDatabase[] = [];
  assertWritableDir(dataDir);
  // Everything started registers here and is stopped in the reverse order (gateway/components.ts).
  const components = new Components();
  components.onStop('data directory lock', lockDataDir(dataDir));
  components.onStop('databases', () => {
    for (const db of databases) if (db.open) db.close();
  });
  const open = (name: string) => {
    const db = openDatabase(join(dataDir, name));
    databases.push(db);
    return db;
  };
  let ready = false;
  let instance: () => InstanceInfo = () => ({ id: instanceId(), storage: 'sqlite', role: 'single' });
  const adapters: Adapter[] = [];
  let apiThread: ApiThread | null = null;
  try {
    // state.db: tickets, alerts, devices, dead letters; spool.db: the telemetry spool (its write rate
    // never contends with tickets); history.db: per-minute rollups.
    const spoolDb = open('spool.db');
    // Shared state: state.db, or PostgreSQL with `storage.postgres` (gateway/stores.ts).
    const stores = await openSharedStores({
      postgres: config.storage.postgres,
      deadLetters: config.storage.deadLetters.maxEntries,
      warnAtOf: (c) => firstWarningAt(config.sla, c),
      stateDb: () => open('state.db'),
    });
    components.onStop('shared stores', () => stores.close());
    const stateDb = stores.stateDb;
    const spool = new SqliteTelemetryLog(spoolDb);
    components.onStop('spool', () => spool.close());
    // WAL checkpoints of the two files written every turn run on a thread of their own (lib/checkpoint.ts).
    const checkpoints = new Checkpointer(
      stateDb ? [stateDb, spoolDb] : [spoolDb],
      logger.child({ component: 'storage' }),
    );
    await checkpoints.start();
    components.add('checkpoints', checkpoints);
    const historyStore = new SqliteHistoryStore(open('history.db'));
    const history = new History(historyStore);
    const deadLetters = stores.deadLetters;

    const registry = new DeviceRegistry(stores.devices, config.sites, config.devices);
    await registry.load();
    const ingest = new Ingest({
      log: spool,
      registry,
      deadLetters,
      logger: logger.child({ component: 'ingest' }),
      admission: config.ingest,
      knownDevices: adapterDeviceIds(config),
      ...(config.influx
        ? { measurement: config.influx.measurement, eventsMeasurement: config.influx.eventsMeasurement }
        : {}),
    });
    // Which devices this instance evaluates: all of them, or (several instances) those it owns.
    const evaluation = {
      route: (_id: string, evaluate: () => void) => evaluate(),
      owns: (_id: string) => true,
    };
    const connectivity = new ConnectivityMonitor({
      sink: ingest,
      registry,
      owns: (id) => evaluation.owns(id),
      logger: logger.child({ component: 'connectivity' }),
      offlineAfterMs: config.connectivity.offlineAfter,
    });

    let forwarder: Forwarder | null = null;
    let ticketsRef: TicketService | undefined;
    let engineRef: RuleEngine | undefined;
    let target = '';
    let housekeepingRef: Housekeeping | undefined;
    let uowRef: UnitOfWork | undefined;
    const status = () =>
      ingestStatus({
        ingest,
        log: spool,
        forwarder: forwarder ? { instance: forwarder, target } : null,
        deadLetters,
        spoolDropped: () => housekeepingRef?.spoolDropped ?? 0,
        sources: () => adapters.map((a) => a.status()),
      });
    const metrics = createMetrics(
      status,
      () => adapters,
      () => {
        const counts: Record<string, number> = { online: 0, offline: 0, unknown: 0 };
        for (const d of registry.list())
          counts[d.connectivity.state] = (counts[d.connectivity.state] ?? 0) + 1;
        return counts;
      },
      () => apiThread?.stats() ?? null,
      () => ticketsRef?.openByPriority() ?? Promise.resolve({}),
      () => engineRef,
      () => uowRef?.stats,
      () => instance(),
    );
    if (config.influx) {
      const writer = createWriter(config.influx);
      target = writer.target;
      const f = new Forwarder({
        log: spool,
        writer,
        deadLetters,
        logger: logger.child({ component: 'forwarder', target }),
        batchLines: config.influx.batchLines,
        flushIntervalMs: config.influx.flushInterval,
        retryMinMs: config.influx.retry.min,
        retryMaxMs: config.influx.retry.max,
        observeWrite: metrics.observeWrite,
      });
      spool.onCommit(() => f.notify());
      f.start();
      components.add('forwarder', f);
      forwarder = f;
      logger.info({ target, backlog: (await spool.stats()).points }, 'forwarding the spool to InfluxDB');
    }

    const alertStore = stores.alerts;
    const silences = new Silences(stores.silences, Date.now, config.maintenance, (err) =>
      logger.error({ err }, 'maintenance windows could not be reloaded'),
    );
    await silences.refresh();
    const alerts = new AlertTracker(
      alertStore,
      logger.child({ component: 'alerts' }),
      Date.now,
      (t) => silences.covering(t.device, t.event.at)?.id ?? null,
    );
    if (stores.pool) alerts.applyInParallel();
    const ticketStore = stores.tickets;
    const parts = config.parts.catalogue.length ? new PartsStock(stores.stock, config.parts) : undefined;
    await parts?.start();
    const tickets = new TicketService({
      store: ticketStore,
      policy: config.sla,
      logger: logger.child({ component: 'tickets' }),
      site: (id) => registry.site(id),
      teams: config.teams,
      routing: config.routing,
      device: (id) => registry.get(id),
      customers: config.customers,
      ...(parts ? { parts } : {}),
    });
    ticketsRef = tickets;
    // The state changes of one turn's readings commit together (lib/unit-of-work.ts); events are
    // relayed once committed.
    const uow = new UnitOfWork(stateDb, (err, stage, what) =>
      stage === 'before-commit' && what
        ? logger.error(
            { err, row: what },
            'a state change of a turn could not be stored; the rest of the turn was',
          )
        : logger.error({ err, stage }, 'state changes of a turn could not be committed'),
    );
    // A burst's readings reach the rules a few turns after they came (the spool compresses off the
    // thread): the turns between are part of the burst.
    uow.waitFor(() => spool.inFlight > 0);
    stores.writeAtCommit(uow);
    // Events for the outside world: stored with their webhook deliveries (outbox), streamed (SSE).
    const outbox = new Outbox(stores.outbox);
    outbox.relayAfter((fn) => uow.afterCommit(fn));
    uowRef = uow;
    // Spare parts: likely parts on new tickets, forecasts, low-stock events (gateway/parts.ts).
    const partsPlanner = parts
      ? await wireParts({ stock: parts, tickets, registry, outbox, logger })
      : undefined;
    const { egress, deliverer, mail } = startOutbound(config, outbox, components, logger);
    // At the stop, after the rules, SLA clocks and schedules have stopped (registered before them):
    // the transitions in flight applied, the turn committed, the rule state saved.
    let slaRef: SlaWatcher | undefined;
    let intakeRef: AlertIntake | undefined;
    // Several instances: each device evaluated by one (gateway/ownership.ts); handed over at the
    // stop, after the state flush below (stopped in reverse order).
    let plannerRef: PreventivePlanner | undefined;
    const ownership = stores.pool
      ? await openOwnership({
          pool: stores.pool,
          instance: instanceId(),
          engine: () => engine,
          alertStore,
          alerts,
          registry,
          logger,
          tookOver: (ids) => plannerRef?.loadUsage(ids) ?? Promise.resolve(),
        })
      : null;
    if (ownership) {
      components.onStop('device ownership', () => ownership.stop());
      evaluation.route = (id, evaluate) => ownership.route(id, evaluate);
      evaluation.owns = (id) => ownership.owns(id);
    }
    components.onStop('state flush', async () => {
      await alerts.idle();
      await intakeRef?.flush(); // the flapping alerts' pending summaries
      await flushEvents(); // and their latest states held back; every event stored
      await slaRef?.idle();
      uow.commit();
      stores.writeKept(); // alert history waiting for its second
      engineRef?.flushAll();
      hurry = true;
      await saveRuleState();
    });
    // SLA clocks: warnings and breaches announced at their moments, escalated along the chain;
    // what fell due while the gateway was down is announced at the start.
    let slaNotice: (n: Notice) => void = () => undefined;
    let flushEvents: () => Promise<void> = async () => undefined;
    const slaWatcher = components.add(
      'SLA clocks',
      new SlaWatcher({
        store: ticketStore,
        policy: config.sla,
        teams: config.teams,
        supervisors: Object.fromEntries(
          config.teams.flatMap((t) => (t.supervisor ? [[t.id, t.supervisor]] : [])),
        ),
        scheduler: systemScheduler,
        logger: logger.child({ component: 'sla' }),
        onNotice: (n) => {
          metrics.slaNotice(n.stage, n.target);
          slaNotice(n);
        },
      }),
    );
    slaRef = slaWatcher;
    // Preventive schedules: tickets `notice` before each visit, and the visit as a maintenance window.
    const planner = new PreventivePlanner({
      schedules: config.preventive,
      devices: () => registry.list(),
      notice: config.sla.preventive.notice,
      store: stores.preventive,
      scheduler: systemScheduler,
      logger: logger.child({ component: 'preventive' }),
      open: async (s, device, visitAt, usage) => {
        const t = await tickets.openPreventive(s, device, visitAt, usage);
        if (!t) return null;
        await silences.create({
          devices: [device.id],
          sites: [],
          from: visitAt,
          to: visitAt + s.visit,
          reason: `preventive visit: ${s.title}`,
          createdBy: 'preventive',
          ticketId: t.id,
        });
        return t.id;
      },
    });
    components.onStop('preventive schedules', async () => {
      planner.close();
      await planner.idle();
    });
    // Usage counters are counted by the instance that evaluates the device, leader or not.
    await planner.loadUsage();
    plannerRef = planner;
    // Running memory (window samples, averages) is saved at least once a minute by default;
    // transitions at the next save.
    const engine = new RuleEngine(
      rules.rules,
      undefined,
      RULE_STATE_CHECKPOINTS * config.rules.stateSaveInterval,
    );
    engineRef = engine;
    components.onStop('rules', () => engine.stop());
    // Saved in slices with the event loop free between them: 100k changed series in one
    // transaction held readings up for a quarter of a second.
    // Paced (lib/slices.ts): readings keep most of the loop; one save at a time; the stop's goes fast.
    let saving: Promise<void> = Promise.resolve();
    let hurry = false;
    const saveRuleState = (): Promise<void> => {
      saving = saving.then(async () => {
        try {
          for (let n = engine.pendingChanges; n > 0; n -= FLUSH_SLICE) {
            const started = performance.now();
            await alertStore.saveMany(engine.takeChanges(FLUSH_SLICE));
            if (n > FLUSH_SLICE) await afterSlice(performance.now() - started, !hurry);
          }
        } catch (err) {
          logger.error({ err }, 'rule state could not be saved');
        }
      });
      return saving;
    };
    let tickSaving = false;
    const saveOnTick = () => {
      if (tickSaving) return; // the last one is still going: this one's changes wait for it
      tickSaving = true;
      void saveRuleState().finally(() => {
        tickSaving = false;
      });
    };

    // readings → decode → spool → rules → alerts → tickets → notify, wired in one place.
    const intake = new AlertIntake(tickets, silences, logger.child({ component: 'tickets' }));
    intakeRef = intake;
    ({ slaNotice, flush: flushEvents } = wirePipeline({
      ingest,
      registry,
      history,
      connectivity,
      engine,
      planner,
      unitOfWork: uow,
      alerts,
      intake,
      tickets,
      slaWatcher,
      silences,
      outbox,
      shared: stores.pool !== null,
      route: evaluation.route,
      owns: evaluation.owns,
      logger,
    }));
    // Several instances: every instance's events reach this one's listeners, caches follow changes.
    const shared = stores.pool
      ? await followSharedState({
          pool: stores.pool,
          outbox,
          silences,
          registry,
          devices: stores.devices,
          components,
          logger,
        })
      : null;
    // What runs once: here, or on the leader among several instances (gateway/leadership.ts).
    await deliverer.pause();
    await mail?.pause();
    const role = await runLeaderWork({
      pool: stores.pool,
      id: instanceId(),
      components,
      logger,
      work: {
        start: async () => {
          ownership?.setSweeping(true);
          deliverer.resume();
          mail?.resume();
          await slaWatcher.start();
          await planner.start();
        },
        stop: async () => {
          ownership?.setSweeping(false);
          slaWatcher.stop();
          planner.stop();
          await deliverer.pause();
          await mail?.pause();
        },
      },
    });
    instance = () => ({
      ...role(),
      ...(shared ? { events: { notified: shared.listening(), seq: shared.follower.position } } : {}),
      ...(ownership ? { devices: ownership.count } : {}),
    });
    // Rule state survives restarts: `for`, windows, outlier baselines and no-data clocks go on —
    // of every device, or (several instances) of the devices claimed here: the configured ones now,
    // the others at their first reading.
    let ruleState: object;
    if (ownership) {
      await ownership.start();
      await ownership.claim([...new Set([...config.devices.map((x) => x.id), ...adapterDeviceIds(config)])]);
      ruleState = { devices: ownership.count };
    } else {
      ruleState = engine.load(await alertStore.loadAll(), (id) => registry.resolve(id));
      await restoreAlerts(alertStore, engine, registry);
      engine.watch(registry.list(), Date.now());
    }
    const ruleStateTimer = setInterval(saveOnTick, config.rules.stateSaveInterval);
    ruleStateTimer.unref();
    components.onStop('rule state saving', () => clearInterval(ruleStateTimer));
    logger.info(ruleState, 'rule state restored');
    const reloader = new RuleReloader(
      config.rules.files,
      process.cwd(),
      engine,
      logger.child({ component: 'rules' }),
      rules.files,
      { faultTypes: config.rules.faultTypes, devices: () => registry.list() },
    );
    components.add('rule reloader', reloader);
    if (config.rules.watch) reloader.watch();
    logger.info({ rules: rules.rules.length, files: rules.files.length, dataDir }, 'rules loaded');

    const users = new Users(stores.users, Date.now, stores.sessions);
    const sessions = new Sessions(stores.sessions, users, config.api.sessions);
    const housekeeping = new Housekeeping({
      sessions,
      registry,
      history,
      historyStore,
      historyRetentionMs: config.storage.history.retention,
      log: spool,
      spoolMaxBytes: config.storage.spool.maxSize,
      spoolMaxAgeMs: config.storage.spool.maxAge,
      logger: logger.child({ component: 'housekeeping' }),
      connectivity,
      databases: stateDb ? [stateDb] : [],
    });
    housekeeping.start();
    components.add('housekeeping', housekeeping);
    housekeepingRef = housekeeping;

    const keys = new ApiKeys(stores.keys);
    await ensureAdminKey(keys, config.api.adminKey, logger);

    const api = buildApi({
      keys,
      committed: () => uow.committed(),
      users: { users, sessions, settings: consoleSettings(config) },
      outbox,
      egress,
      deadLetters,
      ...(parts && partsPlanner ? { parts: { stock: parts, planner: partsPlanner } } : {}),
      directory: {
        technicians: () => [...new Set(config.teams.flatMap((t) => t.technicians.map((p) => p.id)))],
        customers: () => config.customers.map((c) => c.id),
        sites: () => registry.siteList().map((s) => s.id),
      },
      options: {
        metricsPublic: config.api.metricsPublic,
        rateLimit: { max: config.api.rateLimit.max, window: config.api.rateLimit.window },
        bodyLimit: config.api.bodyLimit,
        authFailures: config.api.authFailures,
        streams: config.api.streams,
        trustProxy: config.api.trustProxy,
      },
      tickets,
      alerts: alertStore,
      devices: registry,
      history,
      ...(config.influx ? { influxHistory: influxHistoryOf(config.influx) } : {}),
      ingestStatus: status,
      deviceSources: (deviceId) =>
        adapters.flatMap((a) => {
          const stats = a.deviceStats?.()[deviceId];
          return stats ? [{ adapter: a.id, protocol: a.protocol, stats }] : [];
        }),
      metrics: metrics.render,
      silences,
      faultTypes: config.rules.faultTypes,
      rules: {
        list: () => engine.rules(),
        status: () => reloader.status(),
        reload: (t) => reloader.reload(t),
      },
      logger,
      version: packageVersion(),
      ready: () => ready,
      instance: () => instance(),
    });
    components.onStop('API', () => api.close());
    // HTTP from a worker thread (api-thread.ts), or from this one.
    let apiPort: number;
    if (config.api.worker) {
      const thread = new ApiThread({ app: api, config, outbox, logger, version: packageVersion() });
      apiThread = thread;
      components.onStop('API worker', () => thread.close());
      apiPort = await thread.start();
    } else {
      await api.listen({ host: config.api.host, port: config.api.port });
      apiPort = (api.server.address() as AddressInfo).port;
    }
    const apiUrl = displayUrl('http', config.api.host, apiPort);

    let broker: EmbeddedBroker | undefined;
    if (config.mqtt.embedded.enabled) {
      broker = new EmbeddedBroker(config.mqtt.embedded);
      adapters.push(broker);
    }
    for (const cfg of config.adapters) adapters.push(await createAdapter(cfg, { models: config.models }));
    for (const a of adapters) {
      await a.start({
        sink: ingest,
        logger: logger.child({ adapter: a.id }),
        now: Date.now,
        dataDir,
        ...(stores.pool ? { instance: instanceId() } : {}),
      });
      components.add(`adapter ${a.id}`, a);
    }
    ready = true;

    const mqttUrl = broker ? broker.url() : null;
    logger.info({ api: apiUrl, mqtt: mqttUrl }, 'listening');

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        ready = false;
        // Adapters first (started last): stop reading, let in-flight readings become durable and
        // be acknowledged; deliveries in flight are abandoned and go out again at the next start;
        // what the forwarder has not shipped stays in the spool.
        await components.stopAll(logger);
        logger.info('stopped');
      })();
      return stopped;
    };
    return {
      apiUrl,
      keys,
      users,
      outbox,
      silences,
      ownership,
      unitOfWork: uow,
      mqttUrl,
      stop,
      ingest,
      spool,
      forwarder,
      history,
      housekeeping,
      tickets,
      alerts,
      intake,
      engine,
      rules: reloader,
      api,
      apiThread,
      adapters,
    };
  } catch (err) {
    await components.stopAll(logger);
    throw err;
  }
}
