import { readFile } from 'node:fs/promises';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { backoffDelay } from '../../lib/backoff.js';
import { RateLimitedLog } from '../../lib/log.js';
import { redactUrl } from '../../lib/redact.js';
import type { Adapter, AdapterContext, AdapterStatus } from '../types.js';
import type { MqttClientConfig } from './client-config.js';
import { InFlight } from './in-flight.js';
import './packet-numbers.js';
import { DecodeReporter } from './report.js';
import { TopicRouter } from './router.js';

/** Readings being made durable at once, at most; past it, reading from the broker pauses. */
const MAX_IN_FLIGHT = 5_000;

const noTrace = (): void => undefined;

type SendPacket = (packet: { cmd: string; messageId?: number }, cb?: () => void, ...rest: unknown[]) => void;

/**
 * A connection to an existing broker. Readings are acknowledged (PUBACK) only after they are in the
 * spool: mqtt.js sends the PUBACK when `handleMessage` calls back, and handles a connection's
 * messages one after another. With a persistent session (`clean: false`, MQTT 5 session expiry)
 * the broker keeps QoS 1 messages for Faultline while it is away, so a restart or crash loses
 * nothing; a message that was spooled but not yet acknowledged arrives again (an identical
 * duplicate, which InfluxDB overwrites). Reconnects use capped exponential backoff with jitter
 * (not mqtt.js's fixed period), so that many gateways do not storm a restarted broker.
 */
export class MqttClientAdapter implements Adapter {
  readonly protocol = 'mqtt' as const;
  readonly id: string;
  private client: MqttClient | undefined;
  private ctx: AdapterContext | undefined;
  private readonly router: TopicRouter;
  private stopping = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new InFlight({
    durable: (n) => {
      this.counters.readings += n;
    },
    failed: (err) => this.notDurable(err),
    released: () => this.resume(),
  });
  /** mqtt.js callbacks held back while too many messages are in flight. */
  private readonly paused: (() => void)[] = [];
  /** QoS 1 messages handed to the spool whose PUBACK waits for it, by message id. */
  private readonly pendingAcks = new Map<number, Promise<void>>();
  private warn: RateLimitedLog | undefined;
  private reporter: DecodeReporter | undefined;
  private readonly counters = {
    connected: false,
    connects: 0,
    disconnects: 0,
    messages: 0,
    readings: 0,
    unmatched: 0,
    /** Spool commits that failed: their messages were not acknowledged (the connection dropped). */
    spoolFailures: 0,
    lastError: null as string | null,
    lastConnectAt: null as number | null,
    sessionPresent: false,
    /** The broker confirmed the subscriptions (SUBACK) on this connection. */
    subscribed: false,
  };

  constructor(private readonly cfg: MqttClientConfig) {
    this.id = cfg.id;
    this.router = new TopicRouter(cfg.subscriptions);
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.stopping = false;
    this.warn = new RateLimitedLog(ctx.logger);
    this.reporter = new DecodeReporter(ctx, this.id);
    const client = mqtt.connect(this.cfg.url, await this.options());
    this.client = client;
    // Handlers are installed before the first connect (manualConnect), so no message is missed.
    client.handleMessage = (packet, callback) => this.onMessage(packet, callback);
    this.deferAcks(client);
    client.on('connect', (connack) => {
      // PUBACKs are small and go out in bursts after each spool commit: with Nagle's algorithm the
      // later ones wait for the broker's delayed ACK (~40 ms), and a broker that allows few
      // messages in flight (Mosquitto: 20) then sends a burst per 40 ms and drops the rest.
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      this.attempt = 0;
      this.counters.connected = true;
      this.counters.connects++;
      this.counters.lastConnectAt = ctx.now();
      this.counters.sessionPresent = connack.sessionPresent;
      ctx.logger.info(
        { url: redactUrl(this.cfg.url), sessionPresent: connack.sessionPresent },
        'connected to broker',
      );
      this.subscribe(connack.sessionPresent);
    });
    client.on('close', () => {
      // Unsent PUBACKs die with the connection: the broker delivers those messages again.
      this.pendingAcks.clear();
      if (this.counters.connected) {
        this.counters.disconnects++;
        ctx.logger.warn({ url: redactUrl(this.cfg.url) }, 'broker connection lost');
      }
      this.counters.connected = false;
      this.counters.subscribed = false;
      this.scheduleReconnect();
    });
    client.on('error', (err) => {
      this.counters.lastError = err.message;
      this.warn?.warn(
        `${this.id}:error`,
        { url: redactUrl(this.cfg.url), error: err.message },
        'broker connection error',
      );
    });
    client.connect();
  }

  private async options(): Promise<IClientOptions> {
    const c = this.cfg;
    const o: IClientOptions = {
      clientId:
        c.clientId ?? (this.ctx?.instance ? `faultline-${c.id}-${this.ctx.instance}` : `faultline-${c.id}`),
      clean: c.clean,
      protocolVersion: c.protocolVersion,
      keepalive: Math.round(c.keepalive / 1000),
      connectTimeout: c.connectTimeout,
      reconnectPeriod: 0, // reconnects are ours: backoff with jitter
      resubscribe: false, // subscriptions are ours: see subscribe()
      manualConnect: true,
    };
    // mqtt.js traces every packet through `debug` (DEBUG=mqttjs*): building those calls' arguments
    // was 6 % of the ingest thread's allocations with tracing off (issue 19). Off unless asked for.
    if (!process.env.DEBUG) o.log = noTrace;
    if (c.username !== undefined) o.username = c.username;
    if (c.password !== undefined) o.password = c.password;
    if (c.protocolVersion === 5 && !c.clean)
      o.properties = { sessionExpiryInterval: Math.round(c.sessionExpiry / 1000) };
    if (c.tls) {
      if (c.tls.ca) o.ca = await readFile(c.tls.ca);
      if (c.tls.cert) o.cert = await readFile(c.tls.cert);
      if (c.tls.key) o.key = await readFile(c.tls.key);
      o.rejectUnauthorized = c.tls.rejectUnauthorized;
      if (c.tls.servername) o.servername = c.tls.servername;
    }
    return o;
  }

  /**
   * MQTT 5: subscribe on every connect with retain-handling 1 (retained messages only for new
   * subscriptions), so that subscriptions added to the configuration apply to a kept session too.
   * MQTT 3.1.1: only when the broker did not keep the session, since re-subscribing re-sends
   * retained messages there.
   */
  private subscribe(sessionPresent: boolean): void {
    const client = this.client;
    if (!client) return;
    if (sessionPresent && this.cfg.protocolVersion === 4) {
      this.counters.subscribed = true;
      return;
    }
    const subs: Record<string, { qos: 0 | 1; rh?: number }> = {};
    this.router.filters().forEach((filter, i) => {
      const s = this.cfg.subscriptions[i];
      if (!s) return;
      const topic = s.shared ? `$share/${s.shared}/${filter}` : filter;
      subs[topic] = this.cfg.protocolVersion === 5 ? { qos: s.qos, rh: 1 } : { qos: s.qos };
    });
    client.subscribe(subs, (err, granted) => {
      if (err) {
        this.ctx?.logger.error({ err }, 'subscribe failed');
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos === 128);
      if (refused.length) {
        this.ctx?.logger.error({ topics: refused.map((g) => g.topic) }, 'the broker refused subscriptions');
      }
      this.counters.subscribed = true;
      this.ctx?.logger.info({ topics: Object.keys(subs), refused: refused.length }, 'subscribed');
    });
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.cfg.reconnect.min, this.cfg.reconnect.max, Math.random());
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopping) this.client?.reconnect();
    }, delay);
  }

  private onMessage(packet: IPublishPacket, callback: (err?: Error) => void): void {
    const ctx = this.ctx as AdapterContext;
    this.counters.messages++;
    const receivedAt = ctx.now();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const decoded = this.router.route(packet.topic, payload, receivedAt, this.id);
    if (!decoded) {
      // A topic no subscription template matches (a broad shared filter, say): nothing to keep.
      this.counters.unmatched++;
      callback();
      return;
    }
    this.reporter?.report(decoded, packet.topic, payload, receivedAt);
    if (decoded.points.length === 0) {
      callback();
      return;
    }
    const durable = ctx.sink.accept(decoded.points);
    this.inFlight.add(durable, decoded.points.length);
    // The PUBACK that mqtt.js sends when `callback` runs waits for `durable` (see deferAcks); the
    // next message is read at once, so that many share one spool commit.
    if (packet.qos === 1 && packet.messageId !== undefined) this.pendingAcks.set(packet.messageId, durable);
    if (this.inFlight.size < MAX_IN_FLIGHT) callback();
    else this.paused.push(callback); // back-pressure: stop reading until the spool catches up
  }

  /** A spool commit failed: not acknowledged, so the connection drops and the broker sends again. */
  private notDurable(err: unknown): void {
    this.counters.spoolFailures++;
    this.ctx?.logger.error({ err }, 'readings could not be made durable; not acknowledged');
    (this.client as unknown as { stream?: { destroy(): void } } | undefined)?.stream?.destroy();
  }

  /** Reads on once the messages in flight are below the bound again. */
  private resume(): void {
    while (this.paused.length > 0 && this.inFlight.size < MAX_IN_FLIGHT) this.paused.shift()?.();
  }

  /**
   * mqtt.js hands a connection's messages over one at a time and reads the next only after the
   * previous one's callback, which also sends its PUBACK. Waiting for the spool there would cost a
   * commit per message; instead the callback runs at once and the PUBACK is held here until the
   * reading is durable. PUBACKs still go out in arrival order (spool commits complete in order),
   * as [MQTT-4.6.0-2] asks. `_sendPacket` is mqtt.js's own (5.x); its absence fails the start.
   */
  private deferAcks(client: MqttClient): void {
    const c = client as unknown as { _sendPacket?: SendPacket };
    const send = c._sendPacket;
    if (typeof send !== 'function') throw new Error('mqtt.js without _sendPacket: cannot defer PUBACKs');
    c._sendPacket = (packet, cb, ...rest) => {
      const durable = packet.cmd === 'puback' ? this.pendingAcks.get(packet.messageId as number) : undefined;
      if (!durable) return send.call(client, packet, cb, ...rest);
      this.pendingAcks.delete(packet.messageId as number);
      cb?.();
      const stream = (client as unknown as { stream?: unknown }).stream;
      // A reading that could not be made durable gets no PUBACK (its connection is dropped), and
      // neither does one whose connection is gone: the broker sends it again, maybe under the same
      // id for another message, which a late PUBACK would acknowledge.
      durable.then(
        () => {
          const now = (client as unknown as { stream?: unknown }).stream;
          if (now === stream && client.connected) send.call(client, packet, undefined, ...rest);
        },
        () => undefined,
      );
    };
  }

  async stop(): Promise<void> {
    if (this.stopping || !this.client) return;
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    // Readings being made durable are acknowledged before the connection closes.
    await this.inFlight.drained();
    const client = this.client;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        client.end(true);
        resolve();
      }, 5_000);
      client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.client = undefined;
  }

  status(): AdapterStatus {
    // Running = connected and subscribed: before the SUBACK, messages published are not for us yet.
    const state =
      this.stopping || !this.client
        ? 'stopped'
        : this.counters.connected && this.counters.subscribed
          ? 'running'
          : 'degraded';
    const details = {
      url: redactUrl(this.cfg.url),
      ...this.counters,
      rejected: this.reporter?.counters.rejected ?? 0,
      decoderWarnings: this.reporter?.counters.warnings ?? 0,
    };
    return { id: this.id, protocol: this.protocol, state, details };
  }
}
