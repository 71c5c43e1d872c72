import { z } from 'zod';
import { duration } from '../../lib/duration.js';
import { checkTemplate, topicShape } from './decoders/index.js';

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'adapter ids are 1-64 letters, digits, ".", "_" or "-"');

export const subscriptionSchema = z
  .object({
    ...topicShape,
    /** 1 (default): at least once, acknowledged after the spool. 0: at most once. */
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    /** Share the subscription among gateways in this group (`$share/<group>/<filter>`, MQTT 5). */
    shared: z
      .string()
      .regex(/^[^/+#]+$/, 'a share group name has no "/", "+" or "#"')
      .optional(),
  })
  .strict()
  .superRefine(checkTemplate);

/** A connection to an existing broker (Mosquitto, EMQX, HiveMQ, …). */
export const mqttClientSchema = z
  .object({
    protocol: z.literal('mqtt'),
    id,
    /** `mqtt://host:1883` or `mqtts://host:8883` (TLS). */
    url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'expected mqtt://, mqtts://, ws:// or wss:// URL'),
    /** Fixed, so that the broker keeps the session; default `faultline-<id>`. */
    clientId: z.string().min(1).max(128).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
    /** false (default): a persistent session — the broker queues QoS 1 messages while Faultline is away. */
    clean: z.boolean().default(false),
    /** MQTT 5: how long the broker keeps the session after a disconnect. */
    sessionExpiry: duration.prefault('7d'),
    keepalive: duration.prefault('30s'),
    connectTimeout: duration.prefault('10s'),
    /** Reconnect backoff: exponential from min to max, with jitter. */
    reconnect: z
      .object({ min: duration.prefault('1s'), max: duration.prefault('1m') })
      .strict()
      .prefault({}),
    tls: z
      .object({
        /** PEM files; `ca` to trust a private CA, `cert` + `key` for client certificates. */
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
        servername: z.string().optional(),
      })
      .strict()
      .optional(),
    subscriptions: z.array(subscriptionSchema).min(1),
  })
  .strict();

export type MqttClientConfig = z.output<typeof mqttClientSchema>;
export type SubscriptionConfig = z.output<typeof subscriptionSchema>;
