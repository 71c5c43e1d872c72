import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { silentLogger, waitFor } from '../test/helpers.js';
import { Forwarder } from './forwarder.js';
import { InfluxWriteError, type InfluxWriter } from './influx/writer.js';
import { SqliteTelemetryLog } from './sqlite-telemetry-log.js';
import type { DeadLetterInput, DeadLetterStore } from './store.js';

/** A writer we script: the seam between the forwarder and InfluxDB. */
class ScriptedWriter implements InfluxWriter {
  readonly target = 'scripted';
  received: string[] = [];
  failures: InfluxWriteError[] = [];
  /** Lines per request, as sent. */
  sizes: number[] = [];
  async write(lines: string): Promise<void> {
    this.sizes.push(lines.split('\n').length);
    const f = this.failures.shift();
    if (f) throw f;
    // Like InfluxDB: a line it cannot parse is refused every time.
    if (lines.split('\n').some((l) => l.startsWith('bad'))) {
      throw new InfluxWriteError({
        kind: 'rejected',
        status: 400,
        message: 'partial write: unable to parse',
      });
    }
    this.received.push(...lines.split('\n'));
  }
}

/** Counts the batches the forwarder reads (each is inflated when read). */
class CountingLog extends SqliteTelemetryLog {
  batchesRead = 0;
  override async read(afterId: number, limit: number) {
    const rows = await super.read(afterId, limit);
    this.batchesRead += rows.length;
    return rows;
  }
}

describe('Forwarder', () => {
  let db: SqliteDatabase;
  let f: Forwarder | undefined;
  afterEach(async () => {
    await f?.stop();
    db.close();
  });

  function setup(
    deadLetters: DeadLetterStore,
    writer: InfluxWriter,
    batchLines = 3,
    flushIntervalMs = 5,
    makeLog: (db: SqliteDatabase) => SqliteTelemetryLog = (d) => new SqliteTelemetryLog(d),
  ) {
    db = openDatabase(':memory:');
    const log = makeLog(db);
    f = new Forwarder({
      log,
      writer,
      deadLetters,
      logger: silentLogger,
      batchLines,
      flushIntervalMs,
      retryMinMs: 5,
      retryMaxMs: 20,
    });
    log.onCommit(() => f?.notify());
    f.start();
    return { log, forwarder: f };
  }

  const noDeadLetters: DeadLetterStore = { add: async () => {}, list: async () => [], count: async () => 0 };

  it('ships in order in requests of at most batchLines, then empties the spool', async () => {
    const w = new ScriptedWriter();
    const { log } = setup({ add: async () => {}, list: async () => [], count: async () => 0 }, w);
    await log.append('a 1\nb 2', 2);
    await log.append('c 3\nd 4\ne 5', 3);
    await waitFor(async () => ((await log.stats()).batches === 0 ? true : undefined), 5_000, 'drained');
    expect(w.received).toEqual(['a 1', 'b 2', 'c 3', 'd 4', 'e 5']);
  });

  it('records the longest time readings waited for a write: a stalled InfluxDB shows, an idle spool does not', async () => {
    let stall = 0;
    const w = new ScriptedWriter();
    const slow: InfluxWriter = {
      target: 'slow',
      write: async (lines) => {
        if (stall > 0) await new Promise((r) => setTimeout(r, stall));
        return w.write(lines);
      },
    };
    const { log, forwarder } = setup(
      { add: async () => {}, list: async () => [], count: async () => 0 },
      slow,
    );
    await log.append('a 1', 1);
    await waitFor(async () => (w.received.length === 1 ? true : undefined));
    // Margins are wide: what is checked is which time counts, not how fast the machine is.
    await new Promise((r) => setTimeout(r, 1_500)); // idle: nothing waited, so this is no gap
    await log.append('b 2', 1);
    await waitFor(async () => (w.received.length === 2 ? true : undefined));
    expect(forwarder.counters.longestWriteGapMs).toBeLessThan(1_000);
    stall = 1_200;
    await log.append('c 3', 1);
    await waitFor(async () => (w.received.length === 3 ? true : undefined));
    expect(forwarder.counters.longestWriteGapMs).toBeGreaterThanOrEqual(1_200);
  });

  it('reads each batch once while a small request fills up, whatever the number of commits', async () => {
    const w = new ScriptedWriter();
    let counting: CountingLog | undefined;
    const { log } = setup(noDeadLetters, w, 10_000, 400, (d) => {
      counting = new CountingLog(d);
      return counting;
    });
    // 60 commits (one per turn, as a steady stream gives), each waking the forwarder.
    for (let i = 0; i < 60; i++) await log.append(`m${i} v=${i}`, 1);
    await waitFor(async () => ((await log.stats()).batches === 0 ? true : undefined), 5_000, 'drained');
    expect(w.received).toEqual(Array.from({ length: 60 }, (_, i) => `m${i} v=${i}`));
    expect(counting?.batchesRead).toBe(60);
  });

  it('a slow trickle waits flushInterval to fill a request; the tail of a burst ships once readings stop', async () => {
    const w = new ScriptedWriter();
    const { log } = setup(noDeadLetters, w, 3, 30_000);
    // A trickle: one reading, no burst before it — it waits (up to 30 s) for company.
    await log.append('t v=1', 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(w.received).toEqual([]);
    // A burst: the request fills and ships; its tail, one reading, follows once nothing more comes
    // (50 ms), not 30 s later.
    await log.append('b1 v=1\nb2 v=2', 2);
    await waitFor(async () => (w.received.length === 3 ? true : undefined), 5_000, 'the full request');
    const tailAt = Date.now();
    await log.append('tail v=1', 1);
    await waitFor(async () => (w.received.length === 4 ? true : undefined), 5_000, 'the tail');
    expect(Date.now() - tailAt).toBeLessThan(5_000);
    expect(w.received).toEqual(['t v=1', 'b1 v=1', 'b2 v=2', 'tail v=1']);
    expect(w.sizes).toEqual([3, 1]);
  });

  it('keeps going when the dead-letter store fails: retries until the line can be recorded', async () => {
    const w = new ScriptedWriter();
    let failAdds = 2;
    const added: DeadLetterInput[] = [];
    const dl: DeadLetterStore = {
      add: async (e) => {
        if (failAdds-- > 0) throw new Error('disk full');
        added.push(e);
      },
      list: async () => [],
      count: async () => added.length,
    };
    const { log, forwarder } = setup(dl, w, 10);
    await log.append('bad 1', 1);
    await waitFor(async () => ((await log.stats()).batches === 0 ? true : undefined), 5_000, 'drained');
    expect(added.map((a) => a.payload.toString())).toEqual(['bad 1']);
    expect(forwarder.counters.retries).toBeGreaterThanOrEqual(1);
    expect(forwarder.counters.failingFor).toBe(0);
    await log.append('good 2', 1);
    await waitFor(async () => (w.received.includes('good 2') ? true : undefined), 5_000, 'next batch');
  });

  it('isolates refused lines, leaves out empty ones, and splits a batch larger than a request', async () => {
    const w = new ScriptedWriter();
    const added: DeadLetterInput[] = [];
    const dl: DeadLetterStore = {
      add: async (e) => {
        added.push(e);
      },
      list: async () => [],
      count: async () => added.length,
    };
    const { log } = setup(dl, w, 3);
    await log.append('a 1\n\nbad x', 2);
    await log.append('', 0);
    await log.append('c 3\nd 4\ne 5\nf 6\ng 7', 5);
    await waitFor(async () => ((await log.stats()).batches === 0 ? true : undefined), 5_000, 'drained');
    expect(w.received).toEqual(['a 1', 'c 3', 'd 4', 'e 5', 'f 6', 'g 7']);
    expect(added.map((a) => a.payload.toString())).toEqual(['bad x']);
    expect(Math.max(...w.sizes)).toBeLessThanOrEqual(3);
    expect(w.sizes.every((n) => n > 0)).toBe(true);
  });
});
