import type { ApiKey } from './auth.js';

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
