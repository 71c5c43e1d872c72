import { z } from 'zod';
import { duration } from '../../lib/duration.js';
import { readYamlSource, type SourceIssue } from '../../lib/source-errors.js';
import '../../lib/zod-messages.js';
import { registerSchema } from '../../adapters/modbus/registers.js';

const metricSpecSchema = z.union([
  z
    .object({
      base: z.number(),
      noise: z.number().min(0).optional(),
      drift: z.number().min(0).optional(),
      cycle: z.object({ amplitude: z.number(), period: duration }).strict().optional(),
      decimals: z.number().int().min(0).max(6).optional(),
    })
    .strict(),
  z.object({ value: z.union([z.boolean(), z.string()]) }).strict(),
  /** A state variable: the states in turn, each held `every`. */
  z
    .object({
      states: z.array(z.union([z.string(), z.number()])).min(1),
      every: duration,
    })
    .strict(),
]);

export const DEFAULT_METRICS = {
  temperature: { base: 60, noise: 0.4, drift: 3 },
  vibration: { base: 2.2, noise: 0.3 },
  pressure: { base: 6, noise: 0.15 },
  rpm: { base: 1480, noise: 25, decimals: 0 },
  running: { value: true },
};

export const simDeviceSchema = z
  .object({
    /** With `count`, `{n}` is replaced by 1…count (`cnc-{n}`); zero-padded as `{nn}`, `{nnn}`. */
    id: z.string().min(1),
    count: z.number().int().min(1).max(10_000).default(1),
    format: z.enum(['json', 'sparkplug', 'modbus', 'opcua']).default('json'),
    /** JSON devices: where they publish. */
    topic: z.string().default('devices/{device}/telemetry'),
    /** JSON devices: `online` on devices/<id>/status after connecting, and `offline` as last will. */
    status: z.boolean().default(true),
    sparkplug: z
      .object({ group: z.string().min(1).default('faultline'), node: z.string().min(1).default('sim-edge') })
      .strict()
      .prefault({}),
    /** Modbus devices: served over Modbus TCP on their own port with this register map; metrics are by register name. */
    modbus: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** 0 = any free port (printed at start); with count > 1, ports count up from a fixed one. */
        port: z.number().int().min(0).max(65535).default(0),
        unit: z.number().int().min(0).max(255).default(255),
        registers: z.array(registerSchema).min(1),
      })
      .strict()
      .optional(),
    /**
     * OPC UA devices: an object `<id>` on the scenario's OPC UA server with a variable per metric
     * (`ns=1;s=<id>.<metric>`); `errorCode` names an extra String variable holding the active error
     * code ('' when none).
     */
    opcua: z
      .object({ errorCode: z.string().min(1).optional() })
      .strict()
      .optional(),
    interval: duration.optional(),
    metrics: z.record(z.string(), metricSpecSchema).default(DEFAULT_METRICS),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.format === 'modbus' && !d.modbus)
      ctx.addIssue({ code: 'custom', path: ['modbus'], message: 'a modbus device needs modbus.registers' });
  });

export const FAULTS = [
  'ramp',
  'spike',
  'stuck',
  'drift',
  'errorBurst',
  'dropout',
  'clear',
  // Modbus devices only: how the device answers.
  'exception',
  'noAnswer',
  'slowAnswer',
  'truncated',
  'garbage',
  // OPC UA devices only: the whole server restarts (down `for`, default 5s); a variable reports a bad status.
  'serverRestart',
  'badStatus',
] as const;

export const simEventSchema = z
  .object({
    /** Time after the start of the scenario. */
    at: duration,
    /** Device id or glob (`cnc-*`, `*`). */
    device: z.string().min(1),
    fault: z.enum(FAULTS),
    metric: z.string().optional(),
    /** ramp: target value and speed per second. */
    to: z.number().optional(),
    rate: z.number().positive().optional(),
    /** spike: added to the value. */
    magnitude: z.number().optional(),
    /** drift: added per hour. */
    perHour: z.number().optional(),
    /** errorBurst: the codes reported. */
    codes: z.array(z.string().min(1)).min(1).optional(),
    /** exception: the Modbus exception code (2 illegal address, 4 device failure, 6 busy). */
    code: z.number().int().min(1).max(255).optional(),
    /** slowAnswer: the delay. */
    delay: duration.optional(),
    /** dropout: close the connection without DISCONNECT (last will / Sparkplug DDEATH). */
    disconnect: z.boolean().default(false),
    /** How long; absent = until a `clear`. A spike without `for` lasts one reading. */
    for: duration.optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const need = (key: keyof typeof e, why: string) => {
      if (e[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `required for ${why}` });
    };
    if (['ramp', 'spike', 'stuck', 'drift'].includes(e.fault)) need('metric', `fault ${e.fault}`);
    if (e.fault === 'ramp') {
      need('to', 'fault ramp');
      need('rate', 'fault ramp');
    }
    if (e.fault === 'spike') need('magnitude', 'fault spike');
    if (e.fault === 'drift') need('perHour', 'fault drift');
    if (e.fault === 'errorBurst') need('codes', 'fault errorBurst');
    if (e.fault === 'exception') need('code', 'fault exception');
    if (e.fault === 'slowAnswer') need('delay', 'fault slowAnswer');
    if (e.fault === 'badStatus') need('metric', 'fault badStatus');
  });

export const scenarioSchema = z
  .object({
    name: z.string().optional(),
    broker: z.string().default('mqtt://127.0.0.1:1883'),
    username: z.string().optional(),
    password: z.string().optional(),
    interval: duration.prefault('1s'),
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    seed: z.number().int().default(42),
    /** Start the events over after this long (a plant that keeps developing faults). */
    repeatEvery: duration.optional(),
    /** The OPC UA server that serves the `format: opcua` devices (one server, as a SCADA server is). */
    opcua: z
      .object({
        /** 0 = any free port (printed at start). */
        port: z.number().int().min(0).max(65535).default(0),
      })
      .strict()
      .prefault({}),
    devices: z.array(simDeviceSchema).min(1),
    events: z.array(simEventSchema).default([]),
  })
  .strict();

export type Scenario = z.output<typeof scenarioSchema>;
export type SimDevice = z.output<typeof simDeviceSchema>;
export type SimEvent = z.output<typeof simEventSchema>;

/** Reads a scenario file; every problem is returned at once as file:line:col. */
export async function loadScenario(file: string): Promise<{ scenario?: Scenario; issues: SourceIssue[] }> {
  const { src, issues } = await readYamlSource(file);
  if (!src) return { issues };
  const r = scenarioSchema.safeParse(src.toJS());
  return r.success ? { scenario: r.data, issues: [] } : { issues: src.zodIssues(r.error) };
}

/** Expands `count` into device ids: `cnc-{n}` → cnc-1…; `{nn}` → 01…, `{nnn}` → 001…. */
export function expandIds(d: SimDevice): string[] {
  return Array.from({ length: d.count }, (_, i) =>
    d.id.replace(/\{(n+)\}/g, (_m, ns: string) =>
      String(i + 1).padStart(ns.length === 1 ? 1 : ns.length, '0'),
    ),
  ).map((id, i) => (d.count > 1 && id === d.id ? `${d.id}-${i + 1}` : id));
}
