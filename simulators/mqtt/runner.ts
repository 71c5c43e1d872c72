import { createRequire } from 'node:module';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import picomatch from 'picomatch';
import { type ModbusFault, type ModbusSimulator, start as startModbusSim } from '../modbus/index.js';
import type { OpcuaSimDevice } from '../opcua/index.js';
import { DeviceModel, type Fault, prng } from './model.js';
import { expandIds, type Scenario, type SimDevice, type SimEvent } from './scenario.js';

const require = createRequire(import.meta.url);
const sparkplug = (
  require('sparkplug-payload') as { get(ns: string): { encodePayload(p: object): Uint8Array } }
).get('spBv1.0');

export interface SimulationHandle {
  readonly devices: string[];
  /** Where Modbus devices (`modbus://host:port`, unit) and OPC UA devices (`opc.tcp://…`, node ids) are served. */
  readonly endpoints: (
    | { id: string; url: string; unit: number }
    | { id: string; url: string; nodeIds: string }
  )[];
  /** Puts a fault on every device matching `device` (an id or a glob), or clears them. */
  inject(device: string, fault: Fault | 'clear', durationMs?: number): void;
  /** Applies a scenario event now (any fault kind, e.g. `serverRestart`); resolves when in effect. */
  fire(e: Omit<SimEvent, 'at'>): Promise<void>;
  /** Publishes one reading of every device that is not silent; resolves when sent (acknowledged for QoS 1). */
  publishNow(): Promise<void>;
  close(): Promise<void>;
}

export interface RunOptions {
  /** Overrides the scenario's broker URL. */
  url?: string;
  /** Told of every scenario event as it happens. */
  onEvent?: (e: SimEvent) => void;
}

interface Dev {
  id: string;
  spec: SimDevice;
  model: DeviceModel;
  intervalMs: number;
  /** JSON devices: their own connection. Sparkplug devices: their edge node's. */
  client: MqttClient;
  node?: SpNode;
  down: boolean;
}

interface SpNode {
  group: string;
  name: string;
  client: MqttClient;
  seq: number;
  bdSeq: number;
  aliases: Map<string, number>;
  devices: Dev[];
}

const nextSeq = (n: SpNode) => {
  const s = n.seq;
  n.seq = (n.seq + 1) % 256;
  return s;
};

function sparkplugType(v: number | boolean | string): string {
  return typeof v === 'boolean' ? 'Boolean' : typeof v === 'string' ? 'String' : 'Double';
}

type SimFault =
  | { fault: Fault | 'clear'; durationMs?: number }
  | { protocol: ModbusFault; durationMs?: number }
  | { opcua: 'serverRestart' | 'badStatus'; metric?: string; durationMs?: number };

function toFault(e: SimEvent, intervalMs: number): SimFault {
  const metric = e.metric as string;
  const d = e.for;
  switch (e.fault) {
    case 'ramp':
      return {
        fault: { kind: 'ramp', metric, to: e.to as number, perSecond: e.rate as number },
        durationMs: d,
      };
    case 'spike':
      return {
        fault: { kind: 'spike', metric, magnitude: e.magnitude as number },
        durationMs: d ?? Math.round(intervalMs * 1.5),
      };
    case 'stuck':
      return { fault: { kind: 'stuck', metric }, durationMs: d };
    case 'drift':
      return { fault: { kind: 'drift', metric, perHour: e.perHour as number }, durationMs: d };
    case 'errorBurst':
      return { fault: { kind: 'errorBurst', codes: e.codes as string[] }, durationMs: d };
    case 'dropout':
      return { fault: { kind: 'dropout', disconnect: e.disconnect }, durationMs: d };
    case 'clear':
      return { fault: 'clear' };
    case 'exception':
      return { protocol: { kind: 'exception', code: e.code as number }, durationMs: d };
    case 'noAnswer':
      return { protocol: { kind: 'noAnswer' }, durationMs: d };
    case 'slowAnswer':
      return { protocol: { kind: 'slow', delayMs: e.delay as number }, durationMs: d };
    case 'truncated':
      return { protocol: { kind: 'truncated' }, durationMs: d };
    case 'garbage':
      return { protocol: { kind: 'garbage' }, durationMs: d };
    case 'serverRestart':
      return { opcua: 'serverRestart', durationMs: d ?? 5_000 };
    case 'badStatus':
      return { opcua: 'badStatus', metric, durationMs: d };
  }
}

/**
 * Runs a scenario: every device publishes on its interval (JSON on its topic, or Sparkplug B through
 * its edge node with births, aliases, sequence numbers and deaths), and the scenario's events put
 * faults on devices at their times.
 */
export async function runScenario(s: Scenario, opts: RunOptions = {}): Promise<SimulationHandle> {
  const url = opts.url ?? s.broker;
  const base: IClientOptions = { reconnectPeriod: 1_000, connectTimeout: 5_000 };
  if (s.username !== undefined) base.username = s.username;
  if (s.password !== undefined) base.password = s.password;
  const devs: Dev[] = [];
  const nodes = new Map<string, SpNode>();
  const modbus = new Map<string, ModbusSimulator>();
  const endpoints: SimulationHandle['endpoints'][number][] = [];
  let index = 0;

  // All OPC UA devices are objects on one server, as on a SCADA server.
  const opcuaDevices: OpcuaSimDevice[] = s.devices.flatMap((spec) =>
    spec.format === 'opcua'
      ? expandIds(spec).map((id) => {
          const specs = toModelSpecs(spec);
          const d: OpcuaSimDevice = {
            name: id,
            variables: Object.entries(specs).map(([name, behaviour]) => ({
              name,
              dataType: opcuaType(behaviour),
              behaviour,
            })),
          };
          if (spec.opcua?.errorCode) d.errorCodeVariable = spec.opcua.errorCode;
          return d;
        })
      : [],
  );
  // node-opcua takes about a second to load: only for scenarios with OPC UA devices.
  const opcua = opcuaDevices.length
    ? await (await import('../opcua/index.js')).start({
        port: s.opcua.port,
        devices: opcuaDevices,
        intervalMs: s.interval,
        seed: s.seed + 1_000,
      })
    : undefined;
  if (opcua)
    for (const d of opcuaDevices)
      endpoints.push({ id: d.name, url: opcua.endpointUrl, nodeIds: `ns=1;s=${d.name}.<metric>` });

  for (const spec of s.devices) {
    if (spec.format === 'opcua') continue;
    if (spec.format === 'modbus' && spec.modbus) {
      const mb = spec.modbus;
      for (const [i, id] of expandIds(spec).entries()) {
        const metrics = Object.fromEntries(
          Object.entries(toModelSpecs(spec)).filter(([name]) => mb.registers.some((r) => r.name === name)),
        );
        const sim = await startModbusSim({
          host: mb.host,
          port: mb.port === 0 ? 0 : mb.port + i,
          unit: mb.unit,
          registers: mb.registers,
          metrics,
          seed: s.seed + index++,
        });
        modbus.set(id, sim);
        endpoints.push({ id, url: `modbus://${mb.host}:${sim.port}`, unit: mb.unit });
      }
      continue;
    }
    for (const id of expandIds(spec)) {
      const model = new DeviceModel(id, toModelSpecs(spec), prng(s.seed + index++));
      const intervalMs = spec.interval ?? s.interval;
      if (spec.format === 'sparkplug') {
        const key = `${spec.sparkplug.group}/${spec.sparkplug.node}`;
        let node = nodes.get(key);
        if (!node) {
          node = await connectNode(url, base, spec.sparkplug.group, spec.sparkplug.node);
          nodes.set(key, node);
        }
        const dev: Dev = { id, spec, model, intervalMs, client: node.client, node, down: false };
        node.devices.push(dev);
        devs.push(dev);
      } else {
        const o: IClientOptions = { ...base, clientId: `faultline-sim-${id}` };
        if (spec.status)
          o.will = { topic: `devices/${id}/status`, payload: Buffer.from('offline'), qos: 1, retain: false };
        const client = await mqtt.connectAsync(url, o);
        client.on('error', () => undefined); // reconnects by itself; a simulator must not crash its host
        if (spec.status) {
          const online = () =>
            void client.publishAsync(`devices/${id}/status`, 'online', { qos: 1 }).catch(() => undefined);
          online();
          client.on('connect', online);
        }
        devs.push({ id, spec, model, intervalMs, client, down: false });
      }
    }
  }
  for (const node of nodes.values()) publishBirths(node, s.qos);

  const publish = async (d: Dev): Promise<void> => {
    const at = Date.now();
    const silent = d.model.silent(at);
    if (silent) {
      if (silent.kind === 'dropout' && silent.disconnect && !d.down) {
        d.down = true;
        if (d.node)
          await pub(
            d.client,
            `spBv1.0/${d.node.group}/DDEATH/${d.node.name}/${d.id}`,
            sparkplug.encodePayload({ timestamp: at, seq: nextSeq(d.node) }),
            s.qos,
          );
        else d.client.end(true); // no DISCONNECT: the broker publishes the last will
      }
      return;
    }
    if (d.down) {
      d.down = false;
      if (d.node) publishDeviceBirth(d.node, d, s.qos);
      else d.client.reconnect();
    }
    const { fields, errorCodes } = d.model.sample(at);
    if (d.node) {
      const metrics = Object.entries(fields).map(([name, value]) => ({
        alias: d.node?.aliases.get(`${d.id}/${name}`),
        type: sparkplugType(value),
        value,
      }));
      await pub(
        d.client,
        `spBv1.0/${d.node.group}/DDATA/${d.node.name}/${d.id}`,
        sparkplug.encodePayload({ timestamp: at, seq: nextSeq(d.node), metrics }),
        s.qos,
      );
    } else {
      await pub(
        d.client,
        d.spec.topic.replace('{device}', d.id),
        JSON.stringify({ ts: at, ...fields, errorCode: errorCodes }),
        s.qos,
      );
    }
  };

  // Devices are spread over their interval so that they do not publish in lockstep.
  const timers: NodeJS.Timeout[] = [];
  devs.forEach((d, i) => {
    const t = setTimeout(
      () => {
        void publish(d);
        timers.push(setInterval(() => void publish(d), d.intervalMs));
      },
      Math.floor((d.intervalMs * i) / Math.max(1, devs.length)),
    );
    timers.push(t);
  });

  const timersOf = new Map<string, NodeJS.Timeout>();
  const inject = (device: string, fault: Fault | 'clear', durationMs?: number) => {
    const match = picomatch(device);
    const hit = devs.filter((d) => d.id === device || match(d.id));
    const mbHit = [...modbus.entries()].filter(([id]) => id === device || match(id));
    const uaHit = (opcua?.devices ?? []).filter((id) => id === device || match(id));
    if (hit.length === 0 && mbHit.length === 0 && uaHit.length === 0)
      throw new Error(`no simulated device matches "${device}"`);
    for (const id of uaHit) {
      if (fault === 'clear') opcua?.clear(id);
      else if (fault.kind === 'dropout') uaStatus(id, undefined, durationMs);
      else opcua?.inject(id, fault, durationMs);
    }
    for (const d of hit) {
      if (fault === 'clear') d.model.clear();
      else d.model.inject(fault, Date.now(), durationMs);
    }
    for (const [id, sim] of mbHit) {
      if (fault === 'clear') sim.clear();
      else if (fault.kind === 'dropout') protocolFault(id, sim, { kind: 'noAnswer' }, durationMs);
      else if (fault.kind !== 'errorBurst') sim.inject(fault, durationMs);
    }
  };
  /** A Modbus device answering badly, until `durationMs` is over (or a clear). */
  const protocolFault = (id: string, sim: ModbusSimulator, f: ModbusFault, durationMs?: number) => {
    sim.setFault(f);
    clearTimeout(timersOf.get(id));
    if (durationMs !== undefined)
      timersOf.set(
        id,
        setTimeout(() => sim.setFault({ kind: 'none' }), durationMs),
      );
  };

  /**
   * An OPC UA device (or one variable of it) reporting BadCommunicationError / BadSensorFailure, as a
   * SCADA server does when it loses a PLC or a sensor fails.
   */
  const uaStatus = (id: string, metric: string | undefined, durationMs?: number) => {
    const spec = opcuaDevices.find((d) => d.name === id);
    if (!opcua || !spec) return;
    const names = metric ? [metric] : spec.variables.map((v) => v.name);
    const status = metric ? 'BadSensorFailure' : 'BadCommunicationError';
    for (const n of names) opcua.setStatus(id, n, status);
    if (durationMs !== undefined)
      timers.push(
        setTimeout(() => {
          for (const n of names) opcua.setStatus(id, n, undefined);
        }, durationMs),
      );
  };

  /** Applies one scenario event now; resolves when it took effect (a server restart: back up). */
  const fire = async (e: Omit<SimEvent, 'at'>): Promise<void> => {
    const f = toFault({ ...e, at: 0 }, s.interval);
    if ('opcua' in f) {
      const match = picomatch(e.device);
      const ids = (opcua?.devices ?? []).filter((id) => id === e.device || match(id));
      if (ids.length === 0) throw new Error(`no simulated OPC UA device matches "${e.device}"`);
      if (f.opcua === 'serverRestart') await opcua?.restart(f.durationMs);
      if (f.opcua === 'badStatus') for (const id of ids) uaStatus(id, f.metric, f.durationMs);
    } else if ('protocol' in f) {
      const match = picomatch(e.device);
      for (const [id, sim] of modbus)
        if (id === e.device || match(id)) protocolFault(id, sim, f.protocol, f.durationMs);
    } else {
      inject(e.device, f.fault, f.durationMs);
    }
  };

  const scheduleEvents = (offset: number) => {
    for (const e of s.events) {
      timers.push(
        setTimeout(() => {
          opts.onEvent?.(e);
          // A scenario naming no device was checked when it was loaded; nothing to do here.
          fire(e).catch(() => undefined);
        }, offset + e.at),
      );
    }
  };
  scheduleEvents(0);
  if (s.repeatEvery) {
    timers.push(
      setInterval(() => {
        for (const d of devs) d.model.clear();
        scheduleEvents(0);
      }, s.repeatEvery),
    );
  }

  return {
    devices: [...devs.map((d) => d.id), ...modbus.keys(), ...(opcua?.devices ?? [])],
    endpoints,
    inject,
    fire,
    async publishNow() {
      await Promise.all(devs.map(publish));
    },
    async close() {
      for (const t of timers) {
        clearTimeout(t);
        clearInterval(t);
      }
      for (const node of nodes.values()) {
        // A graceful edge node says goodbye with its NDEATH (Sparkplug B 3.0, §7.1).
        await pub(
          node.client,
          `spBv1.0/${node.group}/NDEATH/${node.name}`,
          sparkplug.encodePayload({ metrics: [{ name: 'bdSeq', type: 'Int64', value: node.bdSeq }] }),
          0,
        );
      }
      const clients = new Set(devs.map((d) => d.client));
      await Promise.all([...clients].map((c) => c.endAsync().catch(() => undefined)));
      for (const t of timersOf.values()) clearTimeout(t);
      await Promise.all([...modbus.values()].map((m) => m.close()));
      await opcua?.close();
    },
  };
}

/** The OPC UA data type that carries a metric's values. */
function opcuaType(m: import('./model.js').MetricSpec): 'Double' | 'Boolean' | 'String' | 'Int32' {
  if ('value' in m) return typeof m.value === 'boolean' ? 'Boolean' : 'String';
  if ('states' in m) return m.states.every((x) => typeof x === 'number') ? 'Int32' : 'String';
  return 'Double';
}

function toModelSpecs(spec: SimDevice) {
  const out: Record<string, import('./model.js').MetricSpec> = {};
  for (const [name, m] of Object.entries(spec.metrics)) {
    if ('value' in m) out[name] = { value: m.value };
    else if ('states' in m) out[name] = { states: m.states, everyMs: m.every };
    else {
      const ms: import('./model.js').MetricSpec = { base: m.base };
      if (m.noise !== undefined) ms.noise = m.noise;
      if (m.drift !== undefined) ms.drift = m.drift;
      if (m.decimals !== undefined) ms.decimals = m.decimals;
      if (m.cycle) ms.cycle = { amplitude: m.cycle.amplitude, periodMs: m.cycle.period };
      out[name] = ms;
    }
  }
  return out;
}

async function pub(c: MqttClient, topic: string, payload: string | Uint8Array, qos: 0 | 1): Promise<void> {
  await c
    .publishAsync(topic, typeof payload === 'string' ? payload : Buffer.from(payload), { qos })
    .catch(() => undefined);
}

async function connectNode(url: string, base: IClientOptions, group: string, name: string): Promise<SpNode> {
  const bdSeq = 0;
  const client = await mqtt.connectAsync(url, {
    ...base,
    clientId: `faultline-sim-${group}-${name}`,
    will: {
      topic: `spBv1.0/${group}/NDEATH/${name}`,
      payload: Buffer.from(
        sparkplug.encodePayload({ metrics: [{ name: 'bdSeq', type: 'Int64', value: bdSeq }] }),
      ),
      qos: 1,
      retain: false,
    },
  });
  client.on('error', () => undefined);
  const node: SpNode = { group, name, client, seq: 0, bdSeq, aliases: new Map(), devices: [] };
  // After a reconnect the edge node is born again, with its devices.
  client.on('connect', () => publishBirths(node, 1));
  return node;
}

function publishBirths(node: SpNode, qos: 0 | 1): void {
  node.seq = 0;
  void pub(
    node.client,
    `spBv1.0/${node.group}/NBIRTH/${node.name}`,
    sparkplug.encodePayload({
      timestamp: Date.now(),
      seq: nextSeq(node),
      metrics: [
        { name: 'bdSeq', type: 'Int64', value: node.bdSeq },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
      ],
    }),
    qos,
  );
  for (const d of node.devices) publishDeviceBirth(node, d, qos);
}

function publishDeviceBirth(node: SpNode, d: Dev, qos: 0 | 1): void {
  const { fields } = d.model.sample(Date.now());
  const metrics = Object.entries(fields).map(([name, value]) => {
    const key = `${d.id}/${name}`;
    let alias = node.aliases.get(key);
    if (alias === undefined) {
      alias = node.aliases.size + 1;
      node.aliases.set(key, alias);
    }
    return { name, alias, type: sparkplugType(value), value };
  });
  void pub(
    node.client,
    `spBv1.0/${node.group}/DBIRTH/${node.name}/${d.id}`,
    sparkplug.encodePayload({ timestamp: Date.now(), seq: nextSeq(node), metrics }),
    qos,
  );
}
