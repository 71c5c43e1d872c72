import { describe, expect, it } from 'vitest';
import { InFlight } from './in-flight.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('InFlight (messages handed to ingest, per spool commit)', () => {
  it('counts messages per commit, settles them in arrival order, and reports a failed commit once', async () => {
    const durable: number[] = [];
    const failed: string[] = [];
    let released = 0;
    const f = new InFlight({
      durable: (n) => durable.push(n),
      failed: (err) => failed.push((err as Error).message),
      released: () => released++,
    });
    const first = deferred();
    const second = deferred();
    const settled: string[] = [];
    f.add(first.promise, 2, (err) => settled.push(`a${err ? '!' : ''}`));
    f.add(first.promise, 3, (err) => settled.push(`b${err ? '!' : ''}`));
    f.add(second.promise, 1, (err) => settled.push(`c${err ? '!' : ''}`));
    f.add(second.promise, 1, (err) => settled.push(`d${err ? '!' : ''}`));
    expect(f.size).toBe(4);
    first.resolve();
    second.reject(new Error('disk full'));
    await f.drained();
    expect(settled).toEqual(['a', 'b', 'c!', 'd!']);
    expect(durable).toEqual([5]);
    expect(failed).toEqual(['disk full']);
    expect(released).toBe(2);
    expect(f.size).toBe(0);
  });

  it('drained() waits for the commits in flight, not for later ones', async () => {
    const f = new InFlight({ durable: () => undefined, failed: () => undefined });
    const slow = deferred();
    f.add(slow.promise, 1);
    let done = false;
    const drained = f.drained().then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    slow.resolve();
    await drained;
    expect(done).toBe(true);
    expect(f.size).toBe(0);
  });
});
