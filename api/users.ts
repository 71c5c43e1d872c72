import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { FaultlineError } from '../lib/errors.js';
import { type Principal, ROLES, type Role } from './auth.js';
import type { SessionStore, UserStore } from './store.js';

/**
 * People who sign in to the console (issue 21): a user name and a password, and — as an API key
 * has — a role, optional sites, and a technician or customer binding. Passwords are hashed with
 * argon2id (`@node-rs/argon2`, its defaults: 19 MiB, 2 passes — OWASP's recommended minimum).
 */
export interface User {
  id: string;
  /** Sign-in name: lower case letters, digits and `. _ @ -`, 3–64 characters. */
  username: string;
  displayName: string;
  role: Role;
  sites: string[] | null;
  technician: string | null;
  customer: string | null;
  createdAt: number;
  createdBy: string;
  passwordChangedAt: number;
  lastSignInAt: number | null;
  disabledAt: number | null;
}

export interface NewUser {
  username: string;
  displayName?: string;
  role: Role;
  sites?: string[] | null;
  technician?: string | null;
  customer?: string | null;
  createdBy: string;
}

export const USERNAME = /^[a-z0-9][a-z0-9._@-]{2,63}$/;
/** Passwords: at least this long (NIST SP 800-63B asks 8; people choose longer ones with a manager). */
export const MIN_PASSWORD = 10;
const MAX_PASSWORD = 256;

/** A hash of a password nobody has: checked when the user is unknown, so that both take as long. */
let decoy: Promise<string> | undefined;

export class Users {
  /**
   * `sessions`: where sign-in sessions are kept, so that disabling a user or setting its password
   * ends them (the guard refuses them anyway; ending them keeps a re-enabled user signed out).
   */
  constructor(
    private readonly store: UserStore,
    private readonly now: () => number = Date.now,
    private readonly sessions?: Pick<SessionStore, 'removeForUser'>,
  ) {}

  /** Makes a user with this password (checked against the policy first). */
  async create(u: NewUser, password: string): Promise<User> {
    const username = u.username.trim().toLowerCase();
    if (!USERNAME.test(username))
      throw invalid(
        'username',
        '3–64 characters, lower case letters, digits and . _ @ - (starting with a letter or digit)',
      );
    if (!ROLES.includes(u.role)) throw invalid('role', `one of ${ROLES.join(', ')}`);
    const displayName = u.displayName?.trim() ?? '';
    if (displayName.length > 128 || /\p{Cc}/u.test(displayName))
      throw invalid('displayName', 'at most 128 characters, no control characters');
    if (u.role === 'customer' && !u.customer) throw invalid('customer', 'a customer user names its customer');
    checkPassword(password, username);
    const now = this.now();
    const user: User = {
      id: `U-${randomBytes(6).toString('hex')}`,
      username,
      displayName: displayName || username,
      role: u.role,
      sites: u.sites?.length ? [...u.sites] : null,
      technician: u.technician ?? null,
      customer: u.customer ?? null,
      createdAt: now,
      createdBy: u.createdBy,
      passwordChangedAt: now,
      lastSignInAt: null,
      disabledAt: null,
    };
    await this.store.insert(user, await hash(password));
    return user;
  }

  /**
   * The user these credentials sign in, or undefined — unknown name, wrong password or disabled
   * alike, and in about the same time (an unknown name is checked against a decoy hash).
   */
  async check(username: string, password: string): Promise<User | undefined> {
    if (password.length > MAX_PASSWORD) return undefined;
    const found = await this.store.byUsername(username.trim().toLowerCase());
    if (!found) {
      decoy ??= hash(randomBytes(24).toString('base64url'));
      await verify(await decoy, password).catch(() => false);
      return undefined;
    }
    const ok = await verify(found.passwordHash, password).catch(() => false);
    if (!ok || found.user.disabledAt !== null) return undefined;
    const at = this.now();
    await this.store.signedIn(found.user.id, at);
    return { ...found.user, lastSignInAt: at };
  }

  get(id: string): Promise<User | undefined> {
    return this.store.get(id);
  }

  async byUsername(username: string): Promise<User> {
    const found = await this.store.byUsername(username.trim().toLowerCase());
    if (!found) throw new FaultlineError('FL_ERR_USER_NOT_FOUND', `no user ${username}`);
    return found.user;
  }

  list(): Promise<User[]> {
    return this.store.list();
  }

  async setPassword(id: string, password: string): Promise<User> {
    const user = await this.store.get(id);
    if (!user) throw new FaultlineError('FL_ERR_USER_NOT_FOUND', `no user ${id}`);
    checkPassword(password, user.username);
    const changed = (await this.store.setPassword(id, await hash(password), this.now())) as User;
    await this.sessions?.removeForUser(id);
    return changed;
  }

  async setDisabled(id: string, disabled: boolean): Promise<User> {
    const user = await this.store.setDisabled(id, disabled ? this.now() : null);
    if (!user) throw new FaultlineError('FL_ERR_USER_NOT_FOUND', `no user ${id}`);
    if (disabled) await this.sessions?.removeForUser(id);
    return user;
  }
}

/** A validation error about one field (the console shows it beside that field). */
const invalid = (path: string, message: string) =>
  new FaultlineError('FL_ERR_API_VALIDATION', `${path}: ${message}`, { details: [{ path, message }] });

/** The password policy: long enough, not absurdly long, not the user name. */
export function checkPassword(password: string, username: string): void {
  const refuse = (message: string) =>
    new FaultlineError('FL_ERR_USER_PASSWORD', message, { details: [{ path: 'password', message }] });
  if (password.length < MIN_PASSWORD) throw refuse(`the password needs at least ${MIN_PASSWORD} characters`);
  if (password.length > MAX_PASSWORD)
    throw refuse(`the password may have at most ${MAX_PASSWORD} characters`);
  if (password.toLowerCase().includes(username)) throw refuse('the password must not contain the user name');
}

/** A password for a new user when none is given: 20 characters of base64url (120 bits). */
export function generatedPassword(): string {
  return randomBytes(15).toString('base64url');
}

/** What a signed-in user may do: the API's roles and limits, as a key's principal. */
export function principalOf(u: User): Principal {
  return {
    keyId: `user:${u.id}`,
    name: u.displayName,
    role: u.role,
    sites: u.sites,
    technician: u.technician,
    customer: u.customer,
  };
}
