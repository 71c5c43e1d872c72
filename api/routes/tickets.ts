import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FaultlineError } from '../../lib/errors.js';
import { toIso } from '../../lib/time.js';
import type { Ticket, TicketEvent } from '../../tickets/model.js';
import { PRIORITIES, SLA_STATES, SOURCES, STATUSES, WAIT_REASONS } from '../../tickets/model.js';
import type { ManualTicketInput, TicketService, TransitionInput } from '../../tickets/service.js';
import type { TicketFilter } from '../../tickets/store.js';
import { can, type Permission, type Principal } from '../auth.js';
import { assertMayWork, principalOf, scopeTickets, seesTicket } from '../guard.js';
import { limitParam, listParam, timeParam } from '../problem.js';
import { page, problemSchema, ticketSchema, ticketWithTimelineSchema } from '../schemas.js';

const listQuery = z
  .object({
    status: listParam(STATUSES).optional(),
    priority: listParam(PRIORITIES).optional(),
    source: listParam(SOURCES).optional(),
    slaState: listParam(SLA_STATES).optional(),
    deviceId: z.string().min(1).optional(),
    site: z.string().min(1).optional(),
    customer: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
    assignee: z.string().min(1).optional(),
    faultType: z.string().min(1).optional(),
    ruleId: z.string().min(1).optional(),
    q: z.string().min(1).max(200).optional(),
    createdFrom: timeParam.optional(),
    createdTo: timeParam.optional(),
    updatedFrom: timeParam.optional(),
    updatedTo: timeParam.optional(),
    sort: z.enum(['urgency', '-createdAt']).default('urgency'),
    limit: limitParam,
    cursor: z.string().min(1).optional(),
  })
  .strict();

const idParams = z.object({ id: z.string().min(1).max(64) }).strict();

/** What a customer reads of a ticket's timeline: its stages and reports — not the team's notes. */
const CUSTOMER_ENTRIES = new Set(['created', 'status', 'visit_agreed', 'report', 'feedback']);
const forCustomer = (e: TicketEvent): TicketEvent[] =>
  !CUSTOMER_ENTRIES.has(e.type) ? [] : e.type === 'status' ? [{ ...e, note: null }] : [e];

const partsList = z
  .array(z.object({ part: z.string().min(1).max(200), quantity: z.number().positive() }).strict())
  .max(200);

const reportBody = z
  .object({
    cause: z.string().min(1).max(5_000),
    actions: z.string().min(1).max(10_000),
    partsUsed: partsList.default([]),
    prevention: z.string().max(5_000).default(''),
  })
  .strict();

const dispatchBody = z
  .object({
    by: z.enum(['own', 'partner']).optional(),
    team: z.string().min(1).max(64).optional(),
    technicians: z.array(z.string().min(1).max(200)).max(20).optional(),
    appointmentAt: timeParam,
    tools: z.array(z.string().min(1).max(200)).max(100).optional(),
    /** Reserved from stock: `from` a location, else the nearest that has them. */
    parts: z
      .array(
        z
          .object({
            part: z.string().min(1).max(200),
            quantity: z.number().positive(),
            from: z.string().min(1).max(64).optional(),
          })
          .strict(),
      )
      .max(200)
      .optional(),
    note: z.string().max(10_000).optional(),
  })
  .strict();

const transitionBody = z
  .object({
    to: z.enum(STATUSES),
    /** Resolving needs a repair report: give it here, or before with POST /tickets/:id/report. */
    report: reportBody.optional(),
    /** Entering `waiting`: what the ticket waits on (the SLA policy's pause conditions apply). */
    waitingOn: z.enum(WAIT_REASONS).optional(),
    /** Waiting on parts: which (the ticket shows when each is expected). */
    waitingFor: partsList.optional(),
    /** Entering `dispatched`: the planned on-site visit. */
    dispatch: dispatchBody.optional(),
    note: z.string().max(10_000).optional(),
    actor: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((b) => b.to !== 'waiting' || b.waitingOn !== undefined, {
    path: ['waitingOn'],
    message: `waiting needs waitingOn (${WAIT_REASONS.join(', ')})`,
  });

const visitBody = z
  .object({
    at: timeParam,
    note: z.string().max(10_000).optional(),
    actor: z.string().min(1).max(200).optional(),
  })
  .strict();

const createBody = z
  .object({
    title: z.string().min(1).max(300),
    description: z.string().max(20_000).default(''),
    priority: z.enum(['emergency', 'general']),
    source: z.enum(['phone', 'portal', 'email']),
    reporter: z
      .object({
        name: z.string().min(1).max(200),
        phone: z.string().min(1).max(50).optional(),
        email: z.email().optional(),
        takenBy: z.string().min(1).max(200).optional(),
      })
      .strict(),
    faultType: z.string().min(1).max(64),
    deviceId: z.string().min(1).max(128).optional(),
    site: z.string().min(1).max(128).optional(),
    customer: z.string().min(1).max(200).optional(),
    equipmentModel: z.string().min(1).max(200).optional(),
    team: z.string().min(1).max(64).optional(),
    labels: z.record(z.string().max(64), z.string().max(500)).optional(),
    reportedAt: timeParam.optional(),
    actor: z.string().min(1).max(200).optional(),
  })
  .strict();

const person = z.string().min(1).max(200);
const assignBody = z
  .object({
    add: z.array(person).max(50).default([]),
    remove: z.array(person).max(50).default([]),
    actor: person.optional(),
  })
  .strict()
  .refine((b) => b.add.length + b.remove.length > 0, 'give add and/or remove');
const commentBody = z.object({ note: z.string().min(1).max(20_000), actor: person.optional() }).strict();

const feedbackBody = z
  .object({
    score: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]),
    comment: z.string().min(1).max(5_000).optional(),
  })
  .strict();
const reviewBody = z
  .object({
    accepted: z.boolean(),
    findings: z.string().min(1).max(10_000).optional(),
    actor: person.optional(),
  })
  .strict();
const setAssigneesBody = z.object({ assignees: z.array(person).max(50), actor: person.optional() }).strict();

const errors = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
};
const tags = ['tickets'];

/** Who did it: the caller's technician id or key name; a dispatcher may record for someone else. */
function actorOf(p: Principal, given: string | undefined): string {
  if (given !== undefined && can(p, 'tickets:dispatch')) return given;
  return p.technician ?? p.name;
}

const notFound = (id: string) =>
  new FaultlineError('FL_ERR_TICKET_NOT_FOUND', `ticket "${id}" does not exist`);

export function ticketRoutes(tickets: TicketService, faultTypes: readonly string[]) {
  /** The ticket, if the caller may see it (else "not found": hidden tickets are not confirmed). */
  const visible = async (p: Principal, id: string): Promise<Ticket> => {
    const t = await tickets.get(id);
    if (!seesTicket(p, t)) throw notFound(id);
    return t;
  };
  /** The ticket, if the caller may work on it. */
  const workable = async (p: Principal, id: string): Promise<Ticket> => {
    const t = await visible(p, id);
    assertMayWork(p, t);
    return t;
  };
  const created = (reply: FastifyReply, t: Ticket) => {
    reply.code(201).header('location', `/api/v1/tickets/${t.id}`);
    return tickets.view(t);
  };

  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();

    app.post(
      '/tickets',
      {
        config: { access: 'tickets:create' },
        schema: {
          tags,
          summary: 'File a ticket (hotline, customer portal, e-mail intake)',
          body: createBody,
          response: { 201: ticketSchema, ...errors },
        },
      },
      async (req, reply) => {
        const p = principalOf(req);
        const b = req.body;
        const problems: { path: string; message: string }[] = [];
        if (!faultTypes.includes(b.faultType))
          problems.push({
            path: 'faultType',
            message: `unknown fault type (rules.faultTypes: ${faultTypes.join(', ')})`,
          });
        if (b.reportedAt !== undefined && b.reportedAt > Date.now() + 60_000)
          problems.push({ path: 'reportedAt', message: 'a fault cannot be reported in the future' });
        if (b.deviceId && b.site)
          problems.push({ path: 'site', message: 'give deviceId or site: the device knows its site' });
        if (b.customer !== undefined && tickets.hasCustomers() && !tickets.customer(b.customer))
          problems.push({ path: 'customer', message: `unknown customer "${b.customer}"` });
        if (p.role === 'customer' && b.customer !== undefined && b.customer !== p.customer)
          problems.push({ path: 'customer', message: 'a customer key files tickets for its own customer' });
        if (problems.length)
          throw new FaultlineError(
            'FL_ERR_API_VALIDATION',
            problems.map((x) => `body ${x.path}: ${x.message}`).join('; '),
            { details: problems },
          );
        const input: ManualTicketInput = {
          title: b.title,
          description: b.description,
          priority: b.priority,
          source: b.source,
          reporter: b.reporter,
          faultType: b.faultType,
          actor: b.actor ?? b.reporter.takenBy ?? p.technician ?? p.name,
        };
        for (const k of [
          'deviceId',
          'site',
          'customer',
          'equipmentModel',
          'team',
          'labels',
          'reportedAt',
        ] as const)
          if (b[k] !== undefined) (input as unknown as Record<string, unknown>)[k] = b[k];
        if (p.role === 'customer' && p.customer) input.customer = p.customer;
        // A key limited to sites files tickets there only; a customer key for its own devices and
        // sites only (a site without a customer is not its own).
        const t = await tickets.createManual(input, (scope) => seesTicket(p, scope));
        return created(reply, t);
      },
    );

    app.get(
      '/tickets',
      {
        config: { access: 'tickets:read', worker: true },
        schema: {
          tags,
          summary: 'List tickets (most urgent first by default)',
          querystring: listQuery,
          response: { 200: page(ticketSchema), ...errors },
        },
      },
      async (req) => {
        const q = req.query;
        const filter: TicketFilter = {};
        for (const k of [
          'status',
          'priority',
          'source',
          'slaState',
          'deviceId',
          'site',
          'customer',
          'team',
          'assignee',
          'faultType',
          'ruleId',
          'q',
          'createdFrom',
          'createdTo',
          'updatedFrom',
          'updatedTo',
        ] as const) {
          if (q[k] !== undefined) (filter as Record<string, unknown>)[k] = q[k];
        }
        const res = await tickets.list(scopeTickets(principalOf(req), filter), q.sort, q.limit, q.cursor);
        return { items: res.items.map((t) => tickets.view(t)), nextCursor: res.nextCursor };
      },
    );

    app.get(
      '/tickets/:id',
      {
        config: { access: 'tickets:read', worker: true },
        schema: {
          tags,
          summary: 'A ticket with its timeline',
          params: idParams,
          response: { 200: ticketWithTimelineSchema, ...errors },
        },
      },
      async (req) => {
        const p = principalOf(req);
        const t = await visible(p, req.params.id);
        const timeline = await tickets.timeline(t.id);
        return {
          ...tickets.view(t),
          timeline: (p.role === 'customer' ? timeline.flatMap(forCustomer) : timeline).map((e) => ({
            ...e,
            at: toIso(e.at),
          })),
          next: tickets.next(t),
        };
      },
    );

    /**
     * A change to one ticket: checks that the caller may see it (or work on it), runs the change,
     * answers the ticket.
     */
    const action = <B extends z.ZodType>(
      method: 'POST' | 'PUT',
      url: string,
      o: { access: Permission; summary: string; body: B; may: 'see' | 'work'; created?: boolean },
      run: (p: Principal, t: Ticket, body: z.output<B>) => Promise<Ticket>,
    ) =>
      app.route({
        method,
        url,
        config: { access: o.access },
        schema: {
          tags,
          summary: o.summary,
          params: idParams,
          body: o.body,
          // 201 for what adds to the ticket (feedback, a comment), else 200.
          response: { 200: ticketSchema, 201: ticketSchema, ...errors },
        },
        handler: async (req, reply) => {
          const p = principalOf(req);
          const { id } = req.params as { id: string };
          const t = o.may === 'work' ? await workable(p, id) : await visible(p, id);
          if (o.created) reply.code(201);
          return tickets.view(await run(p, t, req.body as z.output<B>));
        },
      });

    action(
      'POST',
      '/tickets/:id/transitions',
      {
        access: 'tickets:work',
        summary: 'Move a ticket to another status',
        body: transitionBody,
        may: 'work',
      },
      async (p, t, body) => {
        if ((body.to === 'cancelled' || body.to === 'closed') && !can(p, 'tickets:dispatch'))
          throw new FaultlineError(
            'FL_ERR_AUTH_FORBIDDEN',
            `only a dispatcher or team lead may set "${body.to}"`,
          );
        const input: TransitionInput = { actor: actorOf(p, body.actor), note: body.note ?? null };
        if (body.report) input.report = body.report;
        if (body.waitingOn) input.waitingOn = body.waitingOn;
        if (body.waitingFor) input.waitingFor = body.waitingFor;
        if (body.dispatch) {
          const { appointmentAt, ...rest } = body.dispatch;
          input.dispatch = { appointmentAt, ...rest };
        }
        return tickets.transition(t.id, body.to, input);
      },
    );

    action(
      'POST',
      '/tickets/:id/visit',
      {
        access: 'tickets:dispatch',
        summary: 'Agree another visit time with the customer',
        body: visitBody,
        may: 'see',
      },
      (p, t, b) => tickets.agreeVisit(t.id, b.at, actorOf(p, b.actor), b.note ?? null),
    );

    action(
      'PUT',
      '/tickets/:id/report',
      {
        access: 'tickets:work',
        summary: 'The repair report (again, after it was returned: the review starts afresh)',
        body: reportBody.extend({ actor: person.optional() }),
        may: 'work',
      },
      (p, t, { actor, ...report }) => tickets.submitReport(t.id, report, actorOf(p, actor)),
    );

    action(
      'POST',
      '/tickets/:id/report/review',
      {
        access: 'tickets:dispatch',
        summary: "The team lead's review of the repair report",
        body: reviewBody,
        may: 'see',
      },
      (p, t, b) => tickets.reviewReport(t.id, b.accepted, b.findings ?? null, actorOf(p, b.actor)),
    );

    action(
      'POST',
      '/tickets/:id/feedback',
      {
        access: 'tickets:feedback',
        summary: "The customer's satisfaction (1-5) and comment",
        body: feedbackBody,
        may: 'see',
        created: true,
      },
      (_p, t, b) => tickets.feedback(t.id, b.score, b.comment ?? null),
    );

    /** What the customer receives: the stages with their times and the repair report (no review findings). */
    app.get(
      '/tickets/:id/customer-report',
      {
        config: { access: 'tickets:read', worker: true },
        schema: { tags, summary: 'The report the customer receives', params: idParams },
      },
      async (req) => {
        const t = await visible(principalOf(req), req.params.id);
        const timeline = await tickets.timeline(t.id);
        const firstAt = (to: string) => timeline.find((e) => e.type === 'status' && e.to === to)?.at ?? null;
        const stages = {
          reported: toIso(t.reportedAt),
          responded: t.sla.response?.metAt ? toIso(t.sla.response.metAt) : null,
          onSite: firstAt('on_site') !== null ? toIso(firstAt('on_site') as number) : null,
          resolved: firstAt('resolved') !== null ? toIso(firstAt('resolved') as number) : null,
        };
        return {
          ticket: t.id,
          title: t.title,
          customer: t.customer,
          equipment: { deviceId: t.deviceId, model: t.equipmentModel, site: t.site },
          priority: t.priority,
          status: t.status,
          stages,
          sla: tickets.view(t).sla,
          report: t.report
            ? {
                cause: t.report.cause,
                actions: t.report.actions,
                partsUsed: t.report.partsUsed,
                prevention: t.report.prevention,
              }
            : null,
          feedback: t.feedback ? { score: t.feedback.score, comment: t.feedback.comment } : null,
        };
      },
    );

    action(
      'POST',
      '/tickets/:id/assignees',
      { access: 'tickets:dispatch', summary: 'Add or take off assignees', body: assignBody, may: 'see' },
      (p, t, b) => tickets.assign(t.id, b.add, b.remove, actorOf(p, b.actor)),
    );

    action(
      'PUT',
      '/tickets/:id/assignees',
      {
        access: 'tickets:dispatch',
        summary: 'Set the assignees (the first is the lead of the work)',
        body: setAssigneesBody,
        may: 'see',
      },
      (p, t, b) => {
        const remove = t.assignees.filter((a) => !b.assignees.includes(a));
        return tickets.assign(t.id, b.assignees, remove, actorOf(p, b.actor), b.assignees);
      },
    );

    action(
      'POST',
      '/tickets/:id/comments',
      {
        access: 'tickets:work',
        summary: 'A comment on the timeline',
        body: commentBody,
        may: 'work',
        created: true,
      },
      (p, t, b) => tickets.comment(t.id, b.note, actorOf(p, b.actor)),
    );
  };
}
