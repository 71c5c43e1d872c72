/**
 * The console's calls to the gateway's API (same origin, the session cookie): JSON in and out, the
 * session's CSRF token on changes, RFC 9457 problems turned into `ApiError` with the fields they
 * concern (shown next to those fields).
 */

export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }

  /** The problem with one field (`path` as the API names it: `note`, `sites.0`), if any. */
  field(path: string): string | undefined {
    return this.fields.find((f) => f.path === path || f.path.startsWith(`${path}.`))?.message;
  }
}

let csrfToken = '';
/** Called when a request finds the session ended (the app shows the sign-in page). */
let onSignedOut: () => void = () => undefined;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, 'FL_ERR_INTERNAL', text.slice(0, 200) || res.statusText);
  }
  if (!res.ok) {
    const p = (parsed ?? {}) as { code?: string; detail?: string; errors?: FieldProblem[] };
    const err = new ApiError(
      res.status,
      p.code ?? 'FL_ERR_INTERNAL',
      p.detail ?? res.statusText,
      p.errors ?? [],
    );
    if (res.status === 401 && !path.startsWith('/session')) onSignedOut();
    throw err;
  }
  return parsed as T;
}

export type Role = 'viewer' | 'technician' | 'dispatcher' | 'supervisor' | 'customer' | 'admin';

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  sites: string[] | null;
  technician: string | null;
  customer: string | null;
}

export interface SessionInfo {
  user: User;
  csrfToken: string;
  idleExpiresAt: string;
  expiresAt: string;
  settings: {
    slaWarnAt: number[];
    sites: { id: string; name: string }[];
    teams: { id: string; name: string }[];
  };
}

export type Priority = 'emergency' | 'general' | 'preventive';
export type SlaTarget = 'response' | 'remoteFix' | 'onsite' | 'resolution' | 'visit';
export type SlaState = 'running' | 'paused' | 'warning' | 'met' | 'breached';

export interface Clock {
  dueAt: string;
  state: SlaState;
  metAt: string | null;
  pausedAt: string | null;
  targetMs: number;
  elapsedMs: number;
}

export interface Ticket {
  id: string;
  title: string;
  description: string;
  priority: Priority;
  status: string;
  source: string;
  deviceId: string | null;
  site: string | null;
  customer: string | null;
  ruleId: string | null;
  alertId: string | null;
  faultType: string;
  occurrences: number;
  reportedAt: string;
  createdAt: string;
  updatedAt: string;
  assignees: string[];
  team: string | null;
  sla: Partial<Record<SlaTarget, Clock>>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const OPEN_STATUSES = [
  'open',
  'acknowledged',
  'diagnosing',
  'dispatched',
  'on_site',
  'waiting',
] as const;
export const STATUSES = [...OPEN_STATUSES, 'resolved', 'closed', 'cancelled'] as const;
