import { describe, expect, it } from 'vitest';
import type { NewSilence } from '../../rules/silences.js';
import type { SilenceStore } from '../../rules/store.js';
import { eachFresh, type MakeStore } from './index.js';

const window = (o: Partial<NewSilence> = {}): NewSilence => ({
  devices: ['press-*'],
  sites: ['north'],
  from: 10_000,
  to: 20_000,
  reason: 'overhaul',
  createdBy: 'dispatcher',
  ticketId: null,
  ...o,
});

/** SilenceStore: maintenance windows as made, moved and ended; which are current at a time. */
export function silenceStoreContract(name: string, make: MakeStore<SilenceStore>) {
  describe(`SilenceStore contract: ${name}`, () => {
    let store!: SilenceStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('stores a window as given, with an increasing S- id and its making time; get() reads it back', async () => {
      const a = await store.create(window({ ticketId: 'T-4' }), 5_000);
      const b = await store.create(window({ devices: [], sites: ['south'] }), 6_000);
      expect(a).toEqual({ ...window({ ticketId: 'T-4' }), id: a.id, createdAt: 5_000, endedAt: null });
      expect(a.id).toMatch(/^S-\d+$/);
      expect(Number(b.id.slice(2))).toBeGreaterThan(Number(a.id.slice(2)));
      expect(await store.get(a.id)).toEqual(a);
      expect(await store.get(b.id)).toMatchObject({ devices: [], sites: ['south'] });
    });

    it('unknown and malformed ids are undefined, never an error', async () => {
      await store.create(window(), 1);
      for (const id of ['S-999999', 'S-', 'S-1x', 'maintenance:x', "S-1' OR 1=1", 'S-99999999999999999999'])
        expect(await store.get(id)).toBeUndefined();
      expect(await store.move('S-999999', 1, 2)).toBeUndefined();
      expect(await store.end('nope', 1)).toBeUndefined();
    });

    it('move() sets from and to; end() keeps the first end', async () => {
      const a = await store.create(window(), 1);
      expect(await store.move(a.id, 50_000, 60_000)).toMatchObject({
        from: 50_000,
        to: 60_000,
        endedAt: null,
      });
      expect(await store.end(a.id, 55_000)).toMatchObject({ endedAt: 55_000 });
      expect(await store.end(a.id, 57_000)).toMatchObject({ endedAt: 55_000 });
    });

    it('current(at): windows not over at `at`, oldest first; ended and cancelled ones are left out', async () => {
      const past = await store.create(window({ from: 1_000, to: 2_000 }), 1);
      const active = await store.create(window({ from: 1_000, to: 30_000 }), 2);
      const planned = await store.create(window({ from: 40_000, to: 50_000 }), 3);
      const endedEarly = await store.create(window({ from: 1_000, to: 30_000 }), 4);
      const endsLater = await store.create(window({ from: 1_000, to: 30_000 }), 5);
      const cancelled = await store.create(window({ from: 40_000, to: 50_000 }), 6);
      await store.end(endedEarly.id, 9_000);
      await store.end(endsLater.id, 25_000);
      await store.end(cancelled.id, 11_000);
      const ids = (await store.current(10_000)).map((s) => s.id);
      expect(ids).toEqual([active.id, planned.id, endsLater.id]);
      expect(ids).not.toContain(past.id);
      expect((await store.current(30_000)).map((s) => s.id)).toEqual([planned.id]);
    });

    it('recent(limit): the newest stored windows first, over or not', async () => {
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await store.create(window({ from: i, to: i + 1 }), i));
      await store.end(made[4]?.id as string, 10);
      expect((await store.recent(3)).map((s) => s.id)).toEqual([made[4], made[3], made[2]].map((s) => s?.id));
    });
  });
}
