import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FaultlineError } from '../lib/errors.js';
import type { ApiKeyStore } from './store.js';

/**
 * Access control (issue 9): API keys with a role, optionally limited to sites, stored hashed.
 *
 * A key is `flk_` + 32 random bytes (base64url): 256 bits of entropy, so one SHA-256 is a sound
 * hash (as for GitHub's or Stripe's tokens; bcrypt is for guessable passwords). The store finds a
 * key by its hash; the key itself is shown once, when made.
 */
export const ROLES = ['viewer', 'technician', 'dispatcher', 'supervisor', 'customer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a route needs. Ownership (site, assignee, customer) is checked by the route on top. */
export const PERMISSIONS = [
  'tickets:read',
  'tickets:create',
  'tickets:work',
  'tickets:dispatch',
  'tickets:feedback',
  'alerts:read',
  'devices:read',
  'rules:read',
  'rules:admin',
  'silences:read',
  'silences:write',
  'customers:read',
  'ingest:read',
  'stats:read',
  'events:read',
  'webhooks:admin',
  'keys:admin',
  'users:admin',
  'metrics:read',
  'parts:read',
  'parts:write',
  'team:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const VIEW: Permission[] = [
  'tickets:read',
  'alerts:read',
  'devices:read',
  'rules:read',
  'silences:read',
  'customers:read',
  'ingest:read',
  'events:read',
  'parts:read',
  'team:read',
];

/**
 * The roles of the maintenance organisation: a viewer reads; a technician works the tickets assigned
 * to them; a dispatcher (team lead) routes, assigns, moves any ticket and reviews reports; a
 * supervisor reads everything with the statistics; a customer files and follows its own tickets
 * (portal) and rates them; an admin does everything, including rules, webhooks and keys.
 */
export const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(VIEW),
  technician: new Set([...VIEW, 'tickets:create', 'tickets:work']),
  dispatcher: new Set([
    ...VIEW,
    'tickets:create',
    'tickets:work',
    'tickets:dispatch',
    'tickets:feedback',
    'silences:write',
    'parts:write',
  ]),
  supervisor: new Set([...VIEW, 'stats:read', 'metrics:read']),
  customer: new Set(['tickets:read', 'tickets:create', 'tickets:feedback', 'events:read']),
  admin: new Set(PERMISSIONS),
};

/** Who is calling: the key's identity, role and limits. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** Limited to these sites; null: every site. */
  sites: string[] | null;
  /** A technician key acts as this technician (assignee id). */
  technician: string | null;
  /** A customer key sees this customer's tickets only. */
  customer: string | null;
}

export function can(p: Principal, permission: Permission): boolean {
  return GRANTS[p.role].has(permission);
}

/** Whether the principal may see things at `site` (a key limited to sites, or a customer's own). */
export function seesSite(p: Principal, site: string | null): boolean {
  return p.sites === null || (site !== null && p.sites.includes(site));
}

/**
 * Whether a key with `role` at `sites` gives no more than `p` has (issue 18): every permission of
 * that role is one of `p`'s, and its sites are among `p`'s (a key limited to sites cannot make or
 * manage a key for every site). What a key may make, list and revoke.
 */
export function withinScope(p: Principal, k: { role: Role; sites: string[] | null }): boolean {
  for (const perm of GRANTS[k.role]) if (!GRANTS[p.role].has(perm)) return false;
  const mine = p.sites;
  if (mine === null) return true;
  return (k.sites ?? []).length > 0 && (k.sites ?? []).every((s) => mine.includes(s));
}

export interface ApiKey extends Principal {
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface NewKey {
  name: string;
  role: Role;
  sites?: string[] | null;
  technician?: string | null;
  customer?: string | null;
  expiresAt?: number | null;
  createdBy: string;
}

const hashOf = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/**
 * Short-lived tokens for the browser's EventSource, which cannot send an Authorization header: made
 * with a key (`POST /api/v1/events/token`), valid for `ttlMs` to open a stream, signed with a secret
 * of this gateway process, and checked against the key each time (a revoked key's tokens die with it).
 */
export class StreamTokens {
  private readonly secret = randomBytes(32);

  constructor(
    private readonly keys: ApiKeys,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  issue(p: Principal): { token: string; expiresAt: number } {
    const expiresAt = this.now() + this.ttlMs;
    const payload = Buffer.from(JSON.stringify({ k: p.keyId, e: expiresAt })).toString('base64url');
    return { token: `${payload}.${this.sign(payload)}`, expiresAt };
  }

  async verify(token: string): Promise<Principal | undefined> {
    const [payload, sig] = token.split('.');
    if (!payload || !sig) return undefined;
    const want = Buffer.from(this.sign(payload));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    let claims: { k?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { k?: unknown; e?: unknown };
    } catch {
      return undefined;
    }
    if (typeof claims.k !== 'string' || typeof claims.e !== 'number' || claims.e <= this.now())
      return undefined;
    const k = await this.keys.get(claims.k);
    if (!k || k.revokedAt !== null || (k.expiresAt !== null && k.expiresAt <= this.now())) return undefined;
    const { keyId, name, role, sites, technician, customer } = k;
    return { keyId, name, role, sites, technician, customer };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}

/** The id of the key given by `FAULTLINE_API_KEY` (replaced when the variable changes). */
export const ENV_KEY_ID = 'K-env';

/**
 * API keys: made here (`flk_` + 32 random bytes), kept hashed in an `ApiKeyStore`, checked on every
 * request by hash. `last used` is written at most once a minute per key.
 */
export class ApiKeys {
  private readonly lastTouch = new Map<string, number>();

  constructor(
    private readonly store: ApiKeyStore,
    private readonly now: () => number = Date.now,
  ) {}

  private record(id: string, k: NewKey): ApiKey {
    return {
      keyId: id,
      name: k.name,
      role: k.role,
      sites: k.sites ?? null,
      technician: k.technician ?? null,
      customer: k.customer ?? null,
      createdAt: this.now(),
      createdBy: k.createdBy,
      expiresAt: k.expiresAt ?? null,
      lastUsedAt: null,
      revokedAt: null,
    };
  }

  /** Makes a key; the returned `key` is the only time it is seen. */
  async create(k: NewKey): Promise<{ key: string; record: ApiKey }> {
    const key = `flk_${randomBytes(32).toString('base64url')}`;
    const record = this.record(`K-${randomBytes(6).toString('hex')}`, k);
    await this.store.insert(record, hashOf(key));
    return { key, record };
  }

  /** The admin key from `FAULTLINE_API_KEY`: stored hashed like the others, replaced if it changed. */
  async ensureEnvKey(key: string): Promise<void> {
    if (key.length < 16)
      throw new FaultlineError('FL_ERR_CONFIG', 'FAULTLINE_API_KEY must be at least 16 characters');
    if ((await this.store.hashOf(ENV_KEY_ID)) === hashOf(key)) return;
    const record = this.record(ENV_KEY_ID, {
      name: 'FAULTLINE_API_KEY',
      role: 'admin',
      createdBy: 'environment',
    });
    await this.store.replace(record, hashOf(key));
  }

  /** Keys that could be used (not revoked, not expired). */
  activeCount(): Promise<number> {
    return this.store.activeCount(this.now());
  }

  /** The principal a presented key stands for, or undefined (unknown, revoked or expired). */
  async verify(key: string): Promise<Principal | undefined> {
    const k = await this.store.byHash(hashOf(key));
    if (!k || k.revokedAt !== null) return undefined;
    const now = this.now();
    if (k.expiresAt !== null && k.expiresAt <= now) return undefined;
    if ((this.lastTouch.get(k.keyId) ?? 0) < now - 60_000) {
      this.lastTouch.set(k.keyId, now);
      await this.store.touch(k.keyId, now);
    }
    const { keyId, name, role, sites, technician, customer } = k;
    return { keyId, name, role, sites, technician, customer };
  }

  get(id: string): Promise<ApiKey | undefined> {
    return this.store.get(id);
  }

  list(): Promise<ApiKey[]> {
    return this.store.list();
  }

  revoke(id: string): Promise<ApiKey | undefined> {
    return this.store.revoke(id, this.now());
  }
}
