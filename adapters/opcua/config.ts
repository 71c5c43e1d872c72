import { createRequire } from 'node:module';
import { z } from 'zod';
import { duration } from '../../lib/duration.js';

/**
 * node-opcua's browse-path parser (the small package, not node-opcua itself), loaded the first time
 * a browse path is checked: loaded at start-up, it and node-opcua's debug hooks cost every gateway
 * about 14 MB of memory, OPC UA configured or not (issue 19: idle RSS 208 → 194 MB without them).
 */
type MakeBrowsePath = (root: string, path: string) => unknown;
let makeBrowsePath: MakeBrowsePath | undefined;
function checkBrowsePath(path: string): void {
  makeBrowsePath ??= (
    createRequire(import.meta.url)('node-opcua-service-translate-browse-path') as {
      makeBrowsePath: MakeBrowsePath;
    }
  ).makeBrowsePath;
  makeBrowsePath('RootFolder', path);
}

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'adapter ids are 1-64 letters, digits, ".", "_" or "-"');

export const opcuaItemSchema = z
  .object({
    /** `ns=2;s=Press7.Temperature`, `ns=3;i=1001`, … */
    nodeId: z.string().min(1).optional(),
    /**
     * Instead of a NodeId: a browse path from the Root folder in the OPC UA relative-path notation,
     * e.g. `/Objects/2:Press7/2:Temperature` (`/` follows hierarchical references, `.` components;
     * `2:` is the namespace index of the browse name). Resolved again after every reconnect.
     */
    browsePath: z
      .string()
      .min(1)
      .superRefine((p, ctx) => {
        try {
          checkBrowsePath(p);
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            message: `not a browse path: ${(err as Error).message.replace(/\s+/g, ' ').trim()}`,
          });
        }
      })
      .optional(),
    device: z.string().min(1),
    metric: z.string().min(1),
    /**
     * A state or alarm variable whose value is also an error code, for `errorCode` rules: `true` =
     * the value itself is the code (empty string, 0 and false = no code); a table = the codes of
     * given values (`{ '3': E-JAM, FAULT: E-FAULT }`), any other value = no code. The value is kept
     * as a metric too.
     */
    errorCodes: z.union([z.literal(true), z.record(z.string().min(1), z.string().min(1))]).optional(),
    /** Overrides the adapter's sampling interval / queue size for this item. */
    samplingInterval: duration.optional(),
    queueSize: z.number().int().min(1).max(1000).optional(),
    /** Report only changes larger than this: absolute units, or percent of the EURange. */
    deadband: z
      .object({ type: z.enum(['absolute', 'percent']), value: z.number().min(0) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((item, ctx) => {
    if ((item.nodeId === undefined) === (item.browsePath === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['nodeId'],
        message: 'give exactly one of nodeId and browsePath',
      });
  });

/** A connection to an OPC UA server and the variables subscribed to. */
export const opcuaAdapterSchema = z
  .object({
    protocol: z.literal('opcua'),
    id,
    endpointUrl: z.string().regex(/^opc\.tcp:\/\/[^\s]+$/, 'expected opc.tcp://host:port[/path]'),
    /** None (tests, isolated networks), Sign, or SignAndEncrypt. */
    securityMode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
    /** Basic256Sha256 or newer; Basic128Rsa15 and Basic256 are deprecated and refused unless allowed. */
    securityPolicy: z
      .enum([
        'None',
        'Basic256Sha256',
        'Aes128_Sha256_RsaOaep',
        'Aes256_Sha256_RsaPss',
        'Basic128Rsa15',
        'Basic256',
      ])
      .default('None'),
    allowDeprecatedPolicies: z.boolean().default(false),
    /**
     * The user identity: anonymous when absent; `{ username, password }`; or an X.509 user certificate
     * `{ certificate, privateKey }` (PEM or DER files) that the server must trust.
     */
    user: z
      .union([
        z.object({ username: z.string().min(1), password: z.string() }).strict(),
        z.object({ certificate: z.string().min(1), privateKey: z.string().min(1) }).strict(),
      ])
      .optional(),
    publishingInterval: duration.prefault('1s'),
    samplingInterval: duration.prefault('500ms'),
    queueSize: z.number().int().min(1).max(1000).default(10),
    /** The reading's time: the device's (source) timestamp or the server's. */
    timestamps: z.enum(['source', 'server']).default('source'),
    /** Reconnect backoff after the server is lost: exponential with jitter. */
    reconnect: z
      .object({ min: duration.prefault('1s'), max: duration.prefault('1m') })
      .strict()
      .prefault({}),
    /** No publish response (data or keep-alive) for this long = the connection is lost. */
    keepAliveTimeout: duration.prefault('10s'),
    items: z.array(opcuaItemSchema).min(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.securityMode === 'None') !== (c.securityPolicy === 'None')) {
      ctx.addIssue({
        code: 'custom',
        path: ['securityPolicy'],
        message: 'securityMode None goes with securityPolicy None, and only with it',
      });
    }
    if (['Basic128Rsa15', 'Basic256'].includes(c.securityPolicy) && !c.allowDeprecatedPolicies) {
      ctx.addIssue({
        code: 'custom',
        path: ['securityPolicy'],
        message: `${c.securityPolicy} is deprecated (OPC UA 1.04) and refused unless allowDeprecatedPolicies is true`,
      });
    }
  });

export type OpcuaAdapterConfig = z.output<typeof opcuaAdapterSchema>;
