import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { BrokerAuth, brokerUserSchema, filterWithin } from './auth.js';

describe('broker accounts', () => {
  const hash = bcrypt.hashSync('s3cret', 4);
  const auth = new BrokerAuth([
    brokerUserSchema.parse({ username: 'press-7', password: 'pw' }),
    brokerUserSchema.parse({
      username: 'line-2-plc',
      passwordHash: hash,
      devices: ['line2-*'],
      subscribe: ['plant/line2/commands/#'],
    }),
    brokerUserSchema.parse({ username: 'nodered', password: 'x', role: 'service' }),
  ]);

  it('verifies plain and bcrypt secrets', async () => {
    expect((await auth.verify('press-7', Buffer.from('pw')))?.username).toBe('press-7');
    expect(await auth.verify('press-7', Buffer.from('PW'))).toBeUndefined();
    expect(await auth.verify('press-7', undefined)).toBeUndefined();
    expect((await auth.verify('line-2-plc', Buffer.from('s3cret')))?.username).toBe('line-2-plc');
    expect(await auth.verify('line-2-plc', Buffer.from('nope'))).toBeUndefined();
    expect(await auth.verify('ghost', Buffer.from('pw'))).toBeUndefined();
  });

  it('keeps a device account to its own devices and namespace', () => {
    const press = brokerUserSchema.parse({ username: 'press-7', password: 'pw' });
    const plc = brokerUserSchema.parse({ username: 'line-2-plc', password: 'x', devices: ['line2-*'] });
    expect(auth.publishesFor(press, 'press-7')).toBe(true);
    expect(auth.publishesFor(press, 'press-8')).toBe(false);
    expect(auth.publishesFor(plc, 'line2-drill')).toBe(true);
    expect(auth.publishesFor(plc, 'line3-drill')).toBe(false);
    expect(auth.mayPublishTopic(press, 'devices/press-7/status')).toBe(true);
    expect(auth.mayPublishTopic(press, 'devices/press-8/status')).toBe(false);
    expect(auth.mayPublishTopic(press, 'plant/anything')).toBe(false);
  });

  it('subscriptions: own namespace and configured filters only', () => {
    const press = brokerUserSchema.parse({ username: 'press-7', password: 'pw' });
    const plc = brokerUserSchema.parse({
      username: 'line-2-plc',
      password: 'x',
      devices: ['line2-*'],
      subscribe: ['plant/line2/commands/#'],
    });
    const svc = brokerUserSchema.parse({ username: 'nodered', password: 'x', role: 'service' });
    expect(auth.maySubscribe(press, 'devices/press-7/commands')).toBe(true);
    expect(auth.maySubscribe(press, 'devices/press-7/#')).toBe(true);
    expect(auth.maySubscribe(press, 'devices/+/commands')).toBe(false);
    expect(auth.maySubscribe(press, 'devices/#')).toBe(false);
    expect(auth.maySubscribe(press, '#')).toBe(false);
    expect(auth.maySubscribe(plc, 'plant/line2/commands/drill')).toBe(true);
    expect(auth.maySubscribe(plc, 'devices/line2-drill/commands')).toBe(true);
    expect(auth.maySubscribe(plc, 'devices/line3-drill/commands')).toBe(false);
    expect(auth.maySubscribe(plc, 'devices/+/commands')).toBe(false);
    expect(auth.maySubscribe(svc, '#')).toBe(true);
  });

  it('filter containment', () => {
    expect(filterWithin('a/b/c', 'a/#')).toBe(true);
    expect(filterWithin('a', 'a/#')).toBe(true);
    expect(filterWithin('a/+/c', 'a/+/c')).toBe(true);
    expect(filterWithin('a/b/c', 'a/+/c')).toBe(true);
    expect(filterWithin('a/+/c', 'a/b/c')).toBe(false);
    expect(filterWithin('a/#', 'a/b/#')).toBe(false);
    expect(filterWithin('a/b', 'a/b/c')).toBe(false);
  });

  it('a user needs exactly one kind of secret, and hashes must look like bcrypt', () => {
    expect(brokerUserSchema.safeParse({ username: 'u' }).success).toBe(false);
    expect(brokerUserSchema.safeParse({ username: 'u', password: 'a', passwordHash: hash }).success).toBe(
      false,
    );
    expect(brokerUserSchema.safeParse({ username: 'u', passwordHash: 'md5:abc' }).success).toBe(false);
  });
});
