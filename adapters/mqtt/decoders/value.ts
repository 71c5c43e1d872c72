import { z } from 'zod';
import { checkField, isValidDeviceId, type Point } from '../../../ingest/point.js';
import { type Decoder, fail, withTags } from './types.js';

export const valueOptionsSchema = z
  .object({
    /** The metric's name when the topic template has no {metric}. */
    metric: z.string().min(1).optional(),
    /** How to read the text: `auto` tries number, then true/false, then keeps the string. */
    type: z.enum(['auto', 'number', 'boolean', 'string']).default('auto'),
    scale: z.number().default(1),
    offset: z.number().default(0),
    unit: z.string().optional(),
  })
  .strict();

export type ValueOptions = z.output<typeof valueOptionsSchema>;

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const BOOLEAN: Record<string, boolean> = {
  true: true,
  false: false,
  on: true,
  off: false,
  '1': true,
  '0': false,
};

/** One value per message (`23.5`, `true`, `RUNNING`), the metric named by the topic or the config. */
export function valueDecoder(o: ValueOptions): Decoder {
  return (payload, ctx) => {
    const deviceId = ctx.vars.device;
    const metric = ctx.vars.metric ?? o.metric;
    if (!deviceId || !isValidDeviceId(deviceId)) return fail(`no valid device id in topic "${ctx.topic}"`);
    if (!metric)
      return fail('no metric: the topic template has no {metric} and no value.metric is set', deviceId);
    const text = payload.toString('utf8').trim();
    let value: number | boolean | string | undefined;
    const asNumber = NUMBER.test(text) ? Number(text) : undefined;
    const asBool = BOOLEAN[text.toLowerCase()];
    if (o.type === 'number') value = asNumber;
    else if (o.type === 'boolean') value = asBool;
    else if (o.type === 'string') value = text;
    else
      value = asNumber ?? (text.toLowerCase() in BOOLEAN && !NUMBER.test(text) ? asBool : undefined) ?? text;
    if (value === undefined) return fail(`"${text.slice(0, 40)}" is not a ${o.type}`, deviceId);
    if (typeof value === 'number') value = value * o.scale + o.offset;
    const bad = checkField(metric, value);
    if (bad) return fail(bad, deviceId);
    if (typeof value === 'string' && value === '') return fail('empty payload', deviceId);
    const point: Point = {
      deviceId,
      ts: ctx.receivedAt,
      receivedAt: ctx.receivedAt,
      fields: { [metric]: value },
      source: ctx.source,
    };
    if (o.unit) point.units = { [metric]: o.unit };
    return { points: [withTags(point, ctx)], problems: [] };
  };
}
