import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { DeviceRegistry } from '../ingest/devices.js';
import type { History } from '../ingest/history.js';
import type { IngestStatus } from '../ingest/status.js';
import type { Logger } from '../lib/log.js';
import type { AlertStore } from '../rules/alerts.js';
import type { ReloadResult, ReloadTrigger, RuleSetStatus } from '../rules/reloader.js';
import type { Rule } from '../rules/schema.js';
import type { SilenceStore } from '../rules/silences.js';
import type { TicketService } from '../tickets/service.js';
import { installProblemHandlers } from './problem.js';
import { alertRoutes } from './routes/alerts.js';
import { customerRoutes } from './routes/customers.js';
import { deviceRoutes } from './routes/devices.js';
import { ingestRoutes } from './routes/ingest.js';
import { ruleRoutes } from './routes/rules.js';
import { silenceRoutes } from './routes/silences.js';
import { ticketRoutes } from './routes/tickets.js';

export interface ApiDeps {
  tickets: TicketService;
  alerts: AlertStore;
  devices: DeviceRegistry;
  history: History;
  /** How each device is read: the adapter and its poll statistics, where an adapter keeps them. */
  deviceSources: (
    deviceId: string,
  ) => { adapter: string; protocol: string; stats: Record<string, unknown> }[];
  ingestStatus: () => Promise<IngestStatus>;
  /** The loaded rules, the last reload, and a reload. */
  rules: {
    list(): Rule[];
    status(): RuleSetStatus;
    reload(trigger: ReloadTrigger): Promise<ReloadResult>;
  };
  /** Fault types tickets may have (`rules.faultTypes`). */
  faultTypes: readonly string[];
  /** Maintenance windows. */
  silences: SilenceStore;
  /** Prometheus exposition (`GET /metrics`). */
  metrics: () => Promise<{ contentType: string; body: string }>;
  logger: Logger;
  version: string;
  /** Whether stores are open and adapters started (for `/ready`). */
  ready: () => boolean;
}

/** The Fastify app: one plugin per resource under `/api/v1`, health outside it. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // Requests are counted, not logged one by one.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1_048_576, // 1 MiB
  });
  installProblemHandlers(app);

  app.get('/health', async () => ({ status: 'ok', version: deps.version }));
  app.get('/ready', async (_req, reply) => {
    const ready = deps.ready();
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'starting' };
  });

  // Public until API keys arrive (issue 9), then a key unless configured public (CONTRACTS.md).
  app.get('/metrics', async (_req, reply) => {
    const m = await deps.metrics();
    return reply.type(m.contentType).send(m.body);
  });

  app.register(
    async (v1) => {
      v1.register(ticketRoutes(deps.tickets, deps.faultTypes));
      v1.register(customerRoutes(deps.tickets, deps.devices));
      v1.register(alertRoutes(deps.alerts));
      v1.register(deviceRoutes(deps.devices, deps.history, deps.deviceSources));
      v1.register(ingestRoutes(deps.ingestStatus));
      v1.register(ruleRoutes(deps.rules));
      v1.register(silenceRoutes(deps.silences));
    },
    { prefix: '/api/v1' },
  );
  return app;
}
