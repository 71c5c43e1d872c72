import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { EventFollower } from './event-follower.js';
import { Outbox } from './outbox.js';
import { SqliteOutboxStore } from './sqlite-outbox-store.js';

const event = (subject: string) => ({
  type: 'ticket.created' as const,
  at: Date.UTC(2026, 11, 7),
  subject,
  site: null,
  customer: null,
  data: {},
});

/**
 * Two outboxes on one store stand for two instances on one PostgreSQL (issue 20): the follower of
 * `here` relays every event either stores, once each, in sequence order; `here`'s own events reach
 * its listeners only through the follower.
 */
describe('EventFollower', () => {
  let db: SqliteDatabase;
  let follower: EventFollower | undefined;
  afterEach(async () => {
    await follower?.stop();
    db.close();
  });

  function twoInstances(pollMs = 60_000) {
    db = openDatabase(':memory:');
    const store = new SqliteOutboxStore(db);
    const here = new Outbox(store);
    const there = new Outbox(store);
    const errors: unknown[] = [];
    follower = new EventFollower(here, { pollMs, onError: (e) => errors.push(e) });
    const f = follower;
    here.relayOnlyFollowed((e) => f.stored(e));
    const heard: string[] = [];
    here.on((e) => heard.push(`${e.seq}:${e.subject}`));
    return { here, there, follower, heard, errors };
  }

  it('relays both instances’ events in sequence order, each once; its own without reading them back', async () => {
    const { here, there, follower, heard, errors } = twoInstances();
    const since = here.since.bind(here);
    let queries = 0;
    here.since = (seq, limit) => {
      queries++;
      return since(seq, limit);
    };
    await here.publish(event('before-start')); // history: streams replay it themselves
    await follower.start();
    await here.publish(event('own-1'));
    expect(heard).toEqual(['2:own-1']); // at once, no query
    expect(queries).toBe(0);
    await there.publish(event('other-1')); // no notification (yet)
    await here.publish(event('own-2')); // after a gap: the gap is read first
    await follower.idle();
    expect(heard).toEqual(['2:own-1', '3:other-1', '4:own-2']);
    expect(queries).toBe(1);
    await there.publish(event('other-2'));
    for (let i = 0; i < 5; i++) follower.signal(5); // a notification, told five times
    await follower.idle();
    follower.signal(5); // already relayed: nothing to read
    await follower.idle();
    expect(heard).toEqual(['2:own-1', '3:other-1', '4:own-2', '5:other-2']);
    expect(queries).toBe(2); // one read for the five, none for the repeat
    expect(follower.position).toBe(5);
    expect(errors).toEqual([]);
  });

  it('catches up page by page after a long silence, and polls without a signal', async () => {
    const { there, follower, heard } = twoInstances(20);
    await follower.start();
    for (let i = 0; i < 1203; i++) await there.publish(event(`e${i}`));
    // No signal: the poll finds them.
    await expect.poll(() => heard.length, { timeout: 5_000 }).toBe(1203);
    expect(heard.at(-1)).toBe('1203:e1202');
    expect(new Set(heard).size).toBe(1203);
  });

  it('a read that fails is reported and the next signal reads again from where it stopped', async () => {
    const { here, there, follower, heard, errors } = twoInstances();
    await follower.start();
    await there.publish(event('a'));
    const since = here.since.bind(here);
    let fail = true;
    here.since = (seq, limit) => (fail ? Promise.reject(new Error('server gone')) : since(seq, limit));
    follower.signal();
    await follower.idle();
    expect(errors).toHaveLength(1);
    expect(heard).toEqual([]);
    fail = false;
    follower.signal();
    await follower.idle();
    expect(heard).toEqual(['1:a']);
  });
});
