import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { answerForwarded, type ForwardedRequest, installForwarding } from './forward.js';

/**
 * Both ends of the passage between the API worker and the main thread, on two plain apps with the
 * same routes: what the main app answers comes back unchanged, bodies arrive as they were sent.
 */

type Seen = { body: unknown; ip: string; headers: Record<string, unknown> };

function routes(app: FastifyInstance, where: string, seen: Seen[]): void {
  app.get('/here', { config: { access: 'public', worker: true } }, async () => ({ servedBy: where }));
  app.get('/there', { config: { access: 'public' } }, async (_req, reply) => {
    reply.header('x-served-by', where).header('cache-control', 'no-store');
    return { servedBy: where };
  });
  app.post('/there', { config: { access: 'public' } }, async (req, reply) => {
    seen.push({ body: req.body, ip: req.ip, headers: req.headers });
    reply.code(201).header('location', '/there/1');
    return { servedBy: where, got: req.body };
  });
  app.get('/problem', { config: { access: 'public' } }, async (_req, reply) =>
    reply.code(409).type('application/problem+json').send({ status: 409, title: 'Conflict' }),
  );
  app.get('/csv', { config: { access: 'public' } }, async (_req, reply) =>
    reply.type('text/csv; charset=utf-8').send('a,b\n1,2\n'),
  );
}

describe('forwarding from the API worker to the main thread', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
  });

  async function pair() {
    const seen: Seen[] = [];
    const main = Fastify();
    routes(main, 'main', seen);
    const passed: ForwardedRequest[] = [];
    const worker = Fastify();
    installForwarding(worker, (r) => {
      passed.push(r);
      return answerForwarded(main, r);
    });
    routes(worker, 'worker', []);
    apps.push(main, worker);
    await worker.ready();
    return { worker, seen, passed };
  }

  it('serves the worker routes itself and passes the others, with status and headers', async () => {
    const { worker, passed } = await pair();
    const here = await worker.inject({ url: '/here' });
    expect(here.json()).toEqual({ servedBy: 'worker' });
    expect(passed).toHaveLength(0);

    const there = await worker.inject({ url: '/there?x=1' });
    expect(there.statusCode).toBe(200);
    expect(there.json()).toEqual({ servedBy: 'main' });
    expect(there.headers['x-served-by']).toBe('main');
    expect(there.headers['cache-control']).toBe('no-store');
    expect(passed[0]).toMatchObject({ method: 'GET', url: '/there?x=1', body: null });

    const problem = await worker.inject({ url: '/problem' });
    expect(problem.statusCode).toBe(409);
    expect(problem.headers['content-type']).toMatch(/^application\/problem\+json/);
    const csv = await worker.inject({ url: '/csv' });
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.body).toBe('a,b\n1,2\n');
  });

  it('passes the body as it was sent, and the caller address', async () => {
    const { worker, seen, passed } = await pair();
    const raw = '{"n": 1.50, "text": "ä\\u00e9", "nested": {"a": [1, 2]}}';
    const res = await worker.inject({
      method: 'POST',
      url: '/there',
      headers: { 'content-type': 'application/json' },
      payload: raw,
      remoteAddress: '10.1.2.3',
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe('/there/1');
    expect(passed[0]?.body).toBe(raw);
    expect(seen[0]?.body).toEqual({ n: 1.5, text: 'äé', nested: { a: [1, 2] } });
    expect(seen[0]?.ip).toBe('10.1.2.3');

    const text = await worker.inject({
      method: 'POST',
      url: '/there',
      headers: { 'content-type': 'text/plain' },
      payload: 'plain words',
    });
    expect(text.json()).toEqual({ servedBy: 'main', got: 'plain words' });
  });

  it('refuses poisoned and broken JSON in the worker, before anything is passed on', async () => {
    const { worker, passed } = await pair();
    for (const payload of [
      '{"__proto__": {"polluted": true}}',
      '{"constructor": {"prototype": {}}}',
      '{nope',
      '',
    ]) {
      const res = await worker.inject({
        method: 'POST',
        url: '/there',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode).toBe(400);
    }
    expect(passed).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
