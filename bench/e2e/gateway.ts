import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package-root.js';
import { lines } from './procs.js';

export const BENCH_KEY = 'flk_bench_admin_key_0123456789abcdef';

export interface RunningGateway {
  child: ChildProcess;
  pid: number;
  apiUrl: string;
  mqttUrl: string | null;
  /** Prometheus samples by name (labels dropped: values of one name are summed). */
  metrics(): Promise<Map<string, number>>;
  get(path: string): Promise<unknown>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the gateway as users run it — `node dist/gateway/cli.js start` with a config file and a
 * data directory — and waits for its "listening" log line.
 */
export async function startGateway(
  dir: string,
  configYaml: string,
  files: Record<string, string> = {},
  /** More environment (FAULTLINE_INSTANCE_ID for one of several instances). */
  env: NodeJS.ProcessEnv = {},
): Promise<RunningGateway> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'faultline.yaml'), configYaml);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const cli = join(packageRoot(), 'dist', 'gateway', 'cli.js');
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the gateway.
      ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean),
      cli,
      'start',
      '--config',
      join(dir, 'faultline.yaml'),
      '--data-dir',
      join(dir, 'data'),
      '--api-port',
      '0',
      '--mqtt-port',
      '0',
    ],
    {
      env: { ...process.env, FAULTLINE_API_KEY: BENCH_KEY, FAULTLINE_MQTT_HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const { apiUrl, mqttUrl } = await new Promise<{ apiUrl: string; mqttUrl: string | null }>(
    (resolve, reject) => {
      const out = lines(child, (l) => {
        if (!l.includes('"msg":"listening"')) return;
        const rec = JSON.parse(l) as { api: string; mqtt: string | null };
        resolve({ apiUrl: rec.api, mqttUrl: rec.mqtt });
      });
      child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${out.stderr()}`)));
    },
  );
  const headers = { authorization: `Bearer ${BENCH_KEY}` };
  const get = async (path: string) => {
    const res = await fetch(`${apiUrl}${path}`, { headers });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  return {
    child,
    pid: child.pid as number,
    apiUrl,
    mqttUrl,
    get,
    async metrics() {
      const res = await fetch(`${apiUrl}/metrics`, { headers });
      const text = await res.text();
      const out = new Map<string, number>();
      for (const l of text.split('\n')) {
        if (l === '' || l.startsWith('#')) continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)/.exec(l);
        if (m) out.set(m[1] as string, (out.get(m[1] as string) ?? 0) + Number(m[2]));
      }
      return out;
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The gateway's configuration for a bench case. */
export function gatewayConfig(o: {
  influxUrl: string;
  database: string;
  /** Consume from this broker (client mode) instead of the embedded broker. */
  brokerUrl?: string;
  qos: 0 | 1;
  /** `api.worker` (default true, as shipped). */
  apiWorker?: boolean;
  /** `plant`: telemetry on plant/<site>/<device>/telemetry (issue 19's flapping case). */
  workload?: 'fleet' | 'plant';
  /** Shared state in this PostgreSQL database (issue 20) instead of state.db. */
  postgresUrl?: string;
}): string {
  const topic = o.workload === 'plant' ? 'plant/{site}/{device}/telemetry' : 'devices/{device}/telemetry';
  const source = o.brokerUrl
    ? `mqtt:
  embedded: { enabled: false }
adapters:
  - protocol: mqtt
    id: plant-broker
    url: ${o.brokerUrl}
    subscriptions:
      - { topic: "${topic}", qos: ${o.qos} }
`
    : `mqtt:
  embedded:
    host: 127.0.0.1
    port: 0
    topics: [{ topic: "${topic}" }]
`;
  return `# Faultline bench: the gateway as users run it, with its spool, rules, tickets and API.
log: { level: info }
api:
  host: 127.0.0.1
  metricsPublic: true
  rateLimit: { max: 10000000, window: 1m }
  worker: ${o.apiWorker ?? true}
teams:
  - id: field
    skills: [thermal, mechanical, hydraulic, electrical, electronic]
    areas: [local, remote]
    technicians: [{ id: ana }, { id: ben }, { id: cem }]
routing: { autoAssign: true }
influx:
  api: v1
  url: ${o.influxUrl}
  database: ${o.database}
rules:
  files: [rules.yaml]
  watch: false
${o.postgresUrl ? `storage:\n  postgres: { url: "${o.postgresUrl}", poolSize: 10 }\n` : ''}${source}`;
}
