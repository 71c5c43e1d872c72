import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso } from '../../lib/time.js';
import { PRIORITIES } from '../../tickets/model.js';
import type { TicketService } from '../../tickets/service.js';
import { GROUP_BY, statsCsv } from '../../tickets/stats.js';
import type { TicketFilter } from '../../tickets/store.js';
import { principalOf, scopeTickets } from '../guard.js';
import { listParam, timeParam } from '../problem.js';

const DAY = 86_400_000;
const MAX_PERIOD = 366 * DAY;

const query = z
  .object({
    /** The period: tickets filed in [from, to). Default: the last 30 days. */
    from: timeParam.optional(),
    to: timeParam.optional(),
    groupBy: z.enum(GROUP_BY).default('faultType'),
    format: z.enum(['json', 'csv']).default('json'),
    priority: listParam(PRIORITIES).optional(),
    site: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
    faultType: z.string().min(1).optional(),
  })
  .strict();

/** `GET /stats/sla`: where response time goes, per fault type, class, site, team, technician or customer. */
export function statsRoutes(tickets: TicketService) {
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/stats/sla',
      {
        config: { access: 'stats:read', worker: true },
        schema: {
          tags: ['statistics'],
          summary:
            'Per group: counts; mean, median and p90 of the time to respond, arrive on site, fix remotely, resolve; compliance per target; the stage that most often made tickets late; satisfaction by time to respond (format=csv for CSV)',
          querystring: query,
        },
      },
      async (req, reply) => {
        const q = req.query;
        const to = q.to ?? Date.now();
        const from = q.from ?? to - 30 * DAY;
        if (from >= to) throw new FaultlineError('FL_ERR_API_VALIDATION', 'query from: must be before to');
        if (to - from > MAX_PERIOD)
          throw new FaultlineError('FL_ERR_API_VALIDATION', 'query from: a period is at most 366 days');
        const filter: TicketFilter = {};
        if (q.priority) filter.priority = q.priority;
        if (q.site) filter.site = q.site;
        if (q.team) filter.team = q.team;
        if (q.faultType) filter.faultType = q.faultType;
        const stats = await tickets.stats(scopeTickets(principalOf(req), filter), from, to, q.groupBy);
        if (q.format === 'csv')
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="sla-${q.groupBy}.csv"`)
            .send(statsCsv(stats));
        return { from: toIso(from), to: toIso(to), ...stats };
      },
    );
  };
}
