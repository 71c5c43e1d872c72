import nodemailer from 'nodemailer';
import { z } from 'zod';
import type { Logger } from '../lib/log.js';
import type { CustomerNotice } from '../tickets/customers.js';
import type { Mail, NewEvent, NewMail, Outbox } from './outbox.js';
import { DeliveryLoop, errorText, nextAttemptAt } from './webhooks.js';

/** `notifications.smtp`: customer updates by e-mail. */
export const smtpSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    /** `tls`: TLS from the start (port 465); `starttls`: upgrade required; `none`: plain (a local relay). */
    security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    from: z.string().min(3),
  })
  .strict()
  .refine((s) => (s.user === undefined) === (s.password === undefined), {
    path: ['password'],
    message: 'give user and password together',
  });
export type SmtpConfig = z.output<typeof smtpSchema>;

const SUBJECT: Record<CustomerNotice['update'], string> = {
  received: 'received',
  visit: 'visit',
  resolved: 'resolved',
  closed: 'closed — your report',
};

/** The e-mails of a customer update: one per contact with an address. */
export function mailsOf(e: NewEvent): NewMail[] {
  if (e.type !== 'customer.notice') return [];
  const n = e.data as CustomerNotice;
  return n.contacts.flatMap((c) =>
    c.email
      ? [
          {
            to: `${c.name.replace(/["<>\r\n]/g, '')} <${c.email}>`,
            subject: `[${n.ticketId}] ${SUBJECT[n.update]}`,
            text: `Hello ${c.name},\n\n${n.text}\n\nTicket: ${n.ticketId}\n`,
          },
        ]
      : [],
  );
}

/** Sends the outbox's e-mails over SMTP (nodemailer), retried with backoff, then the dead list. */
export class MailSender {
  private readonly loop: DeliveryLoop<Mail>;
  private readonly transport;
  private stopping = false;

  constructor(o: {
    outbox: Outbox;
    smtp: SmtpConfig;
    retry: { min: number; max: number; attempts: number };
    timeoutMs: number;
    logger: Logger;
    now?: () => number;
  }) {
    const now = o.now ?? Date.now;
    const s = o.smtp;
    this.transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.security === 'tls',
      requireTLS: s.security === 'starttls',
      ignoreTLS: s.security === 'none',
      ...(s.user ? { auth: { user: s.user, pass: s.password as string } } : {}),
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
    });
    this.loop = new DeliveryLoop({
      outbox: o.outbox,
      now,
      due: (t) => o.outbox.dueMails(t, 8),
      nextDueAt: () => o.outbox.nextMailAt(),
      wakeFor: (e) => o.outbox.asksForMail(e),
      send: async (m) => {
        try {
          await this.transport.sendMail({ from: s.from, to: m.to, subject: m.subject, text: m.text });
          await o.outbox.mailSent(m.id, now());
        } catch (err) {
          if (this.stopping) return; // cut off by the stop: sent again at the next start
          const next = nextAttemptAt(o.retry, m.attempts, now());
          await o.outbox.mailFailed(m.id, errorText(err), next);
          if (next === null)
            o.logger.warn({ mail: m.id, error: errorText(err) }, 'e-mail failed for good: dead list');
        }
      },
      poison: async (m, err) => {
        await o.outbox.mailFailed(m.id, `could not be prepared: ${errorText(err)}`, null);
        o.logger.error({ err, mail: m.id }, 'e-mail could not be prepared: dead list');
      },
    });
  }

  /** A standby instance sends nothing; the leader does (issue 20). */
  pause(): Promise<void> {
    return this.loop.pause();
  }

  resume(): void {
    this.loop.resume();
  }

  kick(): void {
    this.loop.kick();
  }

  idle(): Promise<void> {
    return this.loop.idle();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.transport.close();
    await this.loop.stop();
  }
}
