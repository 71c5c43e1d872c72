import type { Role } from './auth.js';
import type { User } from './users.js';

/** The users table as both stores keep it (sites as JSON text; times in ms). */
export const USER_COLUMNS =
  'id, username, display_name, role, sites, technician, customer, created_at, created_by, password_changed_at, last_sign_in_at, disabled_at';

export const userTable = (time: 'INTEGER' | 'BIGINT') => `CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  sites TEXT,
  technician TEXT,
  customer TEXT,
  password_hash TEXT NOT NULL,
  created_at ${time} NOT NULL,
  created_by TEXT NOT NULL,
  password_changed_at ${time} NOT NULL,
  last_sign_in_at ${time},
  disabled_at ${time}
);`;

export interface UserRow {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  sites: string | null;
  technician: string | null;
  customer: string | null;
  created_at: number;
  created_by: string;
  password_changed_at: number;
  last_sign_in_at: number | null;
  disabled_at: number | null;
}

export function userOf(r: UserRow): User {
  return {
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    role: r.role,
    sites: r.sites ? (JSON.parse(r.sites) as string[]) : null,
    technician: r.technician,
    customer: r.customer,
    createdAt: r.created_at,
    createdBy: r.created_by,
    passwordChangedAt: r.password_changed_at,
    lastSignInAt: r.last_sign_in_at,
    disabledAt: r.disabled_at,
  };
}

/** The insert's values, in USER_COLUMNS order, then the hash. */
export const userValues = (u: User, passwordHash: string) => [
  u.id,
  u.username,
  u.displayName,
  u.role,
  u.sites ? JSON.stringify(u.sites) : null,
  u.technician,
  u.customer,
  u.createdAt,
  u.createdBy,
  u.passwordChangedAt,
  u.lastSignInAt,
  u.disabledAt,
  passwordHash,
];

/** Sign-in sessions (by the hash of their id) and the secret that signs their cookies. */
export const sessionTables = (time: 'INTEGER' | 'BIGINT') => `CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at ${time} NOT NULL,
  last_seen_at ${time} NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE TABLE session_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);`;

export interface SessionRow {
  user_id: string;
  created_at: number | string;
  last_seen_at: number | string;
  data: string;
}

export const sessionOf = (r: SessionRow) => ({
  userId: r.user_id,
  createdAt: Number(r.created_at),
  lastSeenAt: Number(r.last_seen_at),
  data: r.data,
});
