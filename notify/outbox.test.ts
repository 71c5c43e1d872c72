import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { Outbox } from './outbox.js';

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

  it('matches webhooks by event type from an index that follows every change of the webhooks (issue 19)', () => {
    db = openDatabase(':memory:');
    const outbox = new Outbox(db);
    const pending = () => outbox.counts().pending;
    const tickets = outbox.createWebhook({
      url: 'https://a.example/x',
      types: ['ticket.*'],
      description: '',
    });
    outbox.publish(event('ticket.created'));
    outbox.publish(event('alert.firing'));
    expect(pending()).toBe(1);
    const all = outbox.createWebhook({ url: 'https://b.example/x', types: ['*.*'], description: '' });
    outbox.publish(event('alert.firing'));
    expect(pending()).toBe(2);
    outbox.setActive(tickets.id, false);
    outbox.publish(event('ticket.created'));
    expect(pending()).toBe(3); // only the catch-all
    outbox.setActive(tickets.id, true);
    outbox.publish(event('ticket.created'));
    expect(pending()).toBe(5);
    outbox.deleteWebhook(all.id);
    outbox.deactivate(tickets.id);
    outbox.publish(event('ticket.created'));
    outbox.publish(event('alert.firing'));
    expect(pending()).toBe(2); // the catch-all's three went with it; nothing new for the switched-off one
  });

  it('tells how many listeners it has, as they come and go', () => {
    db = openDatabase(':memory:');
    const outbox = new Outbox(db);
    const counts: number[] = [];
    outbox.onListenerCount((n) => counts.push(n));
    const off1 = outbox.on(() => undefined);
    const off2 = outbox.on(() => undefined);
    off1();
    off2();
    expect(counts).toEqual([1, 2, 1, 0]);
  });
});
