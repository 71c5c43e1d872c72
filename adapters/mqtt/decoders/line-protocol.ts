import { z } from 'zod';
import { type FieldValue, isValidDeviceId, type Point, unsafeKey } from '../../../ingest/point.js';
import { type Decoded, type Decoder, withTags } from './types.js';

export const lineOptionsSchema = z
  .object({
    /** Unit of the timestamps (InfluxDB's default is nanoseconds). */
    precision: z.enum(['ns', 'us', 'ms', 's']).default('ns'),
    /** The tag that names the device (else the topic's {device}). */
    deviceTag: z.string().min(1).default('device'),
    /** Name metrics `<measurement>_<field>` instead of `<field>`. */
    prefixMeasurement: z.boolean().default(false),
  })
  .strict();

export type LineOptions = z.output<typeof lineOptionsSchema>;

export interface ParsedLine {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Integer timestamp as written (precision per config), or undefined. */
  timestamp?: bigint;
}

/*
 * A scanner for InfluxDB line protocol, following the reference (docs.influxdata.com, "Line
 * protocol"): `measurement[,tag=value...] field=value[,field=value...] [timestamp]`. Measurement
 * escapes `,` and space; tag keys, tag values and field keys escape `,`, `=` and space; string
 * field values escape `"` and `\`. Integers end in `i`, unsigned integers in `u`; booleans are
 * t/T/true/True/TRUE/f/F/false/False/FALSE. Hand-written because no maintained JavaScript parser
 * exists on npm (the one there is from 2016 and loses nanosecond timestamps).
 */
class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  /** Reads up to an unescaped stop character. */
  token(stops: string, what: string): string {
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i] as string;
      if (c === '\\' && this.i + 1 < this.s.length) {
        const n = this.s[this.i + 1] as string;
        if (stops.includes(n) || n === '\\') {
          out += n;
          this.i += 2;
          continue;
        }
      }
      if (stops.includes(c)) break;
      out += c;
      this.i++;
    }
    if (out === '') throw new Error(`empty ${what} at column ${this.i + 1}`);
    return out;
  }

  expect(c: string, what: string): void {
    if (this.s[this.i] !== c) throw new Error(`expected ${what} at column ${this.i + 1}`);
    this.i++;
  }

  fieldValue(): FieldValue {
    if (this.s[this.i] === '"') {
      this.i++;
      let out = '';
      while (this.i < this.s.length && this.s[this.i] !== '"') {
        if (this.s[this.i] === '\\' && (this.s[this.i + 1] === '"' || this.s[this.i + 1] === '\\')) this.i++;
        out += this.s[this.i];
        this.i++;
      }
      this.expect('"', 'closing quote');
      return out;
    }
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i] !== ',' && this.s[this.i] !== ' ') this.i++;
    const raw = this.s.slice(start, this.i);
    if (/^[tT](rue)?$|^TRUE$|^True$/.test(raw)) return true;
    if (/^[fF](alse)?$|^FALSE$|^False$/.test(raw)) return false;
    const m = /^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)([iu]?)$/.exec(raw);
    if (!m || (m[2] && !/^[-+]?\d+$/.test(m[1] as string)))
      throw new Error(`invalid field value "${raw}" at column ${start + 1}`);
    return Number(m[1]);
  }
}

function refuseUnsafe(key: string, what: string): void {
  const unsafe = unsafeKey(key);
  if (unsafe) throw new Error(`${what}: ${unsafe}`);
}

export function parseLine(line: string): ParsedLine {
  const sc = new Scanner(line);
  const measurement = sc.token(', ', 'measurement');
  const tags: Record<string, string> = {};
  while (line[sc.i] === ',') {
    sc.i++;
    const k = sc.token(',= ', 'tag key');
    refuseUnsafe(k, 'tag key');
    sc.expect('=', '"=" after tag key');
    tags[k] = sc.token(', ', 'tag value');
  }
  sc.expect(' ', 'a space before the fields');
  const fields: Record<string, FieldValue> = {};
  do {
    if (line[sc.i] === ',') sc.i++;
    const k = sc.token(',= ', 'field key');
    refuseUnsafe(k, 'field key');
    sc.expect('=', '"=" after field key');
    fields[k] = sc.fieldValue();
  } while (line[sc.i] === ',');
  const out: ParsedLine = { measurement, tags, fields };
  if (line[sc.i] === ' ') {
    const rest = line.slice(sc.i + 1).trim();
    if (!/^-?\d+$/.test(rest)) throw new Error(`invalid timestamp "${rest.slice(0, 30)}"`);
    out.timestamp = BigInt(rest);
  } else if (sc.i < line.length) {
    throw new Error(`unexpected "${line.slice(sc.i, sc.i + 10)}" at column ${sc.i + 1}`);
  }
  return out;
}

const PER_MS: Record<LineOptions['precision'], bigint> = { ns: 1_000_000n, us: 1_000n, ms: 1n, s: 1n };

function toMs(t: bigint, precision: LineOptions['precision']): number {
  return precision === 's' ? Number(t * 1000n) : Number(t / PER_MS[precision]);
}

/** InfluxDB line protocol, one reading per line; a bad line is rejected alone. */
export function lineProtocolDecoder(o: LineOptions): Decoder {
  return (payload, ctx): Decoded => {
    const out: Decoded = { points: [], problems: [] };
    const lines = payload.toString('utf8').split('\n');
    lines.forEach((raw, n) => {
      const text = raw.trim();
      if (text === '' || text.startsWith('#')) return;
      const where = lines.length > 1 ? `line ${n + 1}: ` : '';
      let parsed: ParsedLine;
      try {
        parsed = parseLine(text);
      } catch (err) {
        out.problems.push({
          deviceId: ctx.vars.device ?? null,
          reason: where + (err as Error).message,
          partial: lines.length > 1,
        });
        return;
      }
      const deviceId = parsed.tags[o.deviceTag] ?? ctx.vars.device;
      if (!deviceId || !isValidDeviceId(deviceId)) {
        out.problems.push({
          deviceId: null,
          reason: `${where}no valid device id (tag "${o.deviceTag}" or the topic's {device})`,
          partial: lines.length > 1,
        });
        return;
      }
      const tags = { ...parsed.tags };
      delete tags[o.deviceTag];
      const fields: Record<string, FieldValue> = {};
      for (const [k, v] of Object.entries(parsed.fields))
        fields[o.prefixMeasurement ? `${parsed.measurement}_${k}` : k] = v;
      const point: Point = {
        deviceId,
        ts: parsed.timestamp === undefined ? ctx.receivedAt : toMs(parsed.timestamp, o.precision),
        receivedAt: ctx.receivedAt,
        fields,
        source: ctx.source,
      };
      if (Object.keys(tags).length) point.tags = tags;
      out.points.push(withTags(point, ctx));
    });
    if (out.points.length === 0 && out.problems.length === 0)
      out.problems.push({
        deviceId: ctx.vars.device ?? null,
        reason: 'payload has no lines',
        partial: false,
      });
    if (out.points.length === 0) for (const p of out.problems) p.partial = false;
    return out;
  };
}
