import { z } from 'zod';
import { duration } from '../lib/duration.js';
import { EgressPolicy, egressSchema } from './egress.js';
import { smtpSchema } from './mail.js';

/** The `notifications` section: how long events are kept for replay, how webhooks are retried. */
export const notificationsSchema = z
  .object({
    events: z
      .object({
        /** Events older than this are dropped (unless a delivery still needs them); SSE replays within it. */
        retention: duration.prefault('7d'),
      })
      .strict()
      .prefault({}),
    webhooks: z
      .object({
        /** Per attempt. */
        timeout: duration.prefault('10s'),
        /** Exponential backoff with jitter between attempts; after `attempts`, the dead list. */
        retry: z
          .object({
            min: duration.prefault('5s'),
            max: duration.prefault('1h'),
            attempts: z.number().int().min(1).max(100).default(12),
          })
          .strict()
          .prefault({}),
        /** Which receivers may be reached: public addresses only, unless allowed here (docs/security.md). */
        egress: egressSchema
          .superRefine((e, ctx) => {
            e.allow.forEach((a, i) => {
              const bad = EgressPolicy.checkEntry(a);
              if (bad) ctx.addIssue({ code: 'custom', path: ['allow', i], message: bad });
            });
          })
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Customer updates by e-mail to the contacts' addresses (retried like webhooks). */
    smtp: smtpSchema.optional(),
  })
  .strict();

export type NotificationsConfig = z.output<typeof notificationsSchema>;
