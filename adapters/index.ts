import { z } from 'zod';
import { MqttClientAdapter } from './mqtt/client.js';
import { mqttClientSchema } from './mqtt/client-config.js';
import type { Adapter } from './types.js';

/** Entries of the `adapters` configuration section, by `protocol`. */
export const adapterSchema = z.discriminatedUnion('protocol', [mqttClientSchema]);
export type AdapterConfig = z.output<typeof adapterSchema>;

/** Protocol name → builder. `create` opens nothing; `start()` does. */
const BUILDERS: {
  [P in AdapterConfig['protocol']]: (cfg: Extract<AdapterConfig, { protocol: P }>) => Adapter;
} = {
  mqtt: (cfg) => new MqttClientAdapter(cfg),
};

export function createAdapter(cfg: AdapterConfig): Adapter {
  return BUILDERS[cfg.protocol](cfg);
}
