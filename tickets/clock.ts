import type { Calendar } from './calendar.js';

/**
 * An SLA clock that can pause (waiting on the customer or on parts) and counts working time on its
 * calendar. Plain data, stored with the ticket; every function here is pure, so the arithmetic is
 * tested with injected times and a restarted gateway can rebuild its timers from the store.
 *
 * While running, `dueAt` is the deadline and `runningSince` the start of the current run; the
 * working time used by earlier runs is `workedMs`. Paused: `runningSince` is null, `pausedAt` set,
 * and `dueAt` keeps the deadline the clock had when it paused (resuming moves it).
 */
export interface PausableClock {
  /** The calendar the clock counts on (a name of the SLA policy's calendars). */
  calendar: string;
  targetMs: number;
  startAt: number;
  workedMs: number;
  runningSince: number | null;
  dueAt: number;
  metAt: number | null;
  /** When the current pause began. */
  pausedAt: number | null;
  /** The highest warning share (percent) announced so far; 100 once the breach was announced. */
  notified: number;
}

export type PausableState = 'running' | 'paused' | 'warning' | 'met' | 'breached';

export function startClock(cal: Calendar, calendar: string, targetMs: number, at: number): PausableClock {
  return {
    calendar,
    targetMs,
    startAt: at,
    workedMs: 0,
    runningSince: at,
    dueAt: deadline(cal, 0, targetMs, at),
    metAt: null,
    pausedAt: null,
    notified: 0,
  };
}

/** Working time used by `now` (never more than the target's worth past it). */
export function worked(cal: Calendar, c: PausableClock, now: number): number {
  const end = c.metAt ?? now;
  return c.workedMs + (c.runningSince === null ? 0 : cal.between(c.runningSince, end));
}

export function pauseClock(cal: Calendar, c: PausableClock, at: number): PausableClock {
  if (c.metAt !== null || c.runningSince === null) return c;
  return {
    ...c,
    workedMs: c.workedMs + cal.between(c.runningSince, at),
    runningSince: null,
    pausedAt: at,
  };
}

/** Resumes a paused clock: the deadline moves by the working time the pause took. */
export function resumeClock(cal: Calendar, c: PausableClock, at: number): PausableClock {
  if (c.metAt !== null || c.runningSince !== null) return c;
  return { ...c, runningSince: at, dueAt: deadline(cal, c.workedMs, c.targetMs, at), pausedAt: null };
}

/**
 * When working time reaches the target, counting on from `runningSince` with `workedMs` already used —
 * in the past for an overdue clock; `runningSince` itself when the target was used up before it.
 */
function deadline(cal: Calendar, workedMs: number, targetMs: number, runningSince: number): number {
  return targetMs > workedMs ? cal.add(runningSince, targetMs - workedMs) : runningSince;
}

export function meetClock(cal: Calendar, c: PausableClock, at: number): PausableClock {
  if (c.metAt !== null) return c;
  const paused = c.runningSince === null;
  return {
    ...c,
    workedMs: paused ? c.workedMs : c.workedMs + cal.between(c.runningSince as number, at),
    runningSince: null,
    metAt: at,
    pausedAt: null,
  };
}

/**
 * A new target (the ticket's class rose): the same start and the working time already used, a new
 * deadline counted from the original report — which may already have passed.
 */
export function retarget(cal: Calendar, c: PausableClock, targetMs: number): PausableClock {
  // New deadlines: their warnings are announced afresh.
  const next = { ...c, targetMs, notified: 0 };
  if (c.metAt !== null || c.runningSince === null) return next;
  return { ...next, dueAt: deadline(cal, c.workedMs, targetMs, c.runningSince) };
}

/** Met on time (or late: breached), breached, warning past the first share, paused, or running. */
export function pausableState(
  cal: Calendar,
  c: PausableClock,
  now: number,
  warnAt: readonly number[],
): PausableState {
  const used = worked(cal, c, now);
  if (c.metAt !== null) return used <= c.targetMs ? 'met' : 'breached';
  if (used > c.targetMs) return 'breached';
  if (c.runningSince === null) return 'paused';
  if (now > c.dueAt) return 'breached';
  const first = Math.min(...warnAt, 100);
  return (used / c.targetMs) * 100 >= first ? 'warning' : 'running';
}

/**
 * The next moment a running clock changes state on its own: each warning share, then the breach
 * (just after the deadline). Timers are armed at these instants, never polled.
 */
export function nextClockEvent(
  cal: Calendar,
  c: PausableClock,
  now: number,
  warnAt: readonly number[],
): { at: number; kind: 'warning' | 'breach'; share?: number } | undefined {
  if (c.metAt !== null || c.runningSince === null) return undefined;
  const used = worked(cal, c, now);
  for (const share of [...warnAt].sort((a, b) => a - b)) {
    const at = (share / 100) * c.targetMs;
    if (at > used) return { at: cal.add(c.runningSince, at - c.workedMs), kind: 'warning', share };
  }
  if (now <= c.dueAt) return { at: c.dueAt + 1, kind: 'breach' };
  return undefined;
}

/** A running 24x7 clock from `startAt` to `dueAt` (a fixed moment, like an agreed visit), or met at `metAt`. */
export function fixedClock(startAt: number, dueAt: number, metAt: number | null = null): PausableClock {
  const c: PausableClock = {
    calendar: '24x7',
    targetMs: Math.max(0, dueAt - startAt),
    startAt,
    workedMs: 0,
    runningSince: startAt,
    dueAt,
    metAt: null,
    pausedAt: null,
    notified: 0,
  };
  return metAt === null ? c : { ...c, workedMs: metAt - startAt, runningSince: null, metAt };
}

/**
 * Announcements a clock owes at `now`: each warning share it has crossed and the breach, above what
 * was already announced (`notified`) — after a restart, the ones that fell due while it was down.
 */
export function dueNotices(
  cal: Calendar,
  c: PausableClock,
  now: number,
  warnAt: readonly number[],
): { level: number; kind: 'warning' | 'breach'; at: number }[] {
  if (c.metAt !== null) return [];
  const used = worked(cal, c, now);
  const out: { level: number; kind: 'warning' | 'breach'; at: number }[] = [];
  for (const share of [...warnAt].sort((a, b) => a - b)) {
    if (share <= c.notified || (share / 100) * c.targetMs > used) continue;
    const at =
      c.runningSince === null || (share / 100) * c.targetMs <= c.workedMs
        ? (c.runningSince ?? c.pausedAt ?? now)
        : cal.add(c.runningSince, (share / 100) * c.targetMs - c.workedMs);
    out.push({ level: share, kind: 'warning', at });
  }
  const breached = used > c.targetMs || (c.runningSince !== null && now > c.dueAt);
  if (breached && c.notified < 100) out.push({ level: 100, kind: 'breach', at: c.dueAt });
  return out;
}
