import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayFixture, getJson } from './helpers.js';

describe('ticket pagination while tickets are being created (gateway)', () => {
  const g = gatewayFixture('sites: [{ id: north }]\n');
  const api = g.api;
  let n = 0;
  const file = (priority: 'emergency' | 'general') =>
    g.gw.tickets.createManual({
      title: `Fault ${++n}`,
      description: '',
      priority,
      source: 'phone',
      reporter: { name: 'Operator' },
      faultType: 'mechanical',
      actor: 'hotline',
      // Spread report times so that urgency order interleaves old and new tickets.
      reportedAt: Date.now() - ((n * 7919) % 100) * 60_000,
    });

  beforeAll(async () => {
    for (let i = 0; i < 120; i++) await file(i % 3 === 0 ? 'emergency' : 'general');
  });

  for (const sort of ['-createdAt', 'urgency'] as const)
    it(`sort=${sort}: every ticket that existed is seen once, none twice, while 10 more arrive per page`, async () => {
      const before = new Set(
        (await getJson<{ items: { id: string }[] }>(api(`/tickets?limit=500&sort=${sort}`))).body.items.map(
          (t) => t.id,
        ),
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `/tickets?limit=25&sort=${sort}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await getJson<{ items: { id: string }[]; nextCursor: string | null }>(api(q));
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((t) => t.id));
        cursor = page.body.nextCursor;
        pages++;
        for (let i = 0; i < 10; i++) await file(i % 2 ? 'general' : 'emergency');
      } while (cursor && pages < 100);
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of before) expect(seen).toContain(id);
    });
});
