import { describe, expect, it } from 'vitest';
import { Calendar, calendarSchema } from './calendar.js';
import { route, teamSchema } from './routing.js';

const teams = [
  {
    id: 'mech-north',
    skills: ['mechanical', 'hydraulic'],
    areas: ['local'],
    sites: ['north'],
    lead: 'ana',
    technicians: [{ id: 'ana' }, { id: 'ben', onCall: 'day' }, { id: 'cy', skills: ['hydraulic'] }],
  },
  { id: 'mech', skills: ['mechanical'], areas: ['local'], technicians: [{ id: 'dee' }] },
  { id: 'elec', skills: ['electrical'], areas: ['local', 'remote'], technicians: [{ id: 'eve' }] },
  {
    id: 'partner-south',
    skills: ['mechanical', 'electrical'],
    areas: ['remote'],
    partner: true,
    technicians: [{ id: 'fox' }],
  },
].map((t) => teamSchema.parse(t));

const day = new Calendar(
  calendarSchema.parse({
    timezone: 'UTC',
    hours: Object.fromEntries(
      ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, ['06:00-18:00']]),
    ),
  }),
);
const cal = () => day;
const noon = Date.parse('2026-11-24T12:00:00Z');
const night = Date.parse('2026-11-24T23:00:00Z');

describe('routing', () => {
  it('the team naming the site first; the least loaded technician with the skill on call', () => {
    const loads: Record<string, number> = { ana: 3, ben: 1, cy: 0 };
    const r = route(
      teams,
      { faultType: 'mechanical', site: { id: 'north', area: 'local' }, at: noon },
      (t) => loads[t] ?? 0,
      cal,
    );
    expect(r).toEqual({
      team: 'mech-north',
      technician: 'ben',
      reason:
        'mechanical in the local area (site north) → team mech-north, which serves this site; technician ben: mechanical level 3, on call, 1 open ticket(s)',
    });
    // At night ben is off call: ana (cy lacks the skill).
    expect(
      route(
        teams,
        { faultType: 'mechanical', site: { id: 'north', area: 'local' }, at: night },
        (t) => loads[t] ?? 0,
        cal,
      ).technician,
    ).toBe('ana');
  });

  it('other local sites go to the own team; remote sites to the partner team, electrical to the team that serves both', () => {
    expect(
      route(teams, { faultType: 'mechanical', site: { id: 'west', area: 'local' }, at: noon }, () => 0, cal)
        .team,
    ).toBe('mech');
    const remote = route(
      teams,
      { faultType: 'mechanical', site: { id: 'south', area: 'remote' }, at: noon },
      () => 0,
      cal,
    );
    expect(remote).toMatchObject({ team: 'partner-south', technician: 'fox' });
    expect(remote.reason).toContain('partner team');
    // Electrical in the remote area: the own team covering remote and the partner both fit; the partner wins there.
    expect(
      route(teams, { faultType: 'electrical', site: { id: 'south', area: 'remote' }, at: noon }, () => 0, cal)
        .team,
    ).toBe('partner-south');
    expect(
      route(teams, { faultType: 'electrical', site: { id: 'west', area: 'local' }, at: noon }, () => 0, cal)
        .team,
    ).toBe('elec');
  });

  it('nobody fits: left for dispatch, with the reason', () => {
    expect(
      route(teams, { faultType: 'software', site: { id: 'north', area: 'local' }, at: noon }, () => 0, cal),
    ).toEqual({
      team: null,
      technician: null,
      reason: 'no team handles software in the local area (site north): left for dispatch',
    });
  });

  it('skill levels and valid trainings: requirements per fault type decide who is suggested', () => {
    const team = teamSchema.parse({
      id: 'elec',
      skills: ['electrical'],
      areas: ['local'],
      lead: 'lea',
      technicians: [
        { id: 'junior', skills: [{ skill: 'electrical', level: 1 }] },
        {
          id: 'hv-lapsed',
          skills: [{ skill: 'electrical', level: 4 }],
          training: [{ id: 'hv', validUntil: '2026-06-30' }],
        },
        {
          id: 'hv-ok',
          skills: [{ skill: 'electrical', level: 3 }],
          training: [{ id: 'hv', validUntil: '2027-06-30' }],
        },
        { id: 'plain' },
      ],
    });
    const input = { faultType: 'electrical', site: { id: 'x', area: 'local' as const }, at: noon };
    const none = () => 0;
    // Without requirements: the least loaded, then the most experienced (hv-lapsed, level 4).
    expect(route([team], input, none, cal).technician).toBe('hv-lapsed');
    // High-voltage work needs level 3 and a valid hv training: only hv-ok qualifies.
    const req = { electrical: { minLevel: 3, training: ['hv'] } };
    expect(route([team], input, none, cal, req)).toMatchObject({
      technician: 'hv-ok',
      reason: expect.stringContaining('technician hv-ok: electrical level 3, on call'),
    });
    // Level 5 needed: nobody qualifies; the lead decides.
    expect(route([team], input, none, cal, { electrical: { minLevel: 5, training: [] } })).toMatchObject({
      technician: null,
      reason: expect.stringContaining(
        'no qualified technician (needs level 5) on call now (lead lea decides)',
      ),
    });
  });
});
