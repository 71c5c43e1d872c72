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
    here.relayOnlyFollowed();
    const errors: unknown[] = [];
    follower = new EventFollower(here, { pollMs, onError: (e) => errors.push(e) });
    const heard: string[] = [];
    here.on((e) => heard.push(`${e.seq}:${e.subject}`));
    return { here, there, follower, heard, errors };
  }

  it('relays both instances’ events in sequence order, each once, however many signals come', async () => {
    const { here, there, follower, heard, errors } = twoInstances();
    await here.publish(event('before-start')); // history: streams replay it themselves
    await follower.start();
    await here.publish(event('own-1'));
    expect(heard).toEqual([]); // not told directly: only through the follower
    await there.publish(event('other-1'));
    await here.publish(event('own-2'));
    for (let i = 0; i < 5; i++) follower.signal();
    await follower.idle();
    expect(heard).toEqual(['2:own-1', '3:other-1', '4:own-2']);
    follower.signal();
    await follower.idle();
    expect(heard).toHaveLength(3);
    expect(follower.position).toBe(4);
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
