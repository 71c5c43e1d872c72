import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../adapters/opcua/node-opcua-log.js'; // before node-opcua speaks: keep its messages off stdout
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAVariable,
  Variant,
} from 'node-opcua';
import { readCertificate } from 'node-opcua-crypto';
import { DeviceModel, type Fault, type MetricSpec, prng } from '../mqtt/model.js';

export interface OpcuaSimVariable {
  /** Browse name; the NodeId is `ns=1;s=<device>.<name>`. */
  name: string;
  dataType?: 'Double' | 'Boolean' | 'String' | 'Int32';
  behaviour?: MetricSpec;
}

export interface OpcuaSimDevice {
  /** An object under Objects with this browse name. */
  name: string;
  variables: OpcuaSimVariable[];
  /** An extra String variable with this name holding the active error code ('' when none). */
  errorCodeVariable?: string;
}

export interface OpcuaSimOptions {
  /** 0 = a free port (kept across restarts). */
  port?: number;
  devices: OpcuaSimDevice[];
  /** How often values change, ms. */
  intervalMs?: number;
  /** Also offer SignAndEncrypt with Basic256Sha256 (None is always offered). */
  secure?: boolean;
  /** Accept anonymous sessions (default true). */
  allowAnonymous?: boolean;
  /** User names and passwords accepted. */
  users?: { username: string; password: string }[];
  /** X.509 user certificates (PEM files) accepted; any other user certificate is refused. */
  userCertificates?: string[];
  seed?: number;
}

export interface OpcuaSimulator {
  port: number;
  /** The server's certificate (PEM), for a client to trust. */
  certificateFile: string;
  endpointUrl: string;
  /** Stops the server and starts it again on the same port, after `downMs`. */
  restart(downMs?: number): Promise<void>;
  /** Values stop changing (a frozen PLC) or start again. */
  freeze(on: boolean): void;
  /** The variable reports this status (e.g. BadSensorFailure) instead of good values; undefined = good. */
  setStatus(
    device: string,
    variable: string,
    status: 'BadSensorFailure' | 'BadCommunicationError' | 'UncertainLastUsableValue' | undefined,
  ): void;
  /** Fixes a value (for exact tests); undefined returns it to its behaviour. */
  setValue(device: string, variable: string, value: number | boolean | string | undefined): void;
  inject(device: string, fault: Fault, durationMs?: number): void;
  /** Clears the faults of a device (all devices when absent) and every fixed status. */
  clear(device?: string): void;
  readonly devices: string[];
  close(): Promise<void>;
}

const DATA_TYPES = {
  Double: DataType.Double,
  Boolean: DataType.Boolean,
  String: DataType.String,
  Int32: DataType.Int32,
} as const;

/**
 * An OPC UA server (node-opcua) with one object per simulated device and one variable per metric.
 * Values change on a timer, from the same device model as the other simulators, with source
 * timestamps; fault knobs restart the server, freeze values or set a bad status.
 */
export async function start(o: OpcuaSimOptions): Promise<OpcuaSimulator> {
  const pki = mkdtempSync(join(tmpdir(), 'faultline-opcua-sim-'));
  const port = o.port ? o.port : await freePort();
  const models = new Map(
    o.devices.map((d, i) => [
      d.name,
      new DeviceModel(
        d.name,
        Object.fromEntries(d.variables.map((v) => [v.name, v.behaviour ?? defaultBehaviour(v)])),
        prng((o.seed ?? 1) + i),
      ),
    ]),
  );
  const fixed = new Map<string, number | boolean | string>();
  const statuses = new Map<string, string>();
  let frozen = false;
  let server: OPCUAServer | undefined;
  let vars = new Map<string, { v: UAVariable; type: DataType }>();
  let timer: NodeJS.Timeout | undefined;

  const tick = () => {
    if (frozen || !server) return;
    const now = new Date();
    for (const d of o.devices) {
      const { fields, errorCodes } = (models.get(d.name) as DeviceModel).sample(now.getTime());
      if (d.errorCodeVariable) fields[d.errorCodeVariable] = errorCodes[0] ?? '';
      for (const variable of variablesOf(d)) {
        const key = `${d.name}.${variable.name}`;
        const entry = vars.get(key);
        if (!entry) continue;
        const status = statuses.get(key);
        const value = fixed.get(key) ?? fields[variable.name];
        const code = status
          ? (StatusCodes as unknown as Record<string, typeof StatusCodes.Good>)[status]
          : StatusCodes.Good;
        entry.v.setValueFromSource(
          new Variant({ dataType: entry.type, value: coerce(value, entry.type) }),
          code,
          now,
        );
      }
    }
  };

  const boot = async () => {
    const certificateManager = new OPCUACertificateManager({
      rootFolder: join(pki, 'server'),
      automaticallyAcceptUnknownCertificate: true,
    });
    const userCertificateManager = new OPCUACertificateManager({
      rootFolder: join(pki, 'users'),
      automaticallyAcceptUnknownCertificate: false,
    });
    await userCertificateManager.initialize();
    for (const file of o.userCertificates ?? [])
      await userCertificateManager.trustCertificate(readCertificate(file));
    const users = o.users ?? [];
    const s = new OPCUAServer({
      port,
      serverCertificateManager: certificateManager,
      userCertificateManager,
      allowAnonymous: o.allowAnonymous ?? true,
      userManager: {
        isValidUser: (name: string, password: string) =>
          users.some((u) => u.username === name && u.password === password),
      },
      buildInfo: { productName: 'Faultline OPC UA simulator' },
      ...(o.secure
        ? {
            securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
            securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
          }
        : {}),
    });
    await s.initialize();
    const space = s.engine.addressSpace;
    if (!space) throw new Error('no address space');
    const ns = space.getOwnNamespace();
    const next = new Map<string, { v: UAVariable; type: DataType }>();
    for (const d of o.devices) {
      const obj = ns.addObject({
        organizedBy: space.rootFolder.objects,
        browseName: d.name,
        nodeId: `s=${d.name}`,
      });
      for (const variable of variablesOf(d)) {
        const type = DATA_TYPES[variable.dataType ?? 'Double'];
        const v = ns.addVariable({
          componentOf: obj,
          browseName: variable.name,
          nodeId: `s=${d.name}.${variable.name}`,
          dataType: variable.dataType ?? 'Double',
          value: new Variant({ dataType: type, value: coerce(undefined, type) }),
        });
        next.set(`${d.name}.${variable.name}`, { v, type });
      }
    }
    vars = next;
    await s.start();
    server = s;
    tick();
  };
  await boot();
  timer = setInterval(tick, o.intervalMs ?? 500);

  const stop = async () => {
    const s = server;
    server = undefined;
    if (s) await s.shutdown(0);
  };

  return {
    port,
    certificateFile: join(pki, 'server', 'own', 'certs', 'certificate.pem'),
    endpointUrl: `opc.tcp://127.0.0.1:${port}`,
    async restart(downMs = 500) {
      await stop();
      await new Promise((r) => setTimeout(r, downMs));
      await boot();
    },
    freeze(on) {
      frozen = on;
    },
    setStatus(device, variable, status) {
      if (status === undefined) statuses.delete(`${device}.${variable}`);
      else statuses.set(`${device}.${variable}`, status);
    },
    setValue(device, variable, value) {
      if (value === undefined) fixed.delete(`${device}.${variable}`);
      else fixed.set(`${device}.${variable}`, value);
    },
    inject(device, fault, durationMs) {
      models.get(device)?.inject(fault, Date.now(), durationMs);
    },
    clear(device) {
      for (const [name, m] of models) if (device === undefined || name === device) m.clear();
      for (const key of [...statuses.keys()])
        if (device === undefined || key.startsWith(`${device}.`)) statuses.delete(key);
    },
    devices: o.devices.map((d) => d.name),
    async close() {
      clearInterval(timer);
      timer = undefined;
      await stop();
      rmSync(pki, { recursive: true, force: true });
    },
  };
}

function variablesOf(d: OpcuaSimDevice): OpcuaSimVariable[] {
  return d.errorCodeVariable
    ? [...d.variables, { name: d.errorCodeVariable, dataType: 'String', behaviour: { value: '' } }]
    : d.variables;
}

function coerce(v: unknown, type: DataType): number | boolean | string {
  if (type === DataType.Boolean) return Boolean(v ?? false);
  if (type === DataType.String) return String(v ?? '');
  if (type === DataType.Int32) return Math.round(Number(v ?? 0));
  return Number(v ?? 0);
}

function defaultBehaviour(v: OpcuaSimVariable): MetricSpec {
  if (v.dataType === 'Boolean') return { value: true };
  if (v.dataType === 'String') return { value: 'RUNNING' };
  return { base: 50, noise: 0.5, drift: 2 };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
