import type { FastifyInstance } from 'fastify';
import type { TicketService } from '../../tickets/service.js';
import { principalOf } from '../guard.js';

/** `GET /technicians` (R4.1): who can take which work, now. */
export function teamRoutes(tickets: TicketService) {
  return async (app: FastifyInstance) => {
    app.get(
      '/technicians',
      {
        config: { access: 'team:read', worker: true },
        schema: {
          tags: ['teams'],
          summary: 'Technicians: team, skills with levels, trainings (valid now?), on call now, open tickets',
        },
      },
      async (req) => ({ items: await tickets.technicians(principalOf(req).sites) }),
    );
  };
}
