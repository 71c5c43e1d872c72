import { type AddressInfo, createServer, type Server } from 'node:net';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import type { Adapter, AdapterContext, AdapterStatus } from '../types.js';
import type { EmbeddedBrokerConfig } from './config.js';
import type { DecodeProblem } from './decoders/index.js';
import { TopicRouter } from './router.js';

export const EMBEDDED_BROKER_ID = 'mqtt-embedded';

/**
 * The embedded MQTT broker (aedes). Telemetry published to it is decoded and made durable inside
 * `authorizePublish`, which aedes runs before it writes the PUBACK: a QoS 1 reading is
 * acknowledged only once it is in the telemetry log. A malformed payload is dead-lettered and still
 * acknowledged, so that a poison message cannot block its device.
 */
export class EmbeddedBroker implements Adapter {
  readonly id = EMBEDDED_BROKER_ID;
  readonly protocol = 'mqtt' as const;
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private ctx: AdapterContext | undefined;
  private port: number | undefined;
  private stopping = false;
  private inFlight = new Set<Promise<void>>();
  private readonly router: TopicRouter;
  private readonly counters = { publishes: 0, readings: 0, rejected: 0, refusedWhileStopping: 0 };

  constructor(private readonly cfg: EmbeddedBrokerConfig) {
    this.router = new TopicRouter(cfg.topics);
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.stopping = false;
    this.aedes = await Aedes.createBroker({
      maxTopicLevels: this.cfg.maxTopicLevels,
      drainTimeout: this.cfg.drainTimeoutMs,
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
    });
    this.aedes.on('clientError', (client, err) => {
      ctx.logger.debug({ clientId: client.id, err: err.message }, 'mqtt client error');
    });
    const server = createServer(this.aedes.handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.cfg.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
  }

  /** The URL devices connect to (the loopback address when listening on every interface). */
  url(): string {
    const host = this.cfg.host === '0.0.0.0' || this.cfg.host === '::' ? '127.0.0.1' : this.cfg.host;
    return `mqtt://${host.includes(':') ? `[${host}]` : host}:${this.port ?? this.cfg.port}`;
  }

  async stop(): Promise<void> {
    if (!this.aedes || this.stopping) return;
    this.stopping = true;
    const server = this.server;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    // Readings already being made durable finish and are acknowledged before clients are dropped.
    await Promise.allSettled([...this.inFlight]);
    const aedes = this.aedes;
    await new Promise<void>((r) => aedes.close(() => r()));
    await closed;
    this.aedes = undefined;
    this.server = undefined;
  }

  status(): AdapterStatus {
    return {
      id: this.id,
      protocol: this.protocol,
      state: this.aedes && !this.stopping ? 'running' : 'stopped',
      details: { url: this.url(), connectedClients: this.aedes?.connectedClients ?? 0, ...this.counters },
    };
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    // Publishes from the broker itself (client null) and $SYS traffic are not telemetry.
    if (client === null || packet.topic.startsWith('$')) {
      done(null);
      return;
    }
    const ctx = this.ctx as AdapterContext;
    const receivedAt = ctx.now();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const decoded = this.router.route(packet.topic, payload, receivedAt, this.id);
    if (decoded === undefined) {
      // Not a telemetry topic: plain broker traffic.
      done(null);
      return;
    }
    if (this.stopping) {
      // No PUBACK: the device keeps the message and sends it again after reconnecting.
      this.counters.refusedWhileStopping++;
      done(new Error('gateway is stopping'));
      return;
    }
    this.counters.publishes++;
    reportProblems(
      ctx,
      decoded.problems,
      { at: receivedAt, source: this.id, origin: packet.topic, payload },
      () => this.counters.rejected++,
    );
    if (decoded.points.length === 0) {
      done(null);
      return;
    }
    const deviceId = decoded.points[0]?.deviceId;
    const p = ctx.sink.accept(decoded.points).then(
      () => {
        this.counters.readings += decoded.points.length;
        done(null);
      },
      (err: unknown) => {
        ctx.logger.error({ err, deviceId }, 'reading could not be made durable; not acknowledged');
        done(err instanceof Error ? err : new Error(String(err)));
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

/**
 * Dead-letters what a decoder could not use: each rejected reading on its own, and the dropped
 * parts of kept readings together as one entry per message.
 */
export function reportProblems(
  ctx: AdapterContext,
  problems: readonly DecodeProblem[],
  where: { at: number; source: string; origin: string; payload: Buffer },
  onRejected: () => void,
): void {
  const partial = problems.filter((p) => p.partial);
  for (const p of problems) {
    if (p.partial) continue;
    onRejected();
    ctx.sink.reject({ ...where, deviceId: p.deviceId, reason: p.reason });
  }
  if (partial.length) {
    ctx.sink.reject(
      { ...where, deviceId: partial[0]?.deviceId ?? null, reason: partial.map((p) => p.reason).join('; ') },
      true,
    );
  }
}
