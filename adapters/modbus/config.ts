import { z } from 'zod';
import { duration } from '../../lib/duration.js';
import { registerSchema } from './registers.js';

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'adapter ids are 1-64 letters, digits, ".", "_" or "-"');

export const modbusDeviceSchema = z
  .object({
    /** The device id readings are filed under. */
    id: z.string().min(1),
    /** Unit (slave) id: 1-247; 255 for a TCP device that ignores it. */
    unit: z.number().int().min(0).max(255).default(1),
    /** A model from the top-level `models` whose `modbus.registers` this device uses. */
    model: z.string().min(1).optional(),
    /** Registers of this device (added to the model's). */
    registers: z.array(registerSchema).default([]),
    /** Poll interval; default: the adapter's. */
    interval: duration.optional(),
  })
  .strict();

/** A Modbus connection (TCP, RTU on a serial bus, or RTU over TCP) and the devices polled through it. */
export const modbusAdapterSchema = z
  .object({
    protocol: z.literal('modbus'),
    id,
    transport: z.enum(['tcp', 'rtu', 'rtu-over-tcp']).default('tcp'),
    /** tcp and rtu-over-tcp. */
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).default(502),
    /** rtu: the serial port. */
    serial: z
      .object({
        path: z.string().min(1),
        baudRate: z.number().int().positive().default(9600),
        parity: z.enum(['none', 'even', 'odd']).default('none'),
        dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
        stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
      })
      .strict()
      .optional(),
    /** Default poll interval of its devices. */
    interval: duration.prefault('5s'),
    /** One request may take this long. */
    timeout: duration.prefault('1s'),
    /** Extra attempts of a failed request while the device is online. */
    retries: z.number().int().min(0).max(5).default(1),
    /** Open a fresh connection after this many timeouts in a row (a stale half frame desynchronises it). */
    reconnectAfterTimeouts: z.number().int().min(1).default(2),
    /** A device is offline after this many failed polls in a row… */
    offlineAfterFailures: z.number().int().min(1).default(3),
    /** …and then polled with this backoff, one attempt each, so it cannot slow the others. */
    backoff: z
      .object({ min: duration.prefault('10s'), max: duration.prefault('5m') })
      .strict()
      .prefault({}),
    /** Request coalescing: registers per request (≤ 125), bits per request (≤ 2000), gap joined. */
    maxRegisters: z.number().int().min(1).max(125).default(125),
    maxBits: z.number().int().min(1).max(2000).default(2000),
    maxGap: z.number().int().min(0).max(125).default(10),
    devices: z.array(modbusDeviceSchema).min(1),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.transport === 'rtu' && !a.serial)
      ctx.addIssue({ code: 'custom', path: ['serial'], message: 'an rtu connection needs serial.path' });
    if (a.transport !== 'rtu' && !a.host)
      ctx.addIssue({ code: 'custom', path: ['host'], message: `a ${a.transport} connection needs host` });
  });

export type ModbusAdapterConfig = z.output<typeof modbusAdapterSchema>;

/** Per-model settings (`models:` section); each protocol has its own key. */
export const modelSchema = z
  .object({
    modbus: z
      .object({ registers: z.array(registerSchema).min(1) })
      .strict()
      .optional(),
  })
  .strict();

export type ModelConfig = z.output<typeof modelSchema>;
