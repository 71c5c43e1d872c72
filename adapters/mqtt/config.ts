import { z } from 'zod';
import { brokerUserSchema } from './auth.js';
import { topicSchema } from './decoders/index.js';

/** The embedded broker (aedes). Devices publish to it with the telemetry convention. */
export const embeddedBrokerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Interface to listen on; devices on the plant network need 0.0.0.0. */
    host: z.string().default('0.0.0.0'),
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
    /** Default: true when no users are configured, false otherwise. */
    allowAnonymous: z.boolean().optional(),
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
export type MqttSection = z.output<typeof mqttSectionSchema>;
