import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { Outbox } from './outbox.js';
import { SqliteOutboxStore } from './sqlite-outbox-store.js';

describe('Outbox', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());

  const event = (type: 'ticket.created' | 'alert.firing') => ({
    type,
    at: Date.UTC(2026, 11, 7),
    subject: 'T-1',
    site: 'north',
    customer: null,
    data: {},
  });

  it('matches webhooks by event type from an index that follows every change of the webhooks (issue 19)', async () => {
    db = openDatabase(':memory:');
    const outbox = new Outbox(new SqliteOutboxStore(db));
    const pending = async () => (await outbox.counts()).pending;
    const tickets = await outbox.createWebhook({
      url: 'https://a.example/x',
      types: ['ticket.*'],
      description: '',
    });
    await outbox.publish(event('ticket.created'));
    await outbox.publish(event('alert.firing'));
    expect(await pending()).toBe(1);
    const all = await outbox.createWebhook({ url: 'https://b.example/x', types: ['*.*'], description: '' });
    await outbox.publish(event('alert.firing'));
    expect(await pending()).toBe(2);
    await outbox.setActive(tickets.id, false);
    await outbox.publish(event('ticket.created'));
    expect(await pending()).toBe(3); // only the catch-all
    await outbox.setActive(tickets.id, true);
    await outbox.publish(event('ticket.created'));
    expect(await pending()).toBe(5);
    await outbox.deleteWebhook(all.id);
    await outbox.setActive(tickets.id, false);
    await outbox.publish(event('ticket.created'));
    await outbox.publish(event('alert.firing'));
    expect(await pending()).toBe(2); // the catch-all's three went with it; nothing new for the switched-off one
  });

  it('tells how many listeners it has, as they come and go', () => {
    db = openDatabase(':memory:');
    const outbox = new Outbox(new SqliteOutboxStore(db));
    const counts: number[] = [];
    outbox.onListenerCount((n) => counts.push(n));
    const off1 = outbox.on(() => undefined);
    const off2 = outbox.on(() => undefined);
    off1();
    off2();
    expect(counts).toEqual([1, 2, 1, 0]);
  });

  it('stores events in the order they were published, also when the webhook index is built meanwhile', async () => {
    db = openDatabase(':memory:');
    const outbox = new Outbox(new SqliteOutboxStore(db));
    await outbox.publish(event('ticket.created')); // the index knows ticket.created now, not alert.firing
    const order = await Promise.all([
      outbox.publish({ ...event('alert.firing'), subject: 'first' }),
      outbox.publish({ ...event('ticket.created'), subject: 'second' }),
    ]);
    expect(order.map((e) => e.subject)).toEqual(['first', 'second']);
    expect(order[0]?.seq).toBeLessThan(order[1]?.seq as number);
  });

  it('a store that fails to list the webhooks fails that publish only; the next one reads them again', async () => {
    db = openDatabase(':memory:');
    const store = new SqliteOutboxStore(db);
    let fail = true;
    const flaky = Object.assign(Object.create(store) as SqliteOutboxStore, {
      webhooks: () => (fail ? Promise.reject(new Error('database is locked')) : store.webhooks()),
    });
    const outbox = new Outbox(flaky);
    await expect(outbox.publish(event('ticket.created'))).rejects.toThrow('database is locked');
    fail = false;
    expect((await outbox.publish(event('ticket.created'))).seq).toBe(1);
  });
});
