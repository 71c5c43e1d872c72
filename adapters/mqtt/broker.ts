import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { AuthThrottle } from '../../lib/auth-throttle.js';
import { FaultlineError } from '../../lib/errors.js';
import { RateLimitedLog } from '../../lib/log.js';
import type { Adapter, AdapterContext, AdapterStatus } from '../types.js';
import { BrokerAuth, type BrokerUser } from './auth.js';
import { brokerExposure, type EmbeddedBrokerConfig, isLoopback } from './config.js';
import { InFlight } from './in-flight.js';
import { limitPacketSize } from './packet-limit.js';
import './packet-numbers.js';
import { DecodeReporter } from './report.js';
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
  private tlsServer: Server | undefined;
  private tlsPort: number | undefined;
  private readonly auth: BrokerAuth;
  private readonly allowAnonymous: boolean;
  /** The interface listened on (loopback unless credentials or anonymous access say otherwise). */
  private readonly host: string;
  private readonly exposureProblem: string | null;
  private readonly throttle: AuthThrottle;
  /** The account each authenticated client logged in with; absent = anonymous. */
  private readonly accounts = new WeakMap<Client, BrokerUser>();
  private warn: RateLimitedLog | undefined;
  private reporter: DecodeReporter | undefined;
  private ctx: AdapterContext | undefined;
  private port: number | undefined;
  private stopping = false;
  /** Publishes handed to the spool; each is acknowledged (PUBACK) once durable. */
  private readonly inFlight = new InFlight({
    durable: (n) => {
      this.counters.readings += n;
    },
    failed: (err) => this.ctx?.logger.error({ err }, 'readings could not be made durable; not acknowledged'),
  });
  private readonly router: TopicRouter;
  private readonly counters = {
    publishes: 0,
    readings: 0,
    refusedWhileStopping: 0,
    authFailures: 0,
    /** Logins refused unchecked: the address had failed too often (mqtt.embedded.authFailures). */
    authBlocked: 0,
    oversizedPackets: 0,
    retainCleared: 0,
    unauthorizedPublishes: 0,
    unauthorizedSubscribes: 0,
  };

  constructor(private readonly cfg: EmbeddedBrokerConfig) {
    this.router = new TopicRouter(cfg.topics);
    this.auth = new BrokerAuth(cfg.users);
    const exposure = brokerExposure(cfg);
    this.allowAnonymous = exposure.anonymous;
    this.host = exposure.host;
    this.exposureProblem = exposure.problem;
    this.throttle = new AuthThrottle(cfg.authFailures);
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (this.exposureProblem) throw new FaultlineError('FL_ERR_CONFIG', this.exposureProblem);
    this.ctx = ctx;
    this.stopping = false;
    this.warn = new RateLimitedLog(ctx.logger);
    this.reporter = new DecodeReporter(ctx, this.id);
    this.aedes = await Aedes.createBroker({
      maxTopicLevels: this.cfg.maxTopicLevels,
      drainTimeout: this.cfg.drainTimeoutMs,
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          (ok) => done(ok ? null : refusal(username), ok),
          (err: unknown) => done(refusal(username, err), false),
        );
      },
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
    });
    this.aedes.on('clientError', (client, err) => {
      ctx.logger.debug({ clientId: client.id, err: err.message }, 'mqtt client error');
    });
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    if (this.cfg.tls) await this.listenTls(this.cfg.tls);
    if (this.allowAnonymous && !isLoopback(this.host)) {
      ctx.logger.warn(
        { host: this.host },
        'the embedded broker accepts anonymous clients on a network interface (mqtt.embedded.allowAnonymous: true): anyone who reaches it can send readings and open tickets; configure mqtt.embedded.users for production',
      );
    } else if (isLoopback(this.host) && this.cfg.host === undefined) {
      ctx.logger.info(
        { host: this.host },
        'the embedded broker listens on loopback only, since no device credentials are configured (mqtt.embedded.users; docs/security.md)',
      );
    }
  }

  /** A new connection: aedes handles it, with the packet size capped (issue 18). */
  private accept(socket: import('node:net').Socket): void {
    const aedes = this.aedes;
    if (!aedes) {
      socket.destroy();
      return;
    }
    // PUBACKs follow the spool's commits in bursts: sent at once, not held by Nagle's algorithm.
    socket.setNoDelay(true);
    const client = aedes.handle(socket) as unknown as { _parser?: unknown };
    limitPacketSize(client._parser, this.cfg.maxPacketSize, () => {
      this.counters.oversizedPackets++;
      this.warn?.warn(
        `oversize:${socket.remoteAddress}`,
        { address: socket.remoteAddress, maxPacketSize: this.cfg.maxPacketSize },
        'MQTT packet over mqtt.embedded.maxPacketSize: connection closed',
      );
      socket.destroy();
    });
  }

  private async listenTls(tls: NonNullable<EmbeddedBrokerConfig['tls']>): Promise<void> {
    const options: Parameters<typeof createTlsServer>[0] = {
      cert: await readFile(tls.cert),
      key: await readFile(tls.key),
      requestCert: tls.requestClientCert,
      rejectUnauthorized: tls.requestClientCert,
    };
    if (tls.ca) options.ca = await readFile(tls.ca);
    const server = createTlsServer(options, (socket) => this.accept(socket));
    this.tlsServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tls.port, tls.host ?? this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.tlsPort = (server.address() as AddressInfo).port;
  }

  /** The mqtts URL of the TLS listener, when there is one. */
  tlsUrl(): string | null {
    if (this.tlsPort === undefined) return null;
    const h = this.cfg.tls?.host ?? this.host;
    return `mqtts://${h.includes(':') ? `[${h}]` : h}:${this.tlsPort}`;
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<boolean> {
    const address = addressOf(client);
    if (username === undefined || username === '') {
      if (!this.allowAnonymous) this.counters.authFailures++;
      return this.allowAnonymous;
    }
    // A blocked address is refused before its password is checked: bcrypt costs the broker more
    // than a guess costs the attacker.
    if ((await this.throttle.blockedFor(address)) > 0) {
      this.counters.authBlocked++;
      return false;
    }
    const user = await this.auth.verify(username, password);
    if (!user) {
      this.counters.authFailures++;
      const blockedMs = await this.throttle.failed(address);
      this.warn?.warn(
        `auth:${address}`,
        { clientId: client.id, username, address, ...(blockedMs > 0 ? { blockedMs } : {}) },
        blockedMs > 0
          ? 'MQTT logins from this address blocked after repeated failures'
          : 'MQTT login refused',
      );
      return false;
    }
    this.accounts.set(client, user);
    return true;
  }

  private authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (err: Error | null, sub?: Subscription | null) => void,
  ): void {
    const user = this.accounts.get(client);
    if (user && !this.auth.maySubscribe(user, sub.topic)) {
      this.counters.unauthorizedSubscribes++;
      this.warn?.warn(
        `sub:${user.username}`,
        { clientId: client.id, username: user.username, topic: sub.topic },
        'subscription refused',
      );
      done(null, null); // SUBACK 0x80 for this filter; the connection stays
      return;
    }
    done(null, sub);
  }

  /** [MQTT-3.3.5-2]: an unauthorised PUBLISH is answered by closing the connection. */
  private refusePublish(
    client: Client,
    topic: string,
    why: string,
    done: (err?: Error | null) => void,
  ): void {
    this.counters.unauthorizedPublishes++;
    const username = this.accounts.get(client)?.username;
    this.warn?.warn(
      `pub:${username ?? client.id}`,
      { clientId: client.id, username, topic, why },
      'publish refused',
    );
    done(new Error(`publish to ${topic} refused: ${why}`));
  }

  /** The URL of the listener as bound: `mqtt://0.0.0.0:1883` when it serves every interface. */
  url(): string {
    const host = this.host;
    return `mqtt://${host.includes(':') ? `[${host}]` : host}:${this.port ?? this.cfg.port}`;
  }

  async stop(): Promise<void> {
    if (!this.aedes || this.stopping) return;
    this.stopping = true;
    const servers = [this.server, this.tlsServer].filter((x): x is Server => x !== undefined);
    const closed = Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    // Readings already being made durable finish and are acknowledged before clients are dropped.
    await this.inFlight.drained();
    const aedes = this.aedes;
    await new Promise<void>((r) => aedes.close(() => r()));
    await closed;
    this.aedes = undefined;
    this.server = undefined;
    this.tlsServer = undefined;
  }

  status(): AdapterStatus {
    return {
      id: this.id,
      protocol: this.protocol,
      state: this.aedes && !this.stopping ? 'running' : 'stopped',
      details: {
        url: this.url(),
        tlsUrl: this.tlsUrl(),
        anonymous: this.allowAnonymous,
        connectedClients: this.aedes?.connectedClients ?? 0,
        ...this.counters,
        rejected: this.reporter?.counters.rejected ?? 0,
        decoderWarnings: this.reporter?.counters.warnings ?? 0,
      },
    };
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    // aedes publishing an obsolete will without a connected client.
    if (client === null) {
      done(null);
      return;
    }
    // $SYS and other $ topics are the broker's own (aedes #597).
    if (packet.topic.startsWith('$')) {
      this.refusePublish(client, packet.topic, 'topics starting with $ are reserved', done);
      return;
    }
    const user = this.accounts.get(client);
    const ctx = this.ctx as AdapterContext;
    const receivedAt = ctx.now();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const decoded = this.router.route(packet.topic, payload, receivedAt, this.id);
    if (decoded === undefined) {
      // Not a telemetry topic: plain broker traffic, within the account's own namespace.
      if (user && !this.auth.mayPublishTopic(user, packet.topic)) {
        this.refusePublish(
          client,
          packet.topic,
          `account "${user.username}" may publish only under devices/<its devices>/`,
          done,
        );
        return;
      }
      done(null);
      return;
    }
    if (user) {
      const foreign = decoded.points.find((p) => !this.auth.publishesFor(user, p.deviceId));
      if (foreign) {
        this.refusePublish(
          client,
          packet.topic,
          `account "${user.username}" may not publish for device "${foreign.deviceId}"`,
          done,
        );
        return;
      }
    }
    if (this.stopping) {
      // No PUBACK: the device keeps the message and sends it again after reconnecting.
      this.counters.refusedWhileStopping++;
      done(new Error('gateway is stopping'));
      return;
    }
    this.counters.publishes++;
    if (packet.retain && !this.cfg.retainTelemetry) {
      // Delivered to subscribers, not stored as the topic's retained message.
      packet.retain = false;
      this.counters.retainCleared++;
    }
    this.reporter?.report(decoded, packet.topic, payload, receivedAt);
    if (decoded.points.length === 0) {
      done(null);
      return;
    }
    this.inFlight.add(ctx.sink.accept(decoded.points), decoded.points.length, (err) =>
      done(err === undefined ? null : err instanceof Error ? err : new Error(String(err))),
    );
  }
}

/** The remote address of a client's connection ('unknown' when the socket is already gone). */
function addressOf(client: Client): string {
  const conn = (client as unknown as { conn?: { remoteAddress?: string } }).conn;
  return conn?.remoteAddress ?? 'unknown';
}

/** CONNACK return code 4 (bad user name or password) or 5 (not authorized, no credentials). */
function refusal(username: string | undefined, cause?: unknown): AuthenticateError {
  const err = new Error(
    cause ? `authentication failed: ${String(cause)}` : 'bad user name or password',
  ) as AuthenticateError;
  (err as { returnCode: number }).returnCode = username ? 4 : 5;
  return err;
}
