import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { auth, gatewayFixture, getJson, postJson, stream, waitFor } from './helpers.js';

const CONFIG = `
sites:
  - { id: north }
  - { id: south }
devices:
  - { id: press-1, site: north }
  - { id: press-9, site: south }
notifications:
  webhooks:
    timeout: 2s
    retry: { min: 50ms, max: 200ms, attempts: 4 }
    egress: { allow: [127.0.0.1] } # the test's receivers are on loopback
`;

const SECRET = `whsec_${Buffer.from('a-test-signing-key-of-32-bytes!!').toString('base64')}`;

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  answered: number;
}

/** A real HTTP receiver: records every request; `answer` decides the status per request. */
async function receiver(answer: (r: Omit<Received, 'answered'>, n: number) => number) {
  const got: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const r = {
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
      };
      const status = answer(r, got.length);
      got.push({ ...r, answered: status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    got,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Verifies a Standard Webhooks signature the way a receiver would. */
function verified(r: Received): boolean {
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const want = createHmac('sha256', key).update(`${r.id}.${r.timestamp}.${r.body}`).digest('base64');
  return r.signature === `v1,${want}`;
}

describe('webhooks and live events (gateway)', () => {
  const g = gatewayFixture(CONFIG);
  const api = g.api;
  const file = (site: string) =>
    postJson<{ id: string }>(api('/tickets'), {
      title: `Leak at ${site}`,
      priority: 'general',
      source: 'phone',
      reporter: { name: 'Operator' },
      faultType: 'mechanical',
      site,
    });
  const subscribe = async (url: string, types: string[]) => {
    const r = await postJson<{ id: string; secret: string }>(api('/webhooks'), {
      url,
      types,
      secret: SECRET,
    });
    expect(r.status).toBe(201);
    expect(r.body.secret).toBe(SECRET);
    return r.body.id;
  };

  it('signed deliveries, retried while the receiver fails, each event accepted exactly once under one id', async () => {
    // The receiver fails the first two attempts of every message (503), then accepts.
    const tries = new Map<string, number>();
    const rx = await receiver((r) => {
      const n = (tries.get(r.id) ?? 0) + 1;
      tries.set(r.id, n);
      return n <= 2 ? 503 : 200;
    });
    const hook = await subscribe(rx.url, ['ticket.created']);
    const ids = [(await file('north')).body.id, (await file('south')).body.id, (await file('north')).body.id];
    await waitFor(
      async () => (rx.got.filter((r) => r.answered === 200).length === 3 ? true : undefined),
      10_000,
    );
    expect(rx.got.every(verified)).toBe(true);
    const accepted = rx.got.filter((r) => r.answered === 200);
    // One delivery id per event, the same on every attempt; in event order; nothing accepted twice.
    expect(new Set(accepted.map((r) => r.id)).size).toBe(3);
    expect(rx.got).toHaveLength(9);
    for (const r of accepted)
      expect(rx.got.filter((x) => x.id === r.id).map((x) => x.answered)).toEqual([503, 503, 200]);
    const bodies = accepted.map((r) => JSON.parse(r.body) as { type: string; data: { id: string } });
    expect(bodies.map((b) => b.type)).toEqual(['ticket.created', 'ticket.created', 'ticket.created']);
    expect(bodies.map((b) => b.data.id)).toEqual(ids);
    const list = await getJson<{ items: { state: string; attempts: number }[] }>(
      api(`/webhooks/${hook}/deliveries`),
    );
    expect(list.body.items.map((d) => `${d.state}/${d.attempts}`)).toEqual([
      'delivered/3',
      'delivered/3',
      'delivered/3',
    ]);
    // A new ticket goes out once more, nothing else is repeated.
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.got).toHaveLength(9);
    await rx.close();
    await fetch(api(`/webhooks/${hook}`), { method: 'DELETE', headers: auth() });
  });

  it('a receiver that is down: retries, then the dead list; sent again once it is back', async () => {
    // A port with nothing listening: connection refused.
    const probe = await receiver(() => 200);
    const url = probe.url;
    await probe.close();
    const hook = await subscribe(url, ['ticket.*']);
    await file('north');
    const dead = await waitFor(async () => {
      const r = await getJson<{ items: { id: string; attempts: number; lastError: string }[] }>(
        api(`/webhooks/${hook}/deliveries?state=dead`),
      );
      return r.body.items.length ? r.body.items : undefined;
    }, 10_000);
    expect(dead[0]?.attempts).toBe(4);
    // A refused port, a timeout, an unknown name: all "unreachable" (no network map from the dead list).
    expect(dead[0]?.lastError).toBe('unreachable');
    // The receiver is back on the same address: the dead delivery is sent again on request.
    const port = Number(new URL(url).port);
    const got: string[] = [];
    const server = createServer((req, res) => {
      got.push(String(req.headers['webhook-id']));
      req.resume();
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    const retried = await postJson<{ state: string }>(
      api(`/webhooks/${hook}/deliveries/${dead[0]?.id}/retry`),
      {},
    );
    expect(retried.body.state).toBe('pending');
    await waitFor(async () => (got.length === 1 ? true : undefined), 5_000);
    expect(got).toEqual([dead[0]?.id]);
    expect(dead[0]?.id).toContain('_W-');
    await new Promise<void>((r) => server.close(() => r()));
    await fetch(api(`/webhooks/${hook}`), { method: 'DELETE', headers: auth() });
  });

  it('the live stream follows events, resumes with Last-Event-ID, takes a stream token, and hides other sites', async () => {
    const s1 = await stream(api('/events?types=ticket.*'), auth());
    expect(s1.status).toBe(200);
    expect(s1.type).toBe('text/event-stream; charset=utf-8');
    const a = (await file('north')).body.id;
    await waitFor(async () => (s1.events.some((e) => e.data.subject === a) ? true : undefined));
    const lastId = s1.events[s1.events.length - 1]?.id as string;
    s1.close();
    // Missed while disconnected, then replayed on reconnect.
    const b = (await file('south')).body.id;
    const s2 = await stream(api('/events?types=ticket.*'), { ...auth(), 'last-event-id': lastId });
    await waitFor(async () => (s2.events.some((e) => e.data.subject === b) ? true : undefined));
    expect(s2.events[0]?.data.subject).toBe(b);
    expect(Number(s2.events[0]?.id)).toBeGreaterThan(Number(lastId));
    s2.close();
    // A browser: a short-lived token in the URL instead of a header; a site-limited key's token.
    const north = await postJson<{ key: string }>(api('/keys'), {
      name: 'n',
      role: 'viewer',
      sites: ['north'],
    });
    const tok = await postJson<{ token: string }>(api('/events/token'), {}, north.body.key);
    expect(tok.status).toBe(200);
    const s3 = await stream(api(`/events?token=${encodeURIComponent(tok.body.token)}&lastEventId=0`));
    expect(s3.status).toBe(200);
    const c = (await file('north')).body.id;
    await waitFor(async () => (s3.events.some((e) => e.data.subject === c) ? true : undefined));
    const subjects = new Set(s3.events.map((e) => e.data.subject));
    expect(subjects.has(a)).toBe(true);
    expect(subjects.has(b)).toBe(false); // south
    s3.close();
    expect((await stream(api('/events?token=forged.token'))).status).toBe(401);
  });
});
