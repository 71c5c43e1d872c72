import { runScenario, type SimulationHandle } from './runner.js';
import { DEFAULT_METRICS, type Scenario, scenarioSchema } from './scenario.js';

export { runScenario, type SimulationHandle } from './runner.js';
export { loadScenario, type Scenario, scenarioSchema } from './scenario.js';

export interface SimDeviceSpec {
  id: string;
  /** Normal operating temperature, °C. */
  baseTemperature?: number;
}

export interface MqttSimOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** How many devices (`sim-001` …), or their specs. */
  devices: number | SimDeviceSpec[];
  /** Time between readings of one device, ms. Default 1000. */
  intervalMs?: number;
  qos?: 0 | 1;
  /** Seed of the noise, for repeatable runs. */
  seed?: number;
  idPrefix?: string;
}

export interface MqttSimulator {
  readonly devices: string[];
  /** Temperature climbs ~2 °C per second until it reaches `peak` (default 98 °C). */
  overheat(deviceId: string, peak?: number): void;
  /** The device reports these error codes for `durationMs` (default: until cleared). */
  errorBurst(deviceId: string, codes: string[], durationMs?: number): void;
  /** Back to normal behaviour (one device, or all). */
  clearFaults(deviceId?: string): void;
  /** Publishes one reading of every device now; resolves when the broker acknowledged them (QoS 1). */
  publishNow(): Promise<void>;
  close(): Promise<void>;
  /** The scenario runner underneath, for every other fault (spike, stuck, drift, drop-out). */
  readonly handle: SimulationHandle;
}

/**
 * Simulated machines publishing the telemetry convention (temperature with noise and drift,
 * vibration, pressure, speed, error codes), with knobs for the common faults. A thin front of
 * `runScenario` for tests and the demo; `faultline sim` runs scenario files.
 */
export async function start(opts: MqttSimOptions): Promise<MqttSimulator> {
  const specs: SimDeviceSpec[] =
    typeof opts.devices === 'number'
      ? Array.from({ length: opts.devices }, (_, i) => ({
          id: `${opts.idPrefix ?? 'sim'}-${String(i + 1).padStart(3, '0')}`,
        }))
      : opts.devices;
  const scenario: Scenario = scenarioSchema.parse({
    broker: opts.url,
    interval: `${opts.intervalMs ?? 1_000}ms`,
    qos: opts.qos ?? 1,
    seed: opts.seed ?? 42,
    devices: specs.map((s) => ({
      id: s.id,
      metrics: {
        ...DEFAULT_METRICS,
        temperature: { ...DEFAULT_METRICS.temperature, base: s.baseTemperature ?? 60 },
      },
    })),
  });
  const handle = await runScenario(scenario);
  const get = (id: string) => {
    if (!handle.devices.includes(id)) throw new Error(`no simulated device "${id}"`);
    return id;
  };
  return {
    devices: handle.devices,
    handle,
    overheat(id, peak = 98) {
      handle.inject(get(id), { kind: 'ramp', metric: 'temperature', to: peak, perSecond: 2 });
    },
    errorBurst(id, codes, durationMs) {
      handle.inject(get(id), { kind: 'errorBurst', codes }, durationMs);
    },
    clearFaults(id) {
      handle.inject(id === undefined ? '*' : get(id), 'clear');
    },
    publishNow: () => handle.publishNow(),
    close: () => handle.close(),
  };
}
