import { afterEach, beforeEach } from 'vitest';

/**
 * Store contracts (issue 19): the behaviour every implementation of a store interface must have,
 * one suite per interface. `sqlite.test.ts` runs them all against SQLite; a PostgreSQL
 * implementation runs the same suites. Each suite takes a factory that gives a fresh, empty store
 * and a cleanup.
 */
export type MakeStore<S> = () => Promise<{ store: S; cleanup: () => Promise<void> }>;

/**
 * A fresh store for each test of the enclosing `describe`: made before it (handed to `use`), cleaned
 * up after it.
 */
export function eachFresh<S>(make: MakeStore<S>, use: (store: S) => void): void {
  let cleanup: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    const made = await make();
    cleanup = made.cleanup;
    use(made.store);
  });
  afterEach(() => cleanup?.());
}
