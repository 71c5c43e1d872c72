import { z } from 'zod';
import { authFailuresSchema } from '../../lib/auth-throttle.js';
import { byteSize } from '../../lib/size.js';
import { brokerUserSchema } from './auth.js';
import { topicSchema } from './decoders/index.js';

/** The embedded broker (aedes). Devices publish to it with the telemetry convention. */
export const embeddedBrokerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /**
     * Interface to listen on. Default, as Mosquitto 2: loopback (127.0.0.1) while no device
     * credentials are configured, every interface (0.0.0.0) once `users` exist. Serving the network
     * without `users` needs `allowAnonymous: true` (docs/security.md).
     */
    host: z.string().min(1).optional(),
    /** 0 = any free port. */
    port: z.number().int().min(0).max(65535).default(1883),
    /** Topics devices publish readings to, and how each is decoded; the first match wins. */
    topics: z
      .array(topicSchema)
      .min(1)
      .prefault([
        { topic: 'devices/{device}/telemetry' },
        // Last wills and birth messages: `offline` / `online`.
        { topic: 'devices/{device}/status', payload: 'status' },
        // Sparkplug B edge nodes and devices (the namespace is standard).
        { topic: 'spBv1.0/#', payload: 'sparkplug' },
      ]),
    /** Accounts; with any configured, anonymous clients are refused unless allowAnonymous is true. */
    users: z.array(brokerUserSchema).default([]),
    /**
     * Clients without credentials. Default: true when no users are configured (then the broker
     * listens on loopback only), false otherwise. `true` on a network interface is logged as a
     * warning at every start.
     */
    allowAnonymous: z.boolean().optional(),
    /** The largest MQTT packet accepted (default 1MB); a client sending a larger one is disconnected. */
    maxPacketSize: byteSize.pipe(z.number().int().min(1024, 'at least 1KB')).prefault('1MB'),
    /**
     * Keep the retain flag of telemetry (a new subscriber would get a stale reading as if it were new,
     * and every junk device id would hold a retained message). Other topics are plain broker traffic.
     */
    retainTelemetry: z.boolean().default(false),
    /**
     * Failed logins: after `maxFailures` within `window` from one address, its logins are refused
     * without being checked for `block` (password guessing costs the attacker, not the broker).
     */
    authFailures: authFailuresSchema.prefault({}),
    /** An additional TLS listener (mqtts). */
    tls: z
      .object({
        host: z.string().optional(),
        port: z.number().int().min(0).max(65535).default(8883),
        /** PEM files. */
        cert: z.string().min(1),
        key: z.string().min(1),
        /** CA for client certificates (with requestClientCert). */
        ca: z.string().optional(),
        requestClientCert: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** Deepest topic accepted ([MQTT-4.7.1] has no limit; aedes caps at 100). */
    maxTopicLevels: z.number().int().min(1).max(100).default(16),
    /** How long a write to a stalled subscriber may block delivery before it is dropped (ms). */
    drainTimeoutMs: z.number().int().min(0).default(60_000),
  })
  .strict();

export const mqttSectionSchema = z
  .object({
    embedded: embeddedBrokerSchema.prefault({}),
  })
  .strict();

export type EmbeddedBrokerConfig = z.output<typeof embeddedBrokerSchema>;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/**
 * Where the embedded broker listens and whom it lets in, after the defaults (issue 18): loopback
 * unless device credentials exist or anonymous access is asked for explicitly.
 */
export function brokerExposure(cfg: Pick<EmbeddedBrokerConfig, 'host' | 'users' | 'allowAnonymous'>): {
  host: string;
  anonymous: boolean;
  /** Why this combination is refused, or null. */
  problem: string | null;
} {
  const anonymous = cfg.allowAnonymous ?? cfg.users.length === 0;
  const host = cfg.host ?? (cfg.users.length > 0 || cfg.allowAnonymous === true ? '0.0.0.0' : '127.0.0.1');
  const problem =
    !isLoopback(host) && anonymous && cfg.allowAnonymous !== true
      ? `the embedded broker would accept anyone on ${host}: configure device credentials (mqtt.embedded.users), or set mqtt.embedded.allowAnonymous: true to serve the network without them`
      : null;
  return { host, anonymous, problem };
}
export type MqttSection = z.output<typeof mqttSectionSchema>;
