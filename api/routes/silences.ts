import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DeviceRegistry } from '../../ingest/devices.js';
import { duration } from '../../lib/duration.js';
import { FaultlineError } from '../../lib/errors.js';
import { toIso, toIsoOrNull } from '../../lib/time.js';
import { endOf, requireCoverage, type Silence, type Silences } from '../../rules/silences.js';
import { seesSite } from '../auth.js';
import { principalOf } from '../guard.js';
import { timeParam } from '../problem.js';

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
    createdBy: z.string().min(1).max(200).optional(),
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
const tags = ['maintenance windows'];

/** Maintenance windows: alerts of covered devices are recorded but open no tickets. */
export function silenceRoutes(silences: Silences, devices: DeviceRegistry, now: () => number = Date.now) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    /** A key limited to sites sees and makes windows of its sites only. */
    const inScope = (req: Parameters<typeof principalOf>[0], s: Pick<Silence, 'sites' | 'devices'>) => {
      const p = principalOf(req);
      if (!p.sites) return true;
      return (
        s.sites.every((x) => seesSite(p, x)) &&
        s.devices.every((d) => {
          const dev = devices.get(d);
          return dev !== undefined && seesSite(p, dev.site);
        })
      );
    };

    app.get(
      '/silences',
      {
        config: { access: 'silences:read' },
        schema: {
          tags,
          summary: 'Maintenance windows not over yet (all=true: every stored one)',
          querystring: z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
        },
      },
      async (req) => {
        const t = now();
        return {
          items: (await silences.list({ all: req.query.all === 'true' }))
            .filter((s) => inScope(req, s))
            .map((s) => silenceView(s, t)),
        };
      },
    );

    app.post(
      '/silences',
      {
        config: { access: 'silences:write' },
        schema: { tags, summary: 'Open a maintenance window (planned or now)', body: createBody },
      },
      async (req, reply) => {
        const b = req.body;
        if (!inScope(req, b))
          throw new FaultlineError(
            'FL_ERR_AUTH_FORBIDDEN',
            'this key is limited to sites: name devices (by id) and sites of those sites only',
          );
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
        const s = await silences.create({
          devices: b.devices,
          sites: b.sites,
          from,
          to,
          reason: b.reason,
          createdBy: b.createdBy ?? principalOf(req).name,
          ticketId: b.ticketId ?? null,
        });
        reply.code(201);
        return silenceView(s, now());
      },
    );

    app.delete(
      '/silences/:id',
      {
        config: { access: 'silences:write' },
        schema: {
          tags,
          summary: 'End a maintenance window now',
          params: z.object({ id: z.string().min(1).max(80) }),
        },
      },
      async (req) => {
        const { id } = req.params;
        if (id.startsWith('maintenance:'))
          throw new FaultlineError(
            'FL_ERR_API_VALIDATION',
            `path id: "${id}" is a recurring window of the configuration (maintenance:); change it there`,
            { details: [{ path: 'id', message: 'a configured window' }] },
          );
        const found = await silences.get(id);
        if (!found || !inScope(req, found))
          throw new FaultlineError('FL_ERR_SILENCE_NOT_FOUND', `silence "${id}" does not exist`);
        const s = (await silences.end(id)) as Silence;
        return silenceView(s, now());
      },
    );
  };
}
