import { createRequire } from 'node:module';
import { z } from 'zod';
import {
  connectivityPoint,
  type FieldValue,
  isValidDeviceId,
  type Point,
  unsafeKey,
} from '../../../ingest/point.js';
import { type Decoded, type Decoder, fail, withTags } from './types.js';

// Eclipse Tahu's codec (CommonJS).
const require = createRequire(import.meta.url);
const codec = (
  require('sparkplug-payload') as { get(ns: string): { decodePayload(b: Uint8Array): SpPayload } }
).get('spBv1.0');

interface LongLike {
  toNumber(): number;
}
interface SpMetric {
  name?: string;
  alias?: LongLike | number;
  timestamp?: LongLike | number;
  type?: string;
  value?: unknown;
  isNull?: boolean;
}
interface SpPayload {
  timestamp?: LongLike | number;
  seq?: LongLike | number;
  metrics?: SpMetric[];
}

export const sparkplugOptionsSchema = z
  .object({
    /** Device id of a Sparkplug device; `{group}`, `{node}`, `{device}` are replaced. */
    deviceId: z.string().min(1).default('{node}.{device}'),
    /** Device id of an edge node's own metrics. */
    nodeId: z.string().min(1).default('{node}'),
  })
  .strict();

export type SparkplugOptions = z.output<typeof sparkplugOptionsSchema>;

const num = (v: LongLike | number | undefined): number | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'number' ? v : v.toNumber();

const TYPES_READ = new Set([
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'UInt8',
  'UInt16',
  'UInt32',
  'UInt64',
  'Float',
  'Double',
  'Boolean',
  'String',
  'Text',
  'DateTime',
]);

interface NodeState {
  /** alias → metric name, for the node and its devices (aliases are unique per edge node). */
  aliases: Map<number, string>;
  lastSeq: number | undefined;
  devices: Set<string>;
}

/**
 * Sparkplug B (Eclipse Tahu payloads). Topic `spBv1.0/<group>/<type>/<node>[/<device>]`.
 * NBIRTH/DBIRTH: the metrics (and their aliases) become a reading and the node/device goes
 * online; NDATA/DDATA: metrics by name or alias; NDEATH: the node and all its devices go offline;
 * DDEATH: the device goes offline. Sequence numbers (0–255 per edge node) are checked and gaps
 * reported. Commands and STATE messages are not readings.
 */
export function sparkplugDecoder(o: SparkplugOptions): Decoder {
  const nodes = new Map<string, NodeState>();
  const idFor = (template: string, group: string, node: string, device = '') =>
    template.replace('{group}', group).replace('{node}', node).replace('{device}', device);

  return (payload, ctx): Decoded => {
    const [ns, group, type, node, device] = ctx.topic.split('/');
    if (ns !== 'spBv1.0' || !group || !type || !node) return fail(`not a Sparkplug B topic: "${ctx.topic}"`);
    if (['NCMD', 'DCMD', 'STATE'].includes(type)) return { points: [], problems: [] };
    const isDevice = type.startsWith('D');
    if (isDevice && !device) return fail(`${type} without a device id in "${ctx.topic}"`);
    const deviceId = isDevice ? idFor(o.deviceId, group, node, device) : idFor(o.nodeId, group, node);
    if (!isValidDeviceId(deviceId))
      return fail(`invalid device id "${deviceId.slice(0, 64)}" from "${ctx.topic}"`);
    const nodeKey = `${group}/${node}`;

    let decoded: SpPayload;
    try {
      decoded = codec.decodePayload(payload);
    } catch (err) {
      return fail(`not a Sparkplug B payload: ${(err as Error).message}`, deviceId);
    }
    const out: Decoded = { points: [], problems: [], warnings: [] };
    const ts = num(decoded.timestamp) ?? ctx.receivedAt;

    if (type === 'NDEATH') {
      const state = nodes.get(nodeKey);
      out.points.push(
        connectivityPoint(deviceId, 'offline', 'Sparkplug NDEATH', ts, ctx.receivedAt, ctx.source),
      );
      for (const d of state?.devices ?? []) {
        out.points.push(
          connectivityPoint(
            d,
            'offline',
            'Sparkplug NDEATH of its edge node',
            ts,
            ctx.receivedAt,
            ctx.source,
          ),
        );
      }
      nodes.delete(nodeKey);
      out.points = out.points.map((p) => withTags(p, ctx));
      return out;
    }

    let state = nodes.get(nodeKey);
    if (type === 'NBIRTH' || !state) {
      if (type !== 'NBIRTH') out.warnings?.push(`${type} from ${nodeKey} before its NBIRTH: aliases unknown`);
      state = { aliases: new Map(), lastSeq: undefined, devices: new Set() };
      nodes.set(nodeKey, state);
    }
    const seq = num(decoded.seq);
    if (seq !== undefined) {
      if (type !== 'NBIRTH' && state.lastSeq !== undefined && seq !== (state.lastSeq + 1) % 256) {
        out.warnings?.push(`sequence gap from ${nodeKey}: expected ${(state.lastSeq + 1) % 256}, got ${seq}`);
      }
      state.lastSeq = seq;
    }
    if (type === 'DDEATH') {
      state.devices.delete(deviceId);
      out.points.push(
        withTags(
          connectivityPoint(deviceId, 'offline', 'Sparkplug DDEATH', ts, ctx.receivedAt, ctx.source),
          ctx,
        ),
      );
      return out;
    }
    if (isDevice) state.devices.add(deviceId);

    const fields: Record<string, FieldValue> = {};
    for (const m of decoded.metrics ?? []) {
      const alias = num(m.alias);
      let name = m.name;
      if (name && alias !== undefined && type.endsWith('BIRTH')) state.aliases.set(alias, name);
      if (!name && alias !== undefined) name = state.aliases.get(alias);
      if (!name) {
        out.problems.push({
          deviceId,
          reason: `metric with unknown alias ${alias} (no birth seen)`,
          partial: true,
        });
        continue;
      }
      // Control metrics of the protocol itself are not telemetry.
      if (name === 'bdSeq' || name.startsWith('Node Control/') || name.startsWith('Device Control/'))
        continue;
      if (m.isNull) continue;
      const unsafe = unsafeKey(name);
      if (unsafe) {
        out.problems.push({ deviceId, reason: unsafe, partial: true });
        continue;
      }
      if (!m.type || !TYPES_READ.has(m.type)) {
        out.problems.push({
          deviceId,
          reason: `${name}: Sparkplug type ${m.type ?? 'unknown'} is not read`,
          partial: true,
        });
        continue;
      }
      const v = m.value;
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') fields[name] = v;
      else if (v && typeof (v as LongLike).toNumber === 'function') fields[name] = (v as LongLike).toNumber();
    }
    if (type.endsWith('BIRTH')) {
      out.points.push(
        withTags(
          connectivityPoint(deviceId, 'online', `Sparkplug ${type}`, ts, ctx.receivedAt, ctx.source),
          ctx,
        ),
      );
    }
    if (Object.keys(fields).length) {
      const p: Point = { deviceId, ts, receivedAt: ctx.receivedAt, fields, source: ctx.source };
      out.points.push(withTags(p, ctx));
    } else if (!type.endsWith('BIRTH') && out.problems.length) {
      for (const p of out.problems) p.partial = false;
    }
    return out;
  };
}
