import { decodeCursor, encodeCursor } from '../lib/cursor.js';
import { isOpen, PRIORITY_RANK } from './model.js';
import type { ListQuery } from './store.js';
import type { TicketRow } from './ticket-rows.js';

/** What differs between the SQL of the two ticket stores. */
export interface Dialect {
  /** A placeholder for the next parameter (`?`; `$n`). */
  placeholder(index: number): string;
  /** A condition: the ticket `t` has `assignee` (a placeholder) among its assignees. */
  hasAssignee(assignee: string): string;
  /** Case-insensitive LIKE with `\` as the escape character. */
  like: string;
  /** A condition that is never true. */
  never: string;
}

export const SQLITE: Dialect = {
  placeholder: () => '?',
  hasAssignee: (a) => `EXISTS (SELECT 1 FROM json_each(t.assignees) WHERE json_each.value = ${a})`,
  like: 'LIKE',
  never: '0',
};

export const POSTGRES: Dialect = {
  placeholder: (i) => `$${i}`,
  hasAssignee: (a) => `t.assignees ? ${a}`,
  like: 'ILIKE',
  never: 'false',
};

/** One list query: its SQL (one row more than a page, to know if another follows) and parameters. */
export function listSql(q: ListQuery, d: Dialect): { sql: string; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const arg = (v: string | number) => {
    params.push(v);
    return d.placeholder(params.length);
  };
  const inList = (col: string, values: readonly (string | number)[] | undefined) => {
    if (values?.length) where.push(`${col} IN (${values.map(arg).join(',')})`);
  };
  const f = q.filter;
  inList('t.status', f.status);
  inList('t.priority', f.priority);
  // The same conditions on the columns the urgency index leads with, which the planner cannot
  // derive: a list of resolved emergencies seeks to them instead of walking every open ticket first.
  const open = new Set(f.status?.map((x) => isOpen(x)));
  if (open.size === 1) where.push(`t.is_open = ${open.has(true) ? 1 : 0}`);
  inList(
    't.priority_rank',
    f.priority?.map((x) => PRIORITY_RANK[x]),
  );
  inList('t.source', f.source);
  for (const [cond, v] of [
    ['t.created_at >=', f.createdFrom],
    ['t.created_at <', f.createdTo],
    ['t.updated_at >=', f.updatedFrom],
    ['t.updated_at <', f.updatedTo],
  ] as const) {
    if (v !== undefined) where.push(`${cond} ${arg(v)}`);
  }
  if (f.siteIn) {
    // An empty list sees nothing.
    if (f.siteIn.length === 0) where.push(d.never);
    inList('t.site', f.siteIn);
  }
  for (const [col, v] of [
    ['t.device_id', f.deviceId],
    ['t.site', f.site],
    ['t.customer', f.customer],
    ['t.team', f.team],
    ['t.fault_type', f.faultType],
    ['t.rule_id', f.ruleId],
  ] as const) {
    if (v !== undefined) where.push(`${col} = ${arg(v)}`);
  }
  if (f.assignee !== undefined) where.push(d.hasAssignee(arg(f.assignee)));
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(
      `(${['t.title', 't.description', 't.customer'].map((c) => `${c} ${d.like} ${arg(like)} ESCAPE '\\'`).join(' OR ')})`,
    );
  }
  if (f.slaState?.length)
    where.push(
      `EXISTS (SELECT 1 FROM sla_clocks c WHERE c.ticket_seq = t.seq AND (${slaStateCondition(f.slaState, q.now, arg, d)}))`,
    );
  let order: string;
  if (q.sort === 'urgency') {
    order = 't.is_open DESC, t.priority_rank, t.due_key, t.seq';
    if (q.cursor) {
      const [open, rank, due, seq] = decodeCursor(q.cursor, 4) as number[];
      where.push(`(t.is_open < ${arg(open!)} OR (t.is_open = ${arg(open!)} AND (t.priority_rank > ${arg(rank!)}
        OR (t.priority_rank = ${arg(rank!)} AND (t.due_key > ${arg(due!)} OR (t.due_key = ${arg(due!)} AND t.seq > ${arg(seq!)}))))))`);
    }
  } else {
    order = 't.seq DESC';
    if (q.cursor) {
      const [seq] = decodeCursor(q.cursor, 1) as number[];
      where.push(`t.seq < ${arg(seq!)}`);
    }
  }
  const sql = `SELECT t.* FROM tickets t ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${order} LIMIT ${arg(q.limit + 1)}`;
  return { sql, params };
}

/** The cursor after the last row of a page, or null when no page follows. */
export function nextCursor(q: ListQuery, rows: readonly TicketRow[]): string | null {
  const last = rows[q.limit - 1];
  if (rows.length <= q.limit || !last) return null;
  return encodeCursor(
    q.sort === 'urgency' ? [last.is_open, last.priority_rank, last.due_key, last.seq] : [last.seq],
  );
}

/**
 * SQL for "this clock is in one of these states", mirroring `clockState`: clocks of final
 * tickets are judged at the time the ticket became final.
 */
function slaStateCondition(
  states: readonly string[],
  now: number,
  arg: (v: number) => string,
  d: Dialect,
): string {
  const evalAt = () => `COALESCE((SELECT final_at FROM tickets x WHERE x.seq = c.ticket_seq), ${arg(now)})`;
  const running = () => `c.met_at IS NULL AND c.paused_at IS NULL AND ${evalAt()} <= c.due_at`;
  const parts: string[] = [];
  for (const s of states) {
    switch (s) {
      case 'met':
        parts.push('(c.met_at IS NOT NULL AND c.worked_ms <= c.target_ms)');
        break;
      case 'breached':
        parts.push(
          `((c.met_at IS NOT NULL AND c.worked_ms > c.target_ms) OR (c.met_at IS NULL AND c.paused_at IS NULL AND ${evalAt()} > c.due_at) OR (c.met_at IS NULL AND c.paused_at IS NOT NULL AND c.worked_ms > c.target_ms))`,
        );
        break;
      case 'paused':
        parts.push('(c.met_at IS NULL AND c.paused_at IS NOT NULL AND c.worked_ms <= c.target_ms)');
        break;
      case 'warning':
        parts.push(`(${running()} AND c.warn_at IS NOT NULL AND ${evalAt()} >= c.warn_at)`);
        break;
      case 'running':
        parts.push(`(${running()} AND (c.warn_at IS NULL OR ${evalAt()} < c.warn_at))`);
        break;
      default:
        parts.push(d.never);
    }
  }
  return parts.join(' OR ');
}
