import { z } from 'zod';
import { ModbusAdapter } from './modbus/adapter.js';
import { type ModelConfig, modbusAdapterSchema } from './modbus/config.js';
import { MqttClientAdapter } from './mqtt/client.js';
import { mqttClientSchema } from './mqtt/client-config.js';
import { opcuaAdapterSchema } from './opcua/config.js';
import type { Adapter } from './types.js';

export { type ModelConfig, modelSchema } from './modbus/config.js';

/** Entries of the `adapters` configuration section, by `protocol`. */
export const adapterSchema = z.discriminatedUnion('protocol', [
  mqttClientSchema,
  modbusAdapterSchema,
  opcuaAdapterSchema,
]);
export type AdapterConfig = z.output<typeof adapterSchema>;

/** What adapters may need from the rest of the configuration. */
export interface AdapterEnv {
  models: Readonly<Record<string, ModelConfig>>;
}

type Builder<P extends AdapterConfig['protocol']> = (
  cfg: Extract<AdapterConfig, { protocol: P }>,
  env: AdapterEnv,
) => Adapter | Promise<Adapter>;

/** Protocol name → builder. `create` opens nothing; `start()` does. */
const BUILDERS: { [P in AdapterConfig['protocol']]: Builder<P> } = {
  mqtt: (cfg) => new MqttClientAdapter(cfg),
  modbus: (cfg, env) => new ModbusAdapter(cfg, env.models),
  // node-opcua takes about a second to load: only when an OPC UA adapter is configured.
  opcua: async (cfg) => new (await import('./opcua/adapter.js')).OpcuaAdapter(cfg),
};

export async function createAdapter(cfg: AdapterConfig, env: AdapterEnv = { models: {} }): Promise<Adapter> {
  return (BUILDERS[cfg.protocol] as Builder<AdapterConfig['protocol']>)(cfg as never, env);
}
