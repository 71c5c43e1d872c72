import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { DeviceRegistry } from '../ingest/devices.js';
import type { History } from '../ingest/history.js';
import type { IngestStatus } from '../ingest/status.js';
import type { DeadLetterStore } from '../ingest/store.js';
import { type AuthFailuresConfig, AuthThrottle, authFailuresSchema } from '../lib/auth-throttle.js';
import { FaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { EgressPolicy } from '../notify/egress.js';
import type { Outbox } from '../notify/outbox.js';
import type { PartsPlanner } from '../parts/planner.js';
import type { PartsStock } from '../parts/stock.js';
import type { ReloadResult, ReloadTrigger, RuleSetStatus } from '../rules/reloader.js';
import type { Rule } from '../rules/schema.js';
import type { Silences } from '../rules/silences.js';
import type { AlertStore } from '../rules/store.js';
import type { TicketService } from '../tickets/service.js';
import { type ApiKeys, StreamTokens } from './auth.js';
import { installConsole } from './console.js';
import { type Forward, installForwarding } from './forward.js';
import { installAuth } from './guard.js';
import { installProblemHandlers } from './problem.js';
import { alertRoutes } from './routes/alerts.js';
import { customerRoutes } from './routes/customers.js';
import { deviceRoutes, type InfluxHistory } from './routes/devices.js';
import { eventRoutes } from './routes/events.js';
import { ingestRoutes } from './routes/ingest.js';
import { keyRoutes } from './routes/keys.js';
import { partRoutes } from './routes/parts.js';
import { ruleRoutes } from './routes/rules.js';
import { type ConsoleSettings, sessionRoutes } from './routes/session.js';
import { silenceRoutes } from './routes/silences.js';
import { statsRoutes } from './routes/stats.js';
import { teamRoutes } from './routes/teams.js';
import { ticketRoutes } from './routes/tickets.js';
import { userRoutes } from './routes/users.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { Sessions } from './sessions.js';
import { refuseNulText } from './text-guard.js';
import type { Users } from './users.js';

export interface InstanceInfo {
  id: string;
  storage: 'sqlite' | 'postgres';
  /** `single`: the only instance (SQLite); `leader` / `standby` among several on PostgreSQL. */
  role: 'single' | 'leader' | 'standby';
  /**
   * With PostgreSQL: whether this instance hears other instances' events by notification (else it
   * polls every 2 s), and the last event it relayed to its streams.
   */
  events?: { notified: boolean; seq: number };
  /** With PostgreSQL: how many devices this instance evaluates (the others' are evaluated elsewhere). */
  devices?: number;
}

export interface ApiDeps {
  tickets: TicketService;
  alerts: AlertStore;
  devices: DeviceRegistry;
  history: History;
  /** With `influx` configured: a metric's history from InfluxDB (charts over months, every reading). */
  influxHistory?: InfluxHistory;
  /** How each device is read: the adapter and its poll statistics, where an adapter keeps them. */
  deviceSources: (
    deviceId: string,
  ) => { adapter: string; protocol: string; stats: Record<string, unknown> }[];
  ingestStatus: () => Promise<IngestStatus>;
  /** Rejected input (`GET /ingest/dead-letters`). */
  deadLetters?: DeadLetterStore;
  /** Who keys may be bound to: technicians of the teams, customers, sites (checked when keys are made). */
  directory?: { technicians: () => string[]; customers: () => string[]; sites: () => string[] };
  /** The loaded rules, the last reload, and a reload. */
  rules: {
    list(): Rule[];
    status(): RuleSetStatus;
    reload(trigger: ReloadTrigger): Promise<ReloadResult>;
  };
  /** Fault types tickets may have (`rules.faultTypes`). */
  faultTypes: readonly string[];
  /** Maintenance windows. */
  silences: Silences;
  /** API keys: who may call, with which role. */
  keys: ApiKeys;
  /** Console users and their sign-in sessions (issue 21); without them, API keys only. */
  users?: { users: Users; sessions: Sessions; settings: ConsoleSettings };
  /** Events (SSE) and webhook subscriptions. */
  outbox: Outbox;
  /** Which URLs may receive webhooks (default: public addresses only). */
  egress?: EgressPolicy;
  /** Spare parts stock and planning (routes only when a catalogue is configured). */
  parts?: { stock: PartsStock; planner: PartsPlanner };
  /** Prometheus exposition (`GET /metrics`). */
  metrics: () => Promise<{ contentType: string; body: string }>;
  logger: Logger;
  version: string;
  /** Whether stores are open and adapters started (for `/ready`). */
  ready: () => boolean;
  /** This gateway instance: its id, where its state lives, and whether it leads (issue 20). */
  instance?: () => InstanceInfo;
  /**
   * Resolves once the state changes made so far are committed, rejects if that commit failed (the
   * state path's unit of work spans the turns of a burst, lib/unit-of-work.ts): the answer to a
   * write waits for it, so that a client told "done" reads its change from any connection, no crash
   * takes back what was confirmed, and a rolled-back write is answered FL_ERR_STATE_NOT_STORED.
   */
  committed?: () => Promise<void>;
  /**
   * In the API worker: where the routes it does not serve go (`forward.ts`). Their handlers do not
   * run here, so the dependencies only they use are never called in the worker.
   */
  forward?: Forward;
  /** The `api` section's limits (defaults as in the configuration). */
  options?: {
    metricsPublic?: boolean;
    rateLimit?: { max: number; window: number };
    bodyLimit?: number;
    authFailures?: AuthFailuresConfig;
    /** Event streams open at once, per key and in all. */
    streams?: { perKey: number; total: number };
    /** Reverse proxies whose X-Forwarded-* headers are believed (`api.trustProxy`). */
    trustProxy?: string[];
  };
}

export type Api = FastifyInstance;

/**
 * The Fastify app: one plugin per resource under `/api/v1`, health outside it. Every route declares
 * its zod schemas (validation, and the OpenAPI document at `/api/v1/openapi.json`, browsable at
 * `/docs`) and the permission it needs; `guard.ts` checks the key and the permission before the
 * handler runs. Security headers (helmet) and rate limits (per key, else per address) on every route.
 */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const opts = deps.options ?? {};
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // Requests are counted, not logged one by one.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    ...(opts.trustProxy?.length ? { trustProxy: opts.trustProxy } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);
  if (deps.forward) installForwarding(app as unknown as FastifyInstance, deps.forward);
  const committed = deps.committed;
  if (committed)
    app.addHook('onSend', async (req, reply, payload) => {
      // A refusal changed nothing; a write whose commit failed was rolled back: told so (503).
      if (req.method === 'GET' || req.method === 'HEAD' || reply.statusCode >= 400) return payload;
      try {
        await committed();
      } catch (err) {
        throw new FaultlineError(
          'FL_ERR_STATE_NOT_STORED',
          'the change was made but could not be stored (state.db could not commit; see the gateway log): it is not kept, retry later',
          { cause: err },
        );
      }
      return payload;
    });

  app.register(helmet, {
    // The API answers JSON; the documentation page and the console need their own scripts and styles only.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        // Served over plain HTTP on a plant network too: upgrading the console's requests to HTTPS
        // would break it there. TLS is the proxy's (`api.trustProxy`).
        upgradeInsecureRequests: null,
      },
    },
  });
  app.register(rateLimit, {
    max: opts.rateLimit?.max ?? 1200,
    timeWindow: opts.rateLimit?.window ?? 60_000,
    // Counted once the key is known (after guard.ts): per verified key, else per address. Keyed on
    // what was sent, rotating made-up tokens would open a new bucket each time (issue 18); those are
    // refused before this, and throttled per address there.
    hook: 'preHandler',
    keyGenerator: (req) => (req.principal ? `key:${req.principal.keyId}` : `ip:${req.ip}`),
    // Thrown to the error handler: the same problem+json as every other error.
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(
        new FaultlineError(
          'FL_ERR_API_RATE_LIMITED',
          `at most ${ctx.max} requests per ${ctx.after}; retry later`,
        ),
        { statusCode: 429 },
      ),
  });
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Faultline API',
        version: deps.version,
        description:
          'Tickets, alerts, devices, rules and statistics of the Faultline gateway. Errors are RFC 9457 problem+json (docs/errors.md).',
      },
      servers: [{ url: '/' }],
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  app.register(swaggerUi, { routePrefix: '/docs', staticCSP: false });
  refuseNulText(app as unknown as FastifyInstance);
  const tokens = new StreamTokens(deps.keys);
  const throttle = new AuthThrottle(opts.authFailures ?? authFailuresSchema.parse({}));
  if (deps.users) deps.users.sessions.install(app as unknown as FastifyInstance);
  installAuth(app as unknown as FastifyInstance, deps.keys, tokens, throttle, deps.users?.sessions);

  installConsole(app as unknown as FastifyInstance);

  app.after(() => {
    // Answered by the main thread (not the API worker): it knows this instance's role.
    app.get('/health', { config: { access: 'public' }, schema: { hide: true } }, async () => ({
      status: 'ok',
      version: deps.version,
      ...(deps.instance ? { instance: deps.instance() } : {}),
    }));
    app.get('/ready', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => {
      const ready = deps.ready();
      reply.code(ready ? 200 : 503);
      return { status: ready ? 'ready' : 'starting' };
    });
    app.get(
      '/metrics',
      { config: { access: opts.metricsPublic ? 'public' : 'metrics:read' }, schema: { hide: true } },
      async (_req, reply) => {
        const m = await deps.metrics();
        return reply.type(m.contentType).send(m.body);
      },
    );
  });

  app.register(
    async (v1) => {
      v1.get(
        '/openapi.json',
        { config: { access: 'public', worker: true }, schema: { hide: true } },
        async () => app.swagger(),
      );
      v1.register(ticketRoutes(deps.tickets, deps.faultTypes));
      v1.register(customerRoutes(deps.tickets, deps.devices));
      v1.register(teamRoutes(deps.tickets));
      v1.register(alertRoutes(deps.alerts, deps.devices, (ids) => deps.tickets.ticketsOfAlerts(ids)));
      v1.register(deviceRoutes(deps.devices, deps.history, deps.deviceSources, deps.influxHistory));
      v1.register(ingestRoutes(deps.ingestStatus, deps.deadLetters, deps.devices));
      v1.register(ruleRoutes(deps.rules, deps.faultTypes));
      v1.register(silenceRoutes(deps.silences, deps.devices));
      v1.register(keyRoutes(deps.keys, deps.directory));
      if (deps.users) {
        v1.register(sessionRoutes(deps.users.users, deps.users.sessions, throttle, deps.users.settings));
        v1.register(userRoutes(deps.users.users, deps.directory));
      }
      v1.register(statsRoutes(deps.tickets));
      v1.register(eventRoutes(deps.outbox, tokens, opts.streams));
      v1.register(webhookRoutes(deps.outbox, deps.egress ?? new EgressPolicy()));
      if (deps.parts) v1.register(partRoutes(deps.parts.stock, deps.parts.planner, deps.tickets));
    },
    { prefix: '/api/v1' },
  );
  return app as unknown as FastifyInstance;
}
