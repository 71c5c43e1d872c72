import mqtt, { type MqttClient } from 'mqtt';
import { afterEach } from 'vitest';
import { EmbeddedBroker } from '../adapters/mqtt/broker.js';
import { embeddedBrokerSchema } from '../adapters/mqtt/config.js';
import type { ReadingSink } from '../ingest/ingest.js';
import type { Point } from '../ingest/point.js';
import { silentLogger } from './helpers.js';

/**
 * An embedded broker for a describe block: `start()` with the block's defaults and a test's own
 * settings, on a free port; clients made with `connect()` are closed and the broker stopped after
 * each test. Readings it accepts are collected in `accepted`.
 */
export function brokerHarness(defaults: Record<string, unknown> = {}) {
  let broker: EmbeddedBroker | undefined;
  const clients: MqttClient[] = [];
  const accepted: Point[] = [];
  const sink: ReadingSink = { accept: async (p) => void accepted.push(...p), reject: () => undefined };
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    await broker?.stop();
    broker = undefined;
    accepted.length = 0;
  });
  const connect = async (opts: mqtt.IClientOptions = {}, url = broker?.url() as string) => {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000, ...opts });
    clients.push(c);
    return c;
  };
  return {
    accepted,
    sink,
    get broker(): EmbeddedBroker | undefined {
      return broker;
    },
    async start(cfg: Record<string, unknown> = {}): Promise<EmbeddedBroker> {
      broker = new EmbeddedBroker(embeddedBrokerSchema.parse({ port: 0, ...defaults, ...cfg }));
      await broker.start({ sink, logger: silentLogger, now: Date.now });
      return broker;
    },
    connect,
    /** The CONNACK return code of a connection attempt (0: accepted). */
    connackCode: (opts: mqtt.IClientOptions) =>
      connect(opts).then(
        () => 0,
        (err: { code?: number }) => err.code,
      ),
  };
}
