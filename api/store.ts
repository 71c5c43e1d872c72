import type { ApiKey } from './auth.js';
import type { User } from './users.js';

/**
 * The API folder's stored state behind an async interface (issue 19): SQLite today
 * (`sqlite-key-store.ts`), PostgreSQL for several instances next; every implementation passes
 * `test/contracts/api-stores.ts`.
 */

/**
 * API keys. The store keeps each key's record and the SHA-256 hash of the key (never the key): a
 * presented key is found by its hash. Making keys and hashing them is `ApiKeys`' work (auth.ts).
 */
export interface ApiKeyStore {
  /** Stores a new key; fails (FL_ERR_INTERNAL) when its id or hash is already stored. */
  insert(record: ApiKey, hash: string): Promise<void>;
  /** Stores `record` under its id with this hash, replacing any key with that id (one transaction). */
  replace(record: ApiKey, hash: string): Promise<void>;
  /** The hash stored for this id, or undefined. */
  hashOf(id: string): Promise<string | undefined>;
  /** The key with this hash (revoked and expired ones too), or undefined. */
  byHash(hash: string): Promise<ApiKey | undefined>;
  get(id: string): Promise<ApiKey | undefined>;
  /** Every key, revoked ones too, oldest first (then by id). */
  list(): Promise<ApiKey[]>;
  /** Marks a key revoked at `at` (a key already revoked keeps its first time); undefined: no such key. */
  revoke(id: string, at: number): Promise<ApiKey | undefined>;
  /** Records that the key was used at `at`. */
  touch(id: string, at: number): Promise<void>;
  /** Keys that are neither revoked nor expired at `at`. */
  activeCount(at: number): Promise<number>;
}

/**
 * People who sign in to the console (issue 21): each user's record and the argon2id hash of their
 * password (never the password). Hashing and checking passwords is `Users`' work (users.ts).
 */
export interface UserStore {
  /** Stores a new user; fails with FL_ERR_USER_EXISTS when the user name (or id) is taken. */
  insert(user: User, passwordHash: string): Promise<void>;
  get(id: string): Promise<User | undefined>;
  /** The user with this user name (disabled ones too) and the password hash, or undefined. */
  byUsername(username: string): Promise<{ user: User; passwordHash: string } | undefined>;
  /** Every user, oldest first (then by id). */
  list(): Promise<User[]>;
  /** Replaces the password hash, at `at`; undefined: no such user. */
  setPassword(id: string, passwordHash: string, at: number): Promise<User | undefined>;
  /** Disables the user at `at` (kept for the record; a disabled user keeps its first time), or enables it (`null`). */
  setDisabled(id: string, at: number | null): Promise<User | undefined>;
  /** Records a sign-in at `at`. */
  signedIn(id: string, at: number): Promise<void>;
}

/** A signed-in console session as stored: whose, since when, last seen when, and its data. */
export interface SessionRecord {
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  /** What the session keeps besides (JSON text; the CSRF secret). */
  data: string;
}

/**
 * Console sign-in sessions (issue 21), shared by the API's threads and every instance. A session is
 * stored under the SHA-256 hash of its id (never the id: whoever reads the database cannot sign in
 * with what it finds). Expiry (idle, absolute) is `Sessions`' decision (sessions.ts); the store
 * keeps the times it needs.
 */
export interface SessionStore {
  /**
   * The secret that signs session cookies: the one stored, or `made` stored first (the first caller
   * wins when several race; all get the same answer).
   */
  secret(made: string): Promise<string>;
  /** Stores the session under this hash, replacing one stored there. */
  put(idHash: string, s: SessionRecord): Promise<void>;
  get(idHash: string): Promise<SessionRecord | undefined>;
  /** Records activity at `at` (a later time only). */
  touch(idHash: string, at: number): Promise<void>;
  remove(idHash: string): Promise<void>;
  /** Ends every session of this user but `keep` (a hash); resolves how many ended. */
  removeForUser(userId: string, keep?: string): Promise<number>;
  /** Deletes sessions last seen before `idleBefore` or made before `createdBefore`; resolves how many. */
  purge(idleBefore: number, createdBefore: number): Promise<number>;
}
