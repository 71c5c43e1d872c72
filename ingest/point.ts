/** A field value as stored: numbers are always written as float fields. */
export type FieldValue = number | boolean | string;

/**
 * One reading of one device at one instant: an MQTT publish, a Modbus poll, an OPC UA data-change
 * batch. It becomes one InfluxDB point (line).
 */
export interface Point {
  deviceId: string;
  /** The reading's own time (device clock when it sent one, else receipt), ms since the epoch. */
  ts: number;
  /** When the gateway received it, ms since the epoch. */
  receivedAt: number;
  fields: Record<string, FieldValue>;
  /** Error codes active in this reading; `undefined` when the reading did not report codes at all. */
  errorCodes?: string[];
  /** Which adapter produced it (`mqtt-embedded`, an adapter id). */
  source: string;
  /** Tags of this reading (from topic segments, a payload): written with the device's own tags. */
  tags?: Record<string, string>;
  /** Units of metrics, where the source states them (`temperature: °C`). */
  units?: Record<string, string>;
  /**
   * A change of the device's connectivity (Sparkplug birth/death, a last will, silence). Such a
   * reading also carries the metric `online` (true/false), so that rules can alert on it.
   */
  connectivity?: { state: 'online' | 'offline'; reason: string };
  /**
   * The device's own time of a reading stamped with its receipt instead, because that time was
   * outside `ingest.timestamps` (`outOfRange: receipt`).
   */
  originalTs?: number;
}

/** A reading that says a device went online or offline. */
export function connectivityPoint(
  deviceId: string,
  state: 'online' | 'offline',
  reason: string,
  ts: number,
  receivedAt: number,
  source: string,
): Point {
  return {
    deviceId,
    ts,
    receivedAt,
    source,
    fields: { online: state === 'online' },
    connectivity: { state, reason },
  };
}

/** A key of a payload that was dropped, with the reason; the rest of the reading was kept. */
export interface RejectedKey {
  key: string;
  reason: string;
}

export type DecodeResult =
  | { ok: true; point: Point; rejected: RejectedKey[] }
  | { ok: false; reason: string };

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_KEY_LENGTH = 256;
const MAX_STRING_LENGTH = 64 * 1024; // 64 KiB per string field
const MAX_ERROR_CODES = 256;
// InfluxDB refuses a field named `time`; `ts` and `errorCode` are the convention's own keys.
const RESERVED_FIELDS = new Set(['time']);

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

/**
 * Parses `ts`: epoch milliseconds or an ISO 8601 string with a date. Returns `undefined` when
 * absent, or an error string.
 */
export function parseTs(raw: unknown): number | undefined | { error: string } {
  if (raw === undefined) return undefined;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw) || raw < 0) return { error: `ts must be epoch milliseconds, got ${raw}` };
    // Seconds instead of milliseconds is the most common device mistake: 1.7e9 is January 1970 in ms.
    if (raw < 100_000_000_000) return { error: `ts looks like seconds, not milliseconds: ${raw}` };
    // And the other way: `date +%s%N` gives nanoseconds, many loggers microseconds (issue 18).
    if (raw >= 1e17) return { error: `ts looks like nanoseconds, not milliseconds: ${raw}` };
    if (raw >= 1e14) return { error: `ts looks like microseconds, not milliseconds: ${raw}` };
    return Math.round(raw);
  }
  if (typeof raw === 'string') {
    const t = Date.parse(raw);
    if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(t)) {
      return { error: `ts must be epoch milliseconds or an ISO 8601 time, got "${raw.slice(0, 64)}"` };
    }
    return t;
  }
  return { error: `ts must be a number or a string, got ${typeof raw}` };
}

export function parseErrorCodes(raw: unknown): string[] | { error: string } {
  const list = typeof raw === 'string' ? (raw === '' ? [] : [raw]) : raw;
  if (!Array.isArray(list)) return { error: 'errorCode must be a string or a list of strings' };
  if (list.length > MAX_ERROR_CODES) return { error: `errorCode lists at most ${MAX_ERROR_CODES} codes` };
  const codes: string[] = [];
  for (const c of list) {
    if (typeof c !== 'string' && typeof c !== 'number') {
      return { error: 'errorCode must be a string or a list of strings' };
    }
    const code = String(c).trim();
    if (code.includes('\u0000')) return { error: 'errorCode cannot hold NUL characters' };
    if (code !== '' && !codes.includes(code)) codes.push(code);
  }
  return codes;
}

/**
 * Why a name from a payload cannot be a key of a plain object (a metric or tag name), or undefined.
 * Assigning `__proto__` sets the object's prototype instead of a key: the value vanished silently
 * and an empty reading was accepted.
 */
export function unsafeKey(key: string): string | undefined {
  return key === '__proto__' ? '"__proto__" cannot be a name' : undefined;
}

export function checkField(key: string, value: unknown): string | undefined {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH)
    return `metric names are 1 to ${MAX_KEY_LENGTH} characters`;
  const unsafe = unsafeKey(key);
  if (unsafe) return unsafe;
  if (RESERVED_FIELDS.has(key)) return `"${key}" is reserved by InfluxDB`;
  // Neither PostgreSQL text nor InfluxDB's line protocol can carry U+0000.
  if (key.includes('\u0000')) return 'metric names cannot hold NUL characters';
  if (value === null) return 'null is not a value';
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'numbers must be finite';
  if (typeof value === 'boolean') return undefined;
  if (typeof value === 'string') {
    if (value.length > MAX_STRING_LENGTH) return `strings are at most ${MAX_STRING_LENGTH} characters`;
    return value.includes('\u0000') ? 'strings cannot hold NUL characters' : undefined;
  }
  return Array.isArray(value) ? 'a list is not a metric value' : 'an object is not a metric value';
}

/**
 * Decodes a telemetry payload of the default convention: a JSON object of metric → number |
 * boolean | string, optional `ts` and `errorCode`. A bad value drops that key only; a payload that
 * is not a JSON object, has an unusable `ts`, or carries nothing usable is rejected whole.
 */
export function decodeTelemetryJson(
  payload: Buffer | string,
  deviceId: string,
  receivedAt: number,
  source: string,
): DecodeResult {
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `payload is not JSON: ${(err as Error).message}` };
  }
  return decodeTelemetryObject(body, deviceId, receivedAt, source);
}

/** The convention applied to an already parsed value (one element of a JSON array, say). */
export function decodeTelemetryObject(
  body: unknown,
  deviceId: string,
  receivedAt: number,
  source: string,
): DecodeResult {
  if (!isValidDeviceId(deviceId)) {
    return { ok: false, reason: `invalid device id "${deviceId.slice(0, 64)}"` };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, reason: 'payload must be a JSON object' };
  }
  const obj = body as Record<string, unknown>;
  const ts = parseTs(obj.ts);
  if (typeof ts === 'object') return { ok: false, reason: ts.error };

  const rejected: RejectedKey[] = [];
  let errorCodes: string[] | undefined;
  if (obj.errorCode !== undefined) {
    const parsed = parseErrorCodes(obj.errorCode);
    if (Array.isArray(parsed)) errorCodes = parsed;
    else rejected.push({ key: 'errorCode', reason: parsed.error });
  }
  const fields: Record<string, FieldValue> = {};
  let count = 0;
  // for…in, not Object.entries: no [key, value] array per metric (issue 19).
  for (const key in obj) {
    if (key === 'ts' || key === 'errorCode' || !Object.hasOwn(obj, key)) continue;
    const value = obj[key];
    const problem = checkField(key, value);
    if (problem) {
      rejected.push({ key, reason: problem });
      continue;
    }
    fields[key] = value as FieldValue;
    count++;
  }
  if (count === 0 && errorCodes === undefined) {
    return { ok: false, reason: rejected.length ? 'no usable metric in payload' : 'payload has no metrics' };
  }
  const point: Point = { deviceId, ts: ts ?? receivedAt, receivedAt, fields, source };
  if (errorCodes !== undefined) point.errorCodes = errorCodes;
  return { ok: true, point, rejected };
}
