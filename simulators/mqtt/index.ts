import mqtt, { type MqttClient } from 'mqtt';

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
  /** Telemetry topic of a device; default `devices/<id>/telemetry`. */
  topic?: (deviceId: string) => string;
}

export interface MqttSimulator {
  readonly devices: string[];
  /** Temperature climbs ~2 °C per reading until it reaches `peak` (default 98 °C). */
  overheat(deviceId: string, peak?: number): void;
  /** The device reports these error codes for `durationMs` (default: until cleared). */
  errorBurst(deviceId: string, codes: string[], durationMs?: number): void;
  /** Back to normal behaviour (one device, or all). */
  clearFaults(deviceId?: string): void;
  /** Publishes one reading of every device now; resolves when the broker acknowledged them (QoS 1). */
  publishNow(): Promise<void>;
  close(): Promise<void>;
}

/** Small seeded PRNG (mulberry32): repeatable noise without a dependency. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimDevice {
  id: string;
  client: MqttClient;
  base: number;
  temperature: number;
  drift: number;
  ticks: number;
  overheatPeak: number | undefined;
  codes: string[];
  codesUntil: number | undefined;
}

/**
 * Simulated machines (spindles, pumps) that publish realistic telemetry over MQTT with the
 * telemetry convention: temperature with noise and slow drift, vibration, pressure, speed, and
 * error codes; faults are injected through the returned knobs.
 */
export async function start(opts: MqttSimOptions): Promise<MqttSimulator> {
  const rand = prng(opts.seed ?? 42);
  const noise = (amp: number) => (rand() * 2 - 1) * amp;
  const qos = opts.qos ?? 1;
  const topic = opts.topic ?? ((id: string) => `devices/${id}/telemetry`);
  const specs: SimDeviceSpec[] =
    typeof opts.devices === 'number'
      ? Array.from({ length: opts.devices }, (_, i) => ({
          id: `${opts.idPrefix ?? 'sim'}-${String(i + 1).padStart(3, '0')}`,
        }))
      : opts.devices;

  const devices: SimDevice[] = await Promise.all(
    specs.map(async (s) => {
      const client = await mqtt.connectAsync(opts.url, {
        clientId: `faultline-sim-${s.id}`,
        reconnectPeriod: 1_000,
        connectTimeout: 5_000,
      });
      client.on('error', () => {
        // Reconnects on its own; a simulator must not crash the process that hosts it.
      });
      const base = s.baseTemperature ?? 55 + rand() * 10;
      return {
        id: s.id,
        client,
        base,
        temperature: base,
        drift: 0,
        ticks: 0,
        overheatPeak: undefined,
        codes: [],
        codesUntil: undefined,
      };
    }),
  );
  const byId = new Map(devices.map((d) => [d.id, d]));
  const get = (id: string) => {
    const d = byId.get(id);
    if (!d) throw new Error(`no simulated device "${id}"`);
    return d;
  };

  const reading = (d: SimDevice): Record<string, unknown> => {
    d.ticks++;
    d.drift = Math.max(-3, Math.min(3, d.drift + noise(0.2)));
    if (d.overheatPeak !== undefined)
      d.temperature = Math.min(d.overheatPeak, d.temperature + 2 + noise(0.3));
    else d.temperature += (d.base + d.drift - d.temperature) * 0.3 + noise(0.4);
    const hot = Math.max(0, d.temperature - d.base);
    if (d.codesUntil !== undefined && Date.now() >= d.codesUntil) {
      d.codes = [];
      d.codesUntil = undefined;
    }
    return {
      ts: Date.now(),
      temperature: Math.round(d.temperature * 10) / 10,
      vibration: Math.round((2.2 + hot * 0.08 + noise(0.3)) * 100) / 100,
      pressure: Math.round((6 + noise(0.15)) * 100) / 100,
      rpm: Math.round(1_480 + noise(25)),
      running: true,
      errorCode: d.codes,
    };
  };

  const publish = (d: SimDevice) =>
    d.client.publishAsync(topic(d.id), JSON.stringify(reading(d)), { qos }).then(
      () => undefined,
      () => undefined, // offline: the reading is lost like a real device without a buffer would lose it
    );

  const intervalMs = opts.intervalMs ?? 1_000;
  // Spread devices over the interval so that they do not publish in lockstep.
  const timers = devices.map((d, i) => {
    const t = setTimeout(
      () => {
        void publish(d);
        const every = setInterval(() => void publish(d), intervalMs);
        timers[i] = every;
      },
      Math.floor((intervalMs * i) / Math.max(1, devices.length)),
    );
    return t as NodeJS.Timeout;
  });

  return {
    devices: devices.map((d) => d.id),
    overheat(id, peak = 98) {
      get(id).overheatPeak = peak;
    },
    errorBurst(id, codes, durationMs) {
      const d = get(id);
      d.codes = [...codes];
      d.codesUntil = durationMs === undefined ? undefined : Date.now() + durationMs;
    },
    clearFaults(id) {
      for (const d of id === undefined ? devices : [get(id)]) {
        d.overheatPeak = undefined;
        d.codes = [];
        d.codesUntil = undefined;
      }
    },
    async publishNow() {
      await Promise.all(devices.map(publish));
    },
    async close() {
      for (const t of timers) {
        clearTimeout(t);
        clearInterval(t);
      }
      await Promise.all(devices.map((d) => d.client.endAsync().catch(() => undefined)));
    },
  };
}
