import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ERRORS, FaultlineError, isFaultlineError } from '../lib/errors.js';

/** RFC 9457 problem details. `code` is the Faultline error code. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: unknown;
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p);
}

function typeUri(code: string): string {
  return `https://faultline.dev/errors#${code.toLowerCase()}`;
}

/** An ISO 8601 time or epoch milliseconds, as a number of milliseconds. */
/**
 * The latest time the API takes: the end of the year 2999. The API shows times as ISO 8601 with
 * four-digit years; a deadline or window computed from a later time (plus up to 100 years of
 * duration) could not be shown, and a stored one failed every list it was in (issue 18).
 */
const MAX_API_TIME_MS = Date.UTC(3000, 0, 1) - 1;

export const timeParam = z.string().transform((v, ctx) => {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!(t >= 0 && t <= MAX_API_TIME_MS)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an ISO 8601 time or epoch milliseconds between 1970 and 2999, got "${v}"`,
    });
    return z.NEVER;
  }
  return t;
});

/** One problem of a request part: where, and what. */
interface FieldProblem {
  path: string;
  message: string;
}

function validationError(where: string, errors: FieldProblem[]): FaultlineError {
  return new FaultlineError(
    'FL_ERR_API_VALIDATION',
    errors.map((e) => (e.path ? `${where} ${e.path}: ${e.message}` : `${where}: ${e.message}`)).join('; '),
    { details: errors },
  );
}

const unknownKeys = (where: string, keys: readonly string[]) =>
  `unknown ${where} parameter(s): ${keys.join(', ')}`;

/** Parses a request part with zod, or throws a 400 that lists every problem. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw validationError(
    where,
    r.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.code === 'unrecognized_keys' ? unknownKeys(where, i.keys) : i.message,
    })),
  );
}

const PART: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

/**
 * A request that failed its route's zod schema (validated by fastify-type-provider-zod) as the
 * same 400 `parseOrThrow` gives: every problem, each with the part and path it is about.
 */
function fromSchemaValidation(err: FastifyError): FaultlineError | undefined {
  if (!hasZodFastifySchemaValidationErrors(err)) return undefined;
  const where = PART[err.validationContext ?? 'body'] ?? 'body';
  return validationError(
    where,
    err.validation.map((v) => {
      const keys = (v.params as { keys?: unknown }).keys;
      return {
        path: v.instancePath.slice(1).replaceAll('/', '.'),
        message:
          v.keyword === 'unrecognized_keys' && Array.isArray(keys)
            ? unknownKeys(where, keys)
            : (v.message ?? 'invalid'),
      };
    }),
  );
}

/** Every error leaves as problem+json; stack traces never do. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError | FaultlineError | Error, req, reply) => {
    const err = fromSchemaValidation(raw as FastifyError) ?? raw;
    if (isFaultlineError(err)) {
      if (err.status >= 500) req.log.error({ err }, err.message);
      const p: Problem = {
        type: typeUri(err.code),
        title: err.title,
        status: err.status,
        detail: err.message,
        code: err.code,
        instance: req.url,
      };
      if (err.details !== undefined) p.errors = err.details;
      return sendProblem(reply, p);
    }
    const fe = err as FastifyError;
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Fastify's own client errors: bad JSON body, body too large, unsupported media type.
      return sendProblem(reply, {
        type: typeUri('FL_ERR_API_VALIDATION'),
        title: ERRORS.FL_ERR_API_VALIDATION.title,
        status: fe.statusCode,
        detail: fe.message,
        code: fe.code ?? 'FL_ERR_API_VALIDATION',
        instance: req.url,
      });
    }
    req.log.error({ err }, 'unhandled error');
    return sendProblem(reply, {
      type: typeUri('FL_ERR_INTERNAL'),
      title: ERRORS.FL_ERR_INTERNAL.title,
      status: 500,
      detail: 'internal error; see the gateway log',
      code: 'FL_ERR_INTERNAL',
      instance: req.url,
    });
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, {
      type: typeUri('FL_ERR_API_NOT_FOUND'),
      title: ERRORS.FL_ERR_API_NOT_FOUND.title,
      status: 404,
      detail: `no route ${req.method} ${req.url.split('?')[0]}`,
      code: 'FL_ERR_API_NOT_FOUND',
      instance: req.url,
    }),
  );
}

/** `a,b` or repeated `?x=a&x=b`, as a list of non-empty strings. */
export const listParam = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(values)));

export const limitParam = z.coerce.number().int().min(1).max(500).default(50);
