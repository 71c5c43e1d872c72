import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { duration } from '../../lib/duration.js';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import { endOf, requireCoverage, type Silence, type SilenceStore } from '../../rules/silences.js';
import { parseOrThrow, timeParam } from '../problem.js';

const MAX_WINDOW_MS = 366 * 86_400_000;

const createBody = z
  .object({
    devices: z.array(z.string().min(1).max(128)).max(1000).default([]),
    sites: z.array(z.string().min(1).max(128)).max(100).default([]),
    /** Default: now. */
    from: timeParam.optional(),
    to: timeParam.optional(),
    /** Instead of `to`: how long (`4h`, `2d`). */
    duration: duration.optional(),
    reason: z.string().min(1).max(2000),
    createdBy: z.string().min(1).max(200).default('api'),
    ticketId: z.string().min(1).max(64).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    requireCoverage(b, ctx);
    if ((b.to === undefined) === (b.duration === undefined))
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'give exactly one of to and duration' });
  });

export function silenceView(s: Silence, now: number) {
  const end = endOf(s);
  return {
    id: s.id,
    devices: s.devices,
    sites: s.sites,
    from: toIso(s.from),
    to: toIso(s.to),
    endedAt: toIsoOrNull(s.endedAt),
    state: now < s.from ? 'planned' : now < end ? 'active' : 'over',
    reason: s.reason,
    recurring: s.id.startsWith('maintenance:'),
    createdBy: s.createdBy,
    ticketId: s.ticketId,
    createdAt: toIso(s.createdAt),
  };
}

/** Maintenance windows: alerts of covered devices are recorded but open no tickets. */
export function silenceRoutes(silences: SilenceStore, now: () => number = Date.now) {
  return async (app: FastifyInstance) => {
    app.get('/silences', async (req) => {
      const q = parseOrThrow(
        z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
        req.query,
        'query',
      );
      const t = now();
      return { items: silences.list({ all: q.all === 'true' }).map((s) => silenceView(s, t)) };
    });

    app.post('/silences', async (req, reply) => {
      const b = parseOrThrow(createBody, req.body ?? {}, 'body');
      const from = b.from ?? now();
      const to = b.to ?? from + (b.duration as number);
      if (to <= from)
        throw new FaultlineError('FL_ERR_API_VALIDATION', 'body to: the window must end after it starts', {
          details: [{ path: 'to', message: 'must be after from' }],
        });
      if (to - from > MAX_WINDOW_MS)
        throw new FaultlineError('FL_ERR_API_VALIDATION', 'body to: a window is at most 366 days', {
          details: [{ path: 'to', message: 'at most 366 days after from' }],
        });
      const s = silences.create({
        devices: b.devices,
        sites: b.sites,
        from,
        to,
        reason: b.reason,
        createdBy: b.createdBy,
        ticketId: b.ticketId ?? null,
      });
      reply.code(201);
      return silenceView(s, now());
    });

    app.delete('/silences/:id', async (req) => {
      const { id } = parseOrThrow(z.object({ id: z.string().min(1).max(80) }), req.params, 'path');
      if (id.startsWith('maintenance:'))
        throw new FaultlineError(
          'FL_ERR_API_VALIDATION',
          `path id: "${id}" is a recurring window of the configuration (maintenance:); change it there`,
          { details: [{ path: 'id', message: 'a configured window' }] },
        );
      const s = silences.end(id);
      if (!s) throw new FaultlineError('FL_ERR_SILENCE_NOT_FOUND', `silence "${id}" does not exist`);
      return silenceView(s, now());
    });
  };
}
