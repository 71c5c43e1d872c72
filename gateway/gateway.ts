import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { EmbeddedBroker } from '../adapters/mqtt/broker.js';
import type { Adapter } from '../adapters/types.js';
import { buildApi } from '../api/app.js';
import { SqliteDeadLetterStore } from '../ingest/dead-letters.js';
import { DeviceRegistry } from '../ingest/devices.js';
import { Ingest } from '../ingest/ingest.js';
import { SqliteDeviceStore } from '../ingest/sqlite-device-store.js';
import { SqliteTelemetryLog } from '../ingest/telemetry-log.js';
import { FaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { packageVersion } from '../lib/package-root.js';
import { formatIssue } from '../lib/source-errors.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { AlertTracker } from '../rules/alerts.js';
import { RuleEngine } from '../rules/engine.js';
import { loadRuleFiles } from '../rules/load.js';
import { SqliteAlertStore } from '../rules/sqlite-alert-store.js';
import { TicketService } from '../tickets/service.js';
import { SqliteTicketStore } from '../tickets/sqlite-store.js';
import type { Config } from './config/schema.js';

export interface RunningGateway {
  apiUrl: string;
  mqttUrl: string | null;
  stop(): Promise<void>;
  /** The parts, for tests and the demo. */
  readonly ingest: Ingest;
  readonly tickets: TicketService;
  readonly alerts: AlertTracker;
  readonly engine: RuleEngine;
  readonly api: FastifyInstance;
}

const DEVICE_FLUSH_MS = 5_000; // how often last values are persisted
const PRUNE_EVERY_MS = 60_000; // how often the telemetry log's retention is enforced

/**
 * Wires every part together and starts it: stores, rules, tickets, API, then the adapters (so that
 * nothing is acknowledged before the pipeline behind it is ready). `stop()` reverses the order.
 */
export async function startGateway(config: Config, logger: Logger): Promise<RunningGateway> {
  const rules = await loadRuleFiles(config.rules.files, process.cwd());
  if (rules.issues.length) {
    throw new FaultlineError(
      'FL_ERR_RULES_INVALID',
      `invalid rules:\n${rules.issues.map(formatIssue).join('\n')}`,
    );
  }
  if (rules.rules.length === 0)
    logger.warn({ files: config.rules.files }, 'no rules loaded: no tickets will be opened from telemetry');

  const dataDir = config.storage.dataDir;
  const databases: SqliteDatabase[] = [];
  const timers: NodeJS.Timeout[] = [];
  const started: { stop(): Promise<unknown> }[] = [];
  let ready = false;
  try {
    const stateDb = openDatabase(join(dataDir, 'state.db'));
    databases.push(stateDb);
    const spoolDb = openDatabase(join(dataDir, 'spool.db'));
    databases.push(spoolDb);

    const registry = new DeviceRegistry(new SqliteDeviceStore(stateDb), config.sites, config.devices);
    await registry.load();
    const telemetryLog = new SqliteTelemetryLog(spoolDb);
    const ingest = new Ingest({
      log: telemetryLog,
      registry,
      deadLetters: new SqliteDeadLetterStore(stateDb, config.storage.deadLetters.maxEntries),
      logger: logger.child({ component: 'ingest' }),
    });

    const alertStore = new SqliteAlertStore(stateDb);
    const alerts = new AlertTracker(alertStore, logger.child({ component: 'alerts' }));
    const tickets = new TicketService({
      store: new SqliteTicketStore(stateDb),
      policy: config.sla,
      logger: logger.child({ component: 'tickets' }),
      site: (id) => registry.site(id),
    });
    const engine = new RuleEngine(rules.rules);
    engine.onTransition((t) => alerts.handle(t));
    alerts.onFiring(async (alert, t) => {
      await tickets.openFromAlert(alert, t);
    });
    alerts.onResolved((alert) => tickets.alertResolved(alert));
    await restoreAlerts(alertStore, engine, registry);
    ingest.onReading((point, device) => engine.onReading(point, device));
    logger.info({ rules: rules.rules.length, files: rules.files.length, dataDir }, 'rules loaded');

    const api = buildApi({
      tickets,
      alerts: alertStore,
      devices: registry,
      logger,
      version: packageVersion(),
      ready: () => ready,
    });
    await api.listen({ host: config.api.host, port: config.api.port });
    started.push({ stop: () => api.close() });
    const addr = api.server.address() as AddressInfo;
    const apiHost = config.api.host === '0.0.0.0' || config.api.host === '::' ? '127.0.0.1' : config.api.host;
    const apiUrl = `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${addr.port}`;

    const adapters: Adapter[] = [];
    let broker: EmbeddedBroker | undefined;
    if (config.mqtt.embedded.enabled) {
      broker = new EmbeddedBroker(config.mqtt.embedded);
      adapters.push(broker);
    }
    for (const a of adapters) {
      await a.start({ sink: ingest, logger: logger.child({ adapter: a.id }), now: Date.now });
      started.push(a);
    }

    timers.push(
      setInterval(
        () => registry.flush().catch((err: unknown) => logger.error({ err }, 'device flush failed')),
        DEVICE_FLUSH_MS,
      ),
    );
    const retentionMs = config.storage.telemetryLog.retention;
    timers.push(
      setInterval(() => {
        telemetryLog
          .pruneOlderThan(Date.now() - retentionMs)
          .then((dropped) => {
            if (dropped > 0)
              logger.warn(
                { dropped, retentionMs },
                'telemetry log pruned: readings older than the retention were dropped',
              );
          })
          .catch((err: unknown) => logger.error({ err }, 'telemetry log prune failed'));
      }, PRUNE_EVERY_MS),
    );
    for (const t of timers) t.unref();
    ready = true;

    const mqttUrl = broker ? broker.url() : null;
    logger.info({ api: apiUrl, mqtt: mqttUrl }, 'listening');

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        ready = false;
        for (const t of timers) clearInterval(t);
        // Adapters first: stop reading, let in-flight readings become durable and be acknowledged.
        for (const a of [...adapters].reverse()) {
          await a.stop().catch((err: unknown) => logger.error({ err, adapter: a.id }, 'adapter stop failed'));
        }
        engine.stop();
        await alerts.idle();
        await api.close();
        await telemetryLog.close();
        await registry.flush();
        for (const db of databases) db.close();
        logger.info('stopped');
      })();
      return stopped;
    };
    return { apiUrl, mqttUrl, stop, ingest, tickets, alerts, engine, api };
  } catch (err) {
    for (const t of timers) clearInterval(t);
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    for (const db of databases) if (db.open) db.close();
    throw err;
  }
}

/** Seeds the rule engine with the alerts that were pending or firing when the gateway last stopped. */
async function restoreAlerts(
  store: SqliteAlertStore,
  engine: RuleEngine,
  registry: DeviceRegistry,
): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await store.list({ state: ['firing', 'pending'] }, 500, cursor);
    for (const a of page.items) engine.restore(a, registry.resolve(a.deviceId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
