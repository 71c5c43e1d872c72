import { z } from 'zod';
import {
  checkField,
  decodeTelemetryObject,
  isValidDeviceId,
  type Point,
  parseErrorCodes,
  parseTs,
} from '../../../ingest/point.js';
import {
  type DecodeContext,
  type Decoded,
  type DecodeProblem,
  type Decoder,
  fail,
  withTags,
} from './types.js';

const path = z.string().min(1);

export const jsonOptionsSchema = z
  .object({
    /** Where the reading(s) are: the payload itself (default) or a path to an object or list. */
    readingsPath: path.optional(),
    /** In a list of readings, the key that names each reading's device (else the topic's {device}). */
    deviceKey: path.optional(),
    /** Read only these values, by path, each with a metric name and optional scale, offset and unit. */
    fields: z
      .array(
        z
          .object({
            path,
            metric: z.string().min(1),
            /** value × scale + offset */
            scale: z.number().default(1),
            offset: z.number().default(0),
            unit: z.string().optional(),
          })
          .strict(),
      )
      .min(1)
      .optional(),
    /** Where the time is (epoch ms or ISO 8601); default `ts`. */
    timestampPath: path.default('ts'),
    /** Where the active error codes are; default `errorCode`. */
    errorCodePath: path.default('errorCode'),
  })
  .strict();

export type JsonOptions = z.output<typeof jsonOptionsSchema>;

/** `a.b[2].c` or `a.b.2.c`. */
function get(obj: unknown, p: string): unknown {
  let cur = obj;
  for (const key of p.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function mapped(
  obj: Record<string, unknown>,
  deviceId: string,
  ctx: DecodeContext,
  o: JsonOptions,
): { point?: Point; problems: DecodeProblem[] } {
  const problems: DecodeProblem[] = [];
  const ts = parseTs(get(obj, o.timestampPath));
  if (typeof ts === 'object') return { problems: [{ deviceId, reason: ts.error, partial: false }] };
  const fields: Point['fields'] = {};
  const units: Record<string, string> = {};
  for (const f of o.fields ?? []) {
    const raw = get(obj, f.path);
    if (raw === undefined) continue;
    const bad = checkField(f.metric, raw);
    if (bad) {
      problems.push({ deviceId, reason: `${f.path}: ${bad}`, partial: true });
      continue;
    }
    fields[f.metric] = typeof raw === 'number' ? raw * f.scale + f.offset : (raw as string | boolean);
    if (f.unit) units[f.metric] = f.unit;
  }
  const rawCodes = get(obj, o.errorCodePath);
  let errorCodes: string[] | undefined;
  if (rawCodes !== undefined) {
    const codes = parseErrorCodes(rawCodes);
    if (Array.isArray(codes)) errorCodes = codes;
    else problems.push({ deviceId, reason: `${o.errorCodePath}: ${codes.error}`, partial: true });
  }
  if (Object.keys(fields).length === 0 && errorCodes === undefined) {
    return {
      problems: [
        ...problems.map((p) => ({ ...p, partial: false })),
        { deviceId, reason: 'no mapped field in payload', partial: false },
      ],
    };
  }
  const point: Point = {
    deviceId,
    ts: ts ?? ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    fields,
    source: ctx.source,
  };
  if (errorCodes) point.errorCodes = errorCodes;
  if (Object.keys(units).length) point.units = units;
  return { point, problems };
}

const NO_PROBLEMS = Object.freeze([]) as unknown as DecodeProblem[];

function one(
  item: unknown,
  deviceId: string | undefined,
  ctx: DecodeContext,
  o: JsonOptions,
): { point?: Point; problems: DecodeProblem[] } {
  if (deviceId === undefined)
    return {
      problems: [
        { deviceId: null, reason: 'no device id (topic has no {device} and no deviceKey)', partial: false },
      ],
    };
  if (!isValidDeviceId(deviceId))
    return {
      problems: [{ deviceId: null, reason: `invalid device id "${deviceId.slice(0, 64)}"`, partial: false }],
    };
  if (o.fields) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return { problems: [{ deviceId, reason: 'a reading must be a JSON object', partial: false }] };
    }
    return mapped(item as Record<string, unknown>, deviceId, ctx, o);
  }
  const r = decodeTelemetryObject(item, deviceId, ctx.receivedAt, ctx.source);
  if (!r.ok) return { problems: [{ deviceId, reason: r.reason, partial: false }] };
  return {
    point: r.point,
    problems:
      r.rejected.length === 0
        ? NO_PROBLEMS
        : r.rejected.map((x) => ({ deviceId, reason: `${x.key}: ${x.reason}`, partial: true })),
  };
}

/**
 * JSON payloads: the flat convention of CONTRACTS.md, a list of such readings, or any shape read
 * through `fields` paths. A bad element of a list is rejected alone.
 */
export function jsonDecoder(o: JsonOptions): Decoder {
  return (payload, ctx): Decoded => {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return fail(`payload is not JSON: ${(err as Error).message}`, ctx.vars.device ?? null);
    }
    const readings = o.readingsPath ? get(body, o.readingsPath) : body;
    if (readings === undefined) return fail(`no "${o.readingsPath}" in payload`, ctx.vars.device ?? null);
    const items = Array.isArray(readings) ? readings : [readings];
    const out: Decoded = { points: [], problems: [] };
    for (let i = 0; i < items.length; i++) {
      const item: unknown = items[i];
      let deviceId = ctx.vars.device;
      if (o.deviceKey && Array.isArray(readings)) {
        const d = get(item, o.deviceKey);
        deviceId = typeof d === 'string' || typeof d === 'number' ? String(d) : deviceId;
      }
      // The device key is identity, not a metric.
      const body =
        o.deviceKey && !o.fields && item !== null && typeof item === 'object' && !Array.isArray(item)
          ? Object.fromEntries(Object.entries(item).filter(([k]) => k !== o.deviceKey))
          : item;
      const r = one(body, deviceId, ctx, o);
      if (r.point) out.points.push(withTags(r.point, ctx));
      if (r.problems.length === 0) continue;
      const prefix = items.length > 1 ? `[${i}] ` : '';
      for (const p of r.problems) out.problems.push({ ...p, reason: prefix + p.reason });
    }
    return out;
  };
}
