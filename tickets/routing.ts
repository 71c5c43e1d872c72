import { z } from 'zod';
import { configId } from '../lib/schedule.js';
import type { Calendar } from './calendar.js';

/**
 * Teams and routing (R3): which team takes a new ticket, and which technician is suggested. Own
 * teams serve the local area; partner teams the remote one. The reason for every choice is kept, so
 * a dispatcher can see why a ticket went where it went.
 */
const id = configId;

/** A skill: a fault type, with a level from 1 (trainee) to 5 (expert); a bare name is level 3. */
const skillSchema = z.union(
  [z.string().min(1), z.object({ skill: z.string().min(1), level: z.number().int().min(1).max(5) }).strict()],
  { error: 'a skill is a fault type, or { skill, level: 1-5 }' },
);

/** A training or certificate (high voltage, a manufacturer's course), valid until a date. */
const trainingSchema = z
  .object({
    id: z.string().min(1),
    /** Last day it is valid (YYYY-MM-DD, end of day UTC); absent: does not expire. */
    validUntil: z.iso.date().optional(),
  })
  .strict();

export const technicianSchema = z
  .object({
    id,
    name: z.string().optional(),
    /** Fault types this person handles, with levels; default: the team's, at level 3. */
    skills: z.array(skillSchema).optional(),
    /** Trainings and certificates held. */
    training: z.array(trainingSchema).default([]),
    /** When this person is on call: a calendar of the SLA policy; always when absent. */
    onCall: z.string().min(1).optional(),
  })
  .strict();

/** What a fault type needs of the technician who takes it (`routing.requirements`). */
export const requirementSchema = z
  .object({
    minLevel: z.number().int().min(1).max(5).default(1),
    /** Trainings that must be valid when the ticket is routed. */
    training: z.array(z.string().min(1)).default([]),
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
    /** Per fault type: the skill level and valid trainings a technician needs to be suggested. */
    requirements: z.record(z.string().min(1), requirementSchema).default({}),
  })
  .strict();

export type Team = z.output<typeof teamSchema>;
export type Technician = z.output<typeof technicianSchema>;
export type Requirement = z.output<typeof requirementSchema>;

/** A technician's level in a fault type (0: not a skill of theirs). */
export function levelIn(p: Technician, team: Team, faultType: string): number {
  if (!p.skills) return team.skills.includes(faultType) ? 3 : 0;
  for (const s of p.skills) {
    if (typeof s === 'string' && s === faultType) return 3;
    if (typeof s === 'object' && s.skill === faultType) return s.level;
  }
  return 0;
}

/** Whether a training is held and valid at `at`. */
export function trained(p: Technician, training: string, at: number): boolean {
  return p.training.some(
    (t) => t.id === training && (!t.validUntil || Date.parse(`${t.validUntil}T23:59:59.999Z`) >= at),
  );
}

/** What a technician lacks for a fault type at `at` (empty: qualified). */
export function lacks(
  p: Technician,
  team: Team,
  faultType: string,
  req: Requirement | undefined,
  at: number,
): string[] {
  const level = levelIn(p, team, faultType);
  const out: string[] = [];
  if (level === 0) out.push(`no ${faultType} skill`);
  else if (req && level < req.minLevel) out.push(`${faultType} level ${level} < ${req.minLevel}`);
  for (const t of req?.training ?? []) if (!trained(p, t, at)) out.push(`no valid ${t}`);
  return out;
}

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
  requirements: Readonly<Record<string, Requirement>> = {},
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
  const req = requirements[faultType];
  const qualified = team.technicians.filter((p) => lacks(p, team, faultType, req, input.at).length === 0);
  const onCall = qualified.filter((p) => !p.onCall || calendar(p.onCall).isOpen(input.at));
  if (onCall.length === 0) {
    const need = req
      ? ` (needs level ${req.minLevel}${req.training.length ? ` and ${req.training.join(', ')}` : ''})`
      : '';
    return {
      team: team.id,
      technician: null,
      reason: `${why}; no qualified technician${need} on call now${team.lead ? ` (lead ${team.lead} decides)` : ''}`,
    };
  }
  // The least loaded; between equals, the more experienced; then the order of the configuration.
  const best = [...onCall].sort(
    (a, b) =>
      load(a.id) - load(b.id) ||
      levelIn(b, team, faultType) - levelIn(a, team, faultType) ||
      onCall.indexOf(a) - onCall.indexOf(b),
  )[0] as Technician;
  return {
    team: team.id,
    technician: best.id,
    reason: `${why}; technician ${best.id}: ${faultType} level ${levelIn(best, team, faultType)}, on call, ${load(best.id)} open ticket(s)`,
  };
}
