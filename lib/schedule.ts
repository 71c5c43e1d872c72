import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';
import { z } from 'zod';

/** Ids of configured things (teams, schedules, windows): lower-case letters, digits, `.`, `_`, `-`. */
export const configId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'ids are lower-case letters, digits, ".", "_" or "-"');

export function validTimeZone(tz: string): boolean {
  return DateTime.now().setZone(tz).isValid;
}

/**
 * Why `expr` is not a five-field cron expression (minute hour day-of-month month day-of-week) in
 * `timezone`, or undefined when it is one.
 */
export function cronProblem(expr: string, timezone: string): string | undefined {
  try {
    if (expr.trim().split(/\s+/).length !== 5)
      throw new Error('expected 5 fields: minute hour day-of-month month day-of-week');
    CronExpressionParser.parse(expr, { tz: timezone });
    return undefined;
  } catch (err) {
    return `not a cron expression: ${(err as Error).message}`;
  }
}
