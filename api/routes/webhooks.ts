import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { redactUrl } from '../../lib/redact.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import type { EgressPolicy } from '../../notify/egress.js';
import { type Delivery, EVENT_TYPES, type Mail, type Outbox, type Webhook } from '../../notify/outbox.js';
import { principalOf } from '../guard.js';
import { limitParam } from '../problem.js';

const typeGlob = z
  .string()
  .min(1)
  .max(64)
  .refine(
    (t) => /^[a-z.*]+$/.test(t) && (t.includes('*') || (EVENT_TYPES as readonly string[]).includes(t)),
    {
      message: `an event type (${EVENT_TYPES.join(', ')}) or a glob such as ticket.*`,
    },
  );

const createBody = z
  .object({
    url: z.url({ protocol: /^https?$/ }).max(2000),
    types: z.array(typeGlob).min(1).max(50),
    description: z.string().max(500).default(''),
    /** `whsec_` + base64 (24–64 bytes); default: a new random one, shown in this answer only. */
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'a secret is whsec_ followed by base64 of 24-64 bytes')
      .optional(),
  })
  .strict();

const idParams = z.object({ id: z.string().min(1).max(64) });

/** A page of deliveries or e-mails, optionally in one state. */
const stateQuery = z
  .object({
    state: z.enum(['pending', 'delivered', 'dead']).optional(),
    limit: limitParam,
    cursor: z.string().min(1).optional(),
  })
  .strict();

function webhookView(w: Webhook, withSecret = false) {
  return {
    id: w.id,
    url: redactUrl(w.url),
    types: w.types,
    description: w.description,
    active: w.active,
    createdAt: toIso(w.createdAt),
    ...(withSecret ? { secret: w.secret } : { secretHint: `whsec_…${w.secret.slice(-4)}` }),
  };
}

function deliveryView(d: Delivery) {
  return {
    id: d.id,
    eventId: String(d.eventSeq),
    state: d.state,
    attempts: d.attempts,
    nextAt: d.state === 'pending' ? toIso(d.nextAt) : null,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: toIso(d.createdAt),
    deliveredAt: toIsoOrNull(d.deliveredAt),
  };
}

function mailView(m: Mail) {
  return {
    id: m.id,
    eventId: String(m.eventSeq),
    to: m.to,
    subject: m.subject,
    state: m.state,
    attempts: m.attempts,
    nextAt: m.state === 'pending' ? toIso(m.nextAt) : null,
    lastError: m.lastError,
    createdAt: toIso(m.createdAt),
    sentAt: toIsoOrNull(m.sentAt),
  };
}

const tags = ['webhooks'];

/**
 * Webhook subscriptions (admin): each gets the events of its types as signed POSTs (Standard
 * Webhooks headers), retried with backoff; what never got through is on the dead list, and can be
 * sent again.
 */
export function webhookRoutes(outbox: Outbox, egress: EgressPolicy, now: () => number = Date.now) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    // Webhooks and mails carry the events of every site: a key limited to sites may not manage them
    // (it could otherwise subscribe to what it may not see, issue 18).
    app.addHook('preHandler', async (req) => {
      if (principalOf(req).sites !== null)
        throw new FaultlineError(
          'FL_ERR_AUTH_FORBIDDEN',
          'webhooks and mails carry events of every site: a key limited to sites may not manage them',
        );
    });
    const found = async (id: string) => {
      const w = await outbox.webhook(id);
      if (!w) throw new FaultlineError('FL_ERR_WEBHOOK_NOT_FOUND', `webhook "${id}" does not exist`);
      return w;
    };

    app.get(
      '/webhooks',
      { config: { access: 'webhooks:admin' }, schema: { tags, summary: 'Webhook subscriptions' } },
      async () => ({
        items: (await outbox.webhooks()).map((w) => webhookView(w)),
        deliveries: await outbox.counts(),
      }),
    );

    app.post(
      '/webhooks',
      {
        config: { access: 'webhooks:admin' },
        schema: {
          tags,
          summary: 'Subscribe a URL to event types (the signing secret is shown once)',
          body: createBody,
        },
      },
      async (req, reply) => {
        const b = req.body;
        const refused = egress.checkUrl(b.url);
        if (refused)
          throw new FaultlineError('FL_ERR_API_VALIDATION', `body url: ${refused}`, {
            details: [{ path: 'url', message: refused }],
          });
        const w = await outbox.createWebhook({
          url: b.url,
          types: b.types,
          description: b.description,
          ...(b.secret ? { secret: b.secret } : {}),
        });
        reply.code(201).header('location', `/api/v1/webhooks/${w.id}`);
        return webhookView(w, true);
      },
    );

    app.get(
      '/webhooks/:id',
      { config: { access: 'webhooks:admin' }, schema: { tags, summary: 'A webhook', params: idParams } },
      async (req) => webhookView(await found(req.params.id)),
    );

    app.patch(
      '/webhooks/:id',
      {
        config: { access: 'webhooks:admin' },
        schema: {
          tags,
          summary: 'Switch a webhook on or off',
          params: idParams,
          body: z.object({ active: z.boolean() }).strict(),
        },
      },
      async (req) => {
        await found(req.params.id);
        return webhookView((await outbox.setActive(req.params.id, req.body.active)) as Webhook);
      },
    );

    app.delete(
      '/webhooks/:id',
      {
        config: { access: 'webhooks:admin' },
        schema: { tags, summary: 'Delete a webhook and its deliveries', params: idParams },
      },
      async (req, reply) => {
        await found(req.params.id);
        await outbox.deleteWebhook(req.params.id);
        return reply.code(204).send();
      },
    );

    app.get(
      '/webhooks/:id/deliveries',
      {
        config: { access: 'webhooks:admin' },
        schema: {
          tags,
          summary: "A webhook's deliveries, newest first (state=dead: the dead list)",
          params: idParams,
          querystring: stateQuery,
        },
      },
      async (req) => {
        await found(req.params.id);
        const q = req.query;
        const page = await outbox.deliveries(req.params.id, q.state, q.limit, q.cursor);
        return { items: page.items.map(deliveryView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/mails',
      {
        config: { access: 'webhooks:admin' },
        schema: {
          tags: ['e-mail'],
          summary: 'E-mails to customers (notifications.smtp), newest first (state=dead: the dead list)',
          querystring: stateQuery,
        },
      },
      async (req) => {
        const page = await outbox.mails(req.query.state, req.query.limit, req.query.cursor);
        return { items: page.items.map(mailView), nextCursor: page.nextCursor };
      },
    );

    app.post(
      '/mails/:id/retry',
      {
        config: { access: 'webhooks:admin' },
        schema: { tags: ['e-mail'], summary: 'Send a dead e-mail again', params: idParams },
      },
      async (req) => {
        const m = await outbox.mail(req.params.id);
        if (!m)
          throw new FaultlineError('FL_ERR_WEBHOOK_NOT_FOUND', `e-mail "${req.params.id}" does not exist`);
        if (m.state !== 'dead')
          throw new FaultlineError(
            'FL_ERR_API_VALIDATION',
            `e-mail ${m.id} is ${m.state}: only dead ones are sent again`,
          );
        const again = (await outbox.retryMail(m.id, now())) as Mail;
        outbox.wake();
        return mailView(again);
      },
    );

    app.post(
      '/webhooks/:id/deliveries/:deliveryId/retry',
      {
        config: { access: 'webhooks:admin' },
        schema: {
          tags,
          summary: 'Send a dead delivery again',
          params: z.object({ id: z.string().min(1).max(64), deliveryId: z.string().min(1).max(200) }),
        },
      },
      async (req) => {
        await found(req.params.id);
        const d = await outbox.delivery(req.params.deliveryId);
        if (!d || d.webhookId !== req.params.id)
          throw new FaultlineError(
            'FL_ERR_WEBHOOK_NOT_FOUND',
            `delivery "${req.params.deliveryId}" does not exist`,
          );
        if (d.state !== 'dead')
          throw new FaultlineError(
            'FL_ERR_API_VALIDATION',
            `delivery ${d.id} is ${d.state}: only dead ones are sent again`,
          );
        const again = (await outbox.retry(d.id, now())) as Delivery;
        outbox.wake();
        return deliveryView(again);
      },
    );
  };
}
