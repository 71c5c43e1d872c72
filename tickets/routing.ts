import { z } from 'zod';
import { configId } from '../lib/schedule.js';
import type { Calendar } from './calendar.js';

/**
 * Teams and routing (R3): which team takes a new ticket, and which technician is suggested. Own
 * teams serve the local area; partner teams the remote one. The reason for every choice is kept, so
 * a dispatcher can see why a ticket went where it went.
 */
const id = configId;

export const technicianSchema = z
  .object({
    id,
    name: z.string().optional(),
    /** Fault types this person handles; default: the team's. */
    skills: z.array(z.string().min(1)).optional(),
    /** When this person is on call: a calendar of the SLA policy; always when absent. */
    onCall: z.string().min(1).optional(),
  })
  .strict();

export const teamSchema = z
  .object({
    id,
    name: z.string().optional(),
    /** Fault types the team handles (`rules.faultTypes`). */
    skills: z.array(z.string().min(1)).min(1),
    /** Service areas it covers. */
    areas: z
      .array(z.enum(['local', 'remote']))
      .min(1)
      .default(['local']),
    /** Only these sites (default: every site in its areas). */
    sites: z.array(z.string().min(1)).optional(),
    /** A partner company serving a remote area. */
    partner: z.boolean().default(false),
    /** The team lead (a technician id, or a name): notified of emergencies and warnings. */
    lead: z.string().min(1).optional(),
    /** Who hears of breaches (the escalation chain's `supervisor`). */
    supervisor: z.string().min(1).optional(),
    technicians: z.array(technicianSchema).default([]),
  })
  .strict();

export const routingSchema = z
  .object({
    /** Assign the suggested technician at once (else the ticket waits for the lead to assign). */
    autoAssign: z.boolean().default(false),
  })
  .strict();

export type Team = z.output<typeof teamSchema>;
export type Technician = z.output<typeof technicianSchema>;

export interface RouteInput {
  faultType: string;
  site: { id: string; area: 'local' | 'remote' };
  at: number;
}

export interface Route {
  team: string | null;
  technician: string | null;
  reason: string;
}

/**
 * Picks the team and a technician. Teams must have the skill and cover the area (and the site, when
 * they list sites); of those, the ones naming the site come first, then own teams for the local area
 * and partner teams for the remote one, then the order of the configuration. The technician: has the
 * skill, is on call at `at`, and has the fewest open tickets.
 */
export function route(
  teams: readonly Team[],
  input: RouteInput,
  load: (technicianId: string) => number,
  calendar: (name: string) => Calendar,
): Route {
  const { faultType, site } = input;
  const fits = teams.filter(
    (t) =>
      t.skills.includes(faultType) && t.areas.includes(site.area) && (!t.sites || t.sites.includes(site.id)),
  );
  if (fits.length === 0)
    return {
      team: null,
      technician: null,
      reason: `no team handles ${faultType} in the ${site.area} area (site ${site.id}): left for dispatch`,
    };
  const rank = (t: Team) => [t.sites ? 0 : 1, t.partner === (site.area === 'remote') ? 0 : 1] as const;
  const team = [...fits].sort((a, b) => {
    const [a1, a2] = rank(a);
    const [b1, b2] = rank(b);
    return a1 - b1 || a2 - b2 || fits.indexOf(a) - fits.indexOf(b);
  })[0] as Team;
  const why = [
    `${faultType} in the ${site.area} area (site ${site.id}) → team ${team.id}`,
    team.sites ? 'which serves this site' : team.partner ? 'partner team' : 'own team',
  ].join(', ');
  const skilled = team.technicians.filter((p) => (p.skills ?? team.skills).includes(faultType));
  const onCall = skilled.filter((p) => !p.onCall || calendar(p.onCall).isOpen(input.at));
  if (onCall.length === 0)
    return {
      team: team.id,
      technician: null,
      reason: `${why}; no technician with the skill on call now${team.lead ? ` (lead ${team.lead} decides)` : ''}`,
    };
  const best = [...onCall].sort(
    (a, b) => load(a.id) - load(b.id) || onCall.indexOf(a) - onCall.indexOf(b),
  )[0] as Technician;
  return {
    team: team.id,
    technician: best.id,
    reason: `${why}; technician ${best.id}: on call, ${load(best.id)} open ticket(s)`,
  };
}
