import { describe, expect, it } from 'vitest';
import type { NewEvent, Webhook } from '../../notify/outbox.js';
import type { OutboxStore } from '../../notify/store.js';
import { eachFresh, type MakeStore } from './index.js';

const event = (subject: string, at = 1_000): NewEvent => ({
  type: 'ticket.created',
  at,
  subject,
  site: 'north',
  customer: 'acme',
  data: { id: subject, nested: { n: 1.5, list: ['a'] }, none: null },
});

const hook = (id: string, o: Partial<Webhook> = {}): Webhook => ({
  id,
  url: `https://${id}.example/hook`,
  types: ['ticket.*'],
  secret: 'whsec_c2VjcmV0',
  description: `hook ${id}`,
  active: true,
  createdAt: 10,
  ...o,
});

/** OutboxStore: events in order with their deliveries and e-mails; per-webhook order; dead lists. */
export function outboxStoreContract(name: string, make: MakeStore<OutboxStore>) {
  describe(`OutboxStore contract: ${name}`, () => {
    let store!: OutboxStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('stores events in order with increasing seq; reads them back as stored', async () => {
      expect(await store.lastSeq()).toBe(0);
      const a = await store.append(event('T-1'), [], [], 1_000);
      const b = await store.append(event('T-2'), [], [], 1_001);
      expect(b.seq).toBeGreaterThan(a.seq);
      expect(a).toEqual({ ...event('T-1'), seq: a.seq });
      expect(await store.event(a.seq)).toEqual(a);
      expect(await store.event(b.seq + 100)).toBeUndefined();
      expect(await store.since(0, 10)).toEqual([a, b]);
      expect(await store.since(a.seq, 10)).toEqual([b]);
      expect(await store.since(0, 1)).toEqual([a]);
      expect(await store.lastSeq()).toBe(b.seq);
    });

    it('a reader following since() sees every event of concurrent appends, in seq order, none skipped', async () => {
      const seen: number[] = [];
      let last = 0;
      const read = async () => {
        for (const e of await store.since(last, 1_000)) {
          seen.push(e.seq);
          last = e.seq;
        }
      };
      let done = false;
      const reader = (async () => {
        while (!done) {
          await read();
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const appended = await Promise.all(
        Array.from({ length: 60 }, (_, i) => store.append(event(`T-${i}`), [], [], 1_000 + i)),
      );
      done = true;
      await reader;
      await read();
      expect(seen).toEqual(appended.map((a) => a.seq).sort((a, b) => a - b));
    });

    it('writes one pending delivery per webhook and the e-mails with the event', async () => {
      await store.insertWebhook(hook('W-a'));
      await store.insertWebhook(hook('W-b', { types: ['*.*'], active: false, createdAt: 5 }));
      expect((await store.webhooks()).map((w) => w.id)).toEqual(['W-b', 'W-a']);
      expect(await store.webhook('W-a')).toEqual(hook('W-a'));
      const e = await store.append(
        event('T-1'),
        ['W-a', 'W-b'],
        [{ to: 'ops@acme.example', subject: 'S', text: 'T' }],
        2_000,
      );
      expect(await store.delivery(`msg_${e.seq}_W-a`)).toEqual({
        id: `msg_${e.seq}_W-a`,
        webhookId: 'W-a',
        eventSeq: e.seq,
        state: 'pending',
        attempts: 0,
        nextAt: 2_000,
        lastStatus: null,
        lastError: null,
        createdAt: 2_000,
        deliveredAt: null,
      });
      expect(await store.mail(`mail_${e.seq}_1`)).toMatchObject({
        eventSeq: e.seq,
        to: 'ops@acme.example',
        subject: 'S',
        text: 'T',
        state: 'pending',
        nextAt: 2_000,
      });
      expect(await store.counts()).toEqual({ pending: 2, delivered: 0, dead: 0 });
    });

    it('due(): per active webhook its earliest pending delivery, when due; nextDueAt() the earliest of those', async () => {
      await store.insertWebhook(hook('W-a'));
      await store.insertWebhook(hook('W-b'));
      await store.insertWebhook(hook('W-off', { active: false }));
      const e1 = await store.append(event('T-1'), ['W-a', 'W-off'], [], 1_000);
      const e2 = await store.append(event('T-2'), ['W-a', 'W-b'], [], 1_500);
      expect((await store.due(1_000)).map((d) => d.id)).toEqual([`msg_${e1.seq}_W-a`]);
      expect((await store.due(2_000)).map((d) => d.id).sort()).toEqual([
        `msg_${e1.seq}_W-a`,
        `msg_${e2.seq}_W-b`,
      ]);
      expect(await store.nextDueAt()).toBe(1_000);
      await store.failed(`msg_${e1.seq}_W-a`, 503, 'HTTP 503', 5_000);
      // W-a's first delivery waits for its retry: its second does not overtake it.
      expect((await store.due(2_000)).map((d) => d.id)).toEqual([`msg_${e2.seq}_W-b`]);
      expect(await store.delivery(`msg_${e1.seq}_W-a`)).toMatchObject({
        attempts: 1,
        lastStatus: 503,
        lastError: 'HTTP 503',
        nextAt: 5_000,
        state: 'pending',
      });
      await store.delivered(`msg_${e2.seq}_W-b`, 200, 2_100);
      expect(await store.nextDueAt()).toBe(5_000);
      await store.delivered(`msg_${e1.seq}_W-a`, 204, 5_100);
      expect((await store.due(10_000)).map((d) => d.id)).toEqual([`msg_${e2.seq}_W-a`]);
      expect(await store.delivery(`msg_${e1.seq}_W-a`)).toMatchObject({
        state: 'delivered',
        attempts: 2,
        deliveredAt: 5_100,
      });
      expect(await store.setActive('W-off', true)).toMatchObject({ active: true });
      expect(await store.nextDueAt()).toBe(1_000); // W-off's delivery of e1 is waiting
    });

    it('a dead delivery stays dead until retried; retry() of a pending one changes nothing', async () => {
      await store.insertWebhook(hook('W-a'));
      const e = await store.append(event('T-1'), ['W-a'], [], 1_000);
      const id = `msg_${e.seq}_W-a`;
      await store.failed(id, null, 'x'.repeat(2_000), null);
      const dead = await store.delivery(id);
      expect(dead).toMatchObject({ state: 'dead', attempts: 1, lastStatus: null });
      expect(dead?.lastError?.length).toBeLessThanOrEqual(500);
      await store.failed(id, 500, 'late', 9_000); // no longer pending: ignored
      expect(await store.delivery(id)).toMatchObject({ state: 'dead', attempts: 1 });
      expect(await store.due(100_000)).toEqual([]);
      expect(await store.retry(id, 20_000)).toMatchObject({ state: 'pending', nextAt: 20_000 });
      expect(await store.retry(id, 30_000)).toMatchObject({ state: 'pending', nextAt: 20_000 });
      expect(await store.retry('msg_0_W-x', 1)).toBeUndefined();
    });

    it("pages a webhook's deliveries newest first with a stable cursor, optionally in one state", async () => {
      await store.insertWebhook(hook('W-a'));
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push((await store.append(event(`T-${i}`), ['W-a'], [], 1_000)).seq);
      await store.delivered(`msg_${seqs[1]}_W-a`, 200, 2_000);
      const first = await store.deliveries('W-a', undefined, 2);
      expect(first.items.map((d) => d.eventSeq)).toEqual([seqs[4], seqs[3]]);
      await store.append(event('T-new'), ['W-a'], [], 3_000); // arrives meanwhile: not in the next page
      const second = await store.deliveries('W-a', undefined, 2, first.nextCursor as string);
      expect(second.items.map((d) => d.eventSeq)).toEqual([seqs[2], seqs[1]]);
      const last = await store.deliveries('W-a', undefined, 2, second.nextCursor as string);
      expect(last.items.map((d) => d.eventSeq)).toEqual([seqs[0]]);
      expect(last.nextCursor).toBeNull();
      expect((await store.deliveries('W-a', 'delivered', 10)).items.map((d) => d.eventSeq)).toEqual([
        seqs[1],
      ]);
      expect((await store.deliveries('W-x', undefined, 10)).items).toEqual([]);
    });

    it('deleting a webhook deletes its deliveries; prune() keeps events a pending delivery needs', async () => {
      await store.insertWebhook(hook('W-a'));
      await store.insertWebhook(hook('W-b'));
      const old = await store.append(event('T-old', 100), ['W-a'], [], 100);
      const kept = await store.append(event('T-kept', 100), ['W-b'], [], 100);
      await store.append(event('T-new', 5_000), [], [], 5_000);
      expect(await store.deleteWebhook('W-a')).toBe(true);
      expect(await store.deleteWebhook('W-a')).toBe(false);
      expect(await store.delivery(`msg_${old.seq}_W-a`)).toBeUndefined();
      expect(await store.prune(1_000)).toBe(1);
      expect((await store.since(0, 10)).map((e) => e.subject)).toEqual(['T-kept', 'T-new']);
      await store.delivered(`msg_${kept.seq}_W-b`, 200, 6_000);
      expect(await store.prune(1_000)).toBe(1);
    });

    it('e-mails: due ones earliest first, sent or retried, dead until retried, paged newest first', async () => {
      const e1 = await store.append(event('T-1'), [], [{ to: 'a@x.example', subject: '1', text: '' }], 1_000);
      const e2 = await store.append(
        event('T-2'),
        [],
        [
          { to: 'b@x.example', subject: '2', text: '' },
          { to: 'c@x.example', subject: '3', text: '' },
        ],
        500,
      );
      expect((await store.dueMails(1_000, 10)).map((m) => m.id)).toEqual([
        `mail_${e2.seq}_1`,
        `mail_${e2.seq}_2`,
        `mail_${e1.seq}_1`,
      ]);
      expect((await store.dueMails(1_000, 1)).map((m) => m.id)).toEqual([`mail_${e2.seq}_1`]);
      expect(await store.nextMailAt()).toBe(500);
      await store.mailSent(`mail_${e2.seq}_1`, 600);
      await store.mailFailed(`mail_${e2.seq}_2`, 'refused', 4_000);
      await store.mailFailed(`mail_${e1.seq}_1`, 'no such user', null);
      expect(await store.mail(`mail_${e2.seq}_1`)).toMatchObject({
        state: 'delivered',
        attempts: 1,
        sentAt: 600,
      });
      expect(await store.mail(`mail_${e2.seq}_2`)).toMatchObject({
        state: 'pending',
        attempts: 1,
        nextAt: 4_000,
      });
      expect(await store.nextMailAt()).toBe(4_000);
      expect((await store.mails('dead', 10)).items.map((m) => m.id)).toEqual([`mail_${e1.seq}_1`]);
      expect(await store.retryMail(`mail_${e1.seq}_1`, 7_000)).toMatchObject({
        state: 'pending',
        nextAt: 7_000,
      });
      const page = await store.mails(undefined, 2);
      expect(page.items.map((m) => m.id)).toEqual([`mail_${e2.seq}_2`, `mail_${e2.seq}_1`]);
      expect((await store.mails(undefined, 2, page.nextCursor as string)).items.map((m) => m.id)).toEqual([
        `mail_${e1.seq}_1`,
      ]);
      expect(await store.mail('mail_0_9')).toBeUndefined();
    });
  });
}
