/**
 * Store contracts (issue 19): the behaviour every implementation of a store interface must have,
 * one suite per interface. `sqlite.test.ts` runs them all against SQLite; a PostgreSQL
 * implementation runs the same suites. Each suite takes a factory that gives a fresh, empty store
 * and a cleanup.
 */
export type MakeStore<S> = () => Promise<{ store: S; cleanup: () => Promise<void> }>;
