import { beforeEach, describe, expect, it } from 'vitest';
import type { StockStore } from '../../parts/store.js';
import { eachFresh, type MakeStore } from './index.js';

const req = (part: string, quantity: number, ...locations: string[]) => ({ part, quantity, locations });

/** StockStore: counts that never go wrong, reservations all or nothing, every change a movement. */
export function stockStoreContract(name: string, make: MakeStore<StockStore>) {
  describe(`StockStore contract: ${name}`, () => {
    let store!: StockStore;
    eachFresh(make, (s) => {
      store = s;
    });
    beforeEach(async () => {
      await store.seed(
        [
          { part: 'S-7', location: 'central', quantity: 10 },
          { part: 'S-7', location: 'van', quantity: 1 },
          { part: 'B-1', location: 'north', quantity: 3 },
        ],
        100,
      );
    });

    it('seeds opening stock once per (part, location), each with a receipt', async () => {
      await store.receive('S-7', 'central', 5, 'ana', 'delivery', 200);
      await store.seed([{ part: 'S-7', location: 'central', quantity: 10 }], 300);
      expect(await store.level('S-7', 'central')).toEqual({
        part: 'S-7',
        location: 'central',
        onHand: 15,
        reserved: 0,
        available: 15,
      });
      const receipts = await store.movements({ kind: 'receipt' }, 10);
      expect(receipts.map((m) => [m.part, m.location, m.quantity, m.actor, m.at])).toEqual([
        ['S-7', 'central', 10, 'configuration', 100],
        ['S-7', 'van', 1, 'configuration', 100],
        ['B-1', 'north', 3, 'configuration', 100],
        ['S-7', 'central', 5, 'ana', 200],
      ]);
      expect(await store.level('X', 'nowhere')).toEqual({
        part: 'X',
        location: 'nowhere',
        onHand: 0,
        reserved: 0,
        available: 0,
      });
      expect((await store.levels()).map((l) => `${l.part}@${l.location}`)).toEqual([
        'B-1@north',
        'S-7@central',
        'S-7@van',
      ]);
      expect((await store.levels({ part: 'S-7', location: 'van' })).map((l) => l.onHand)).toEqual([1]);
      expect(await store.total('S-7')).toEqual({ onHand: 16, reserved: 0, available: 16 });
    });

    it('reserves all or nothing, each from the first location with enough available', async () => {
      const made = await store.reserve(
        'T-1',
        [req('S-7', 2, 'van', 'central'), req('B-1', 2, 'north')],
        'pia',
        500,
      );
      expect(made.map((r) => [r.ticketId, r.part, r.location, r.quantity, r.state, r.createdAt])).toEqual([
        ['T-1', 'S-7', 'central', 2, 'active', 500],
        ['T-1', 'B-1', 'north', 2, 'active', 500],
      ]);
      await expect(
        store.reserve('T-2', [req('B-1', 1, 'north'), req('S-7', 10, 'van', 'central')], 'pia', 600),
      ).rejects.toMatchObject({
        code: 'FL_ERR_STOCK_SHORT',
        details: ['10× S-7 (available: 8 at central, 1 at van)'],
      });
      expect(await store.reservations('T-2')).toEqual([]);
      expect(await store.level('B-1', 'north')).toMatchObject({ onHand: 3, reserved: 2, available: 1 });
      expect((await store.reservations()).map((r) => r.ticketId)).toEqual(['T-1', 'T-1']);
    });

    it('concurrent reservations of the same part never take more than there is', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          store.reserve(`T-${i}`, [req('S-7', 1, 'van', 'central')], 'pia', 1),
        ),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const short = results.filter(
        (r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'FL_ERR_STOCK_SHORT',
      );
      expect([ok.length, short.length]).toEqual([11, 19]);
      expect(await store.total('S-7')).toEqual({ onHand: 11, reserved: 11, available: 0 });
      expect(await store.reservations()).toHaveLength(11);
    });

    it('adjust() sets on hand but never below what is reserved', async () => {
      await store.reserve('T-1', [req('S-7', 3, 'central')], 'pia', 1);
      await expect(store.adjust('S-7', 'central', 2, 'ana', 'count', 2)).rejects.toMatchObject({
        code: 'FL_ERR_STOCK_SHORT',
      });
      expect(await store.adjust('S-7', 'central', 8, 'ana', 'stocktaking', 3)).toMatchObject({
        onHand: 8,
        reserved: 3,
        available: 5,
      });
      expect((await store.movements({ kind: 'adjustment' }, 5)).map((m) => m.quantity)).toEqual([-2]);
    });

    it('use() takes from the reservation, then from the locations; the rest is released; missing is reported', async () => {
      await store.reserve('T-1', [req('B-1', 2, 'north'), req('S-7', 1, 'van')], 'pia', 1);
      const r = await store.use('T-1', [req('B-1', 4, 'central', 'north'), req('S-7', 0.5, 'van')], 'ben', 2);
      expect(r).toEqual({
        used: [
          { part: 'B-1', quantity: 2, location: 'north' },
          { part: 'B-1', quantity: 1, location: 'north' },
          { part: 'S-7', quantity: 0.5, location: 'van' },
        ],
        missing: [{ part: 'B-1', quantity: 1 }],
      });
      expect(await store.level('B-1', 'north')).toMatchObject({ onHand: 0, reserved: 0 });
      expect(await store.level('S-7', 'van')).toMatchObject({ onHand: 0.5, reserved: 0, available: 0.5 });
      expect((await store.reservations('T-1')).map((x) => [x.state, x.closedAt])).toEqual([
        ['used', 2],
        ['used', 2],
      ]);
      expect(
        (await store.movements({ ticketId: 'T-1' }, 10)).map(
          (m) => `${m.kind} ${m.quantity} ${m.part}@${m.location}`,
        ),
      ).toEqual([
        'reserve 2 B-1@north',
        'reserve 1 S-7@van',
        'use -2 B-1@north',
        'use -1 B-1@north',
        'use -0.5 S-7@van',
        'release -0.5 S-7@van',
      ]);
      expect(await store.hasUsed('T-1')).toBe(true);
      expect(await store.hasUsed('T-2')).toBe(false);
    });

    it('release() gives back the active reservations (or only those named), once', async () => {
      const made = await store.reserve('T-1', [req('S-7', 2, 'central'), req('B-1', 1, 'north')], 'pia', 1);
      const first = await store.release('T-1', 'pia', 2, [made[1]?.id as number]);
      expect(first.map((r) => r.part)).toEqual(['B-1']);
      expect((await store.release('T-1', 'pia', 3)).map((r) => r.part)).toEqual(['S-7']);
      expect(await store.release('T-1', 'pia', 4)).toEqual([]);
      expect(await store.total('S-7')).toEqual({ onHand: 11, reserved: 0, available: 11 });
      expect((await store.reservations('T-1')).map((r) => r.state)).toEqual(['released', 'released']);
      expect(await store.reservations()).toEqual([]);
    });

    it('movements filter by part, location, ticket, kind and time, oldest first, limited', async () => {
      await store.receive('B-1', 'north', 1, 'ana', null, 1_000);
      await store.receive('B-1', 'north', 1, 'ana', null, 2_000);
      await store.receive('B-1', 'south', 1, 'ana', null, 3_000);
      const at = (f: Parameters<StockStore['movements']>[0], limit = 10) =>
        store.movements(f, limit).then((ms) => ms.map((m) => m.at));
      expect(await at({ part: 'B-1', location: 'north', kind: 'receipt', from: 1_000, to: 3_000 })).toEqual([
        1_000, 2_000,
      ]);
      expect(await at({ part: 'B-1' }, 2)).toEqual([100, 1_000]);
      expect(await at({ ticketId: 'none' })).toEqual([]);
    });

    it('keeps one fault → parts entry per (model, fault type)', async () => {
      await store.setFaultMap(
        { model: 'p-400', faultType: 'door', parts: [{ part: 'S-7', quantity: 1 }], by: 'ana' },
        1,
      );
      await store.setFaultMap(
        { model: 'a-1', faultType: 'belt', parts: [{ part: 'B-1', quantity: 2 }], by: 'ana' },
        2,
      );
      await store.setFaultMap({ model: 'p-400', faultType: 'door', parts: [], by: 'ben' }, 3);
      expect(await store.faultMap()).toEqual([
        { model: 'a-1', faultType: 'belt', parts: [{ part: 'B-1', quantity: 2 }], by: 'ana' },
        { model: 'p-400', faultType: 'door', parts: [], by: 'ben' },
      ]);
      expect(await store.clearFaultMap('p-400', 'door')).toBe(true);
      expect(await store.clearFaultMap('p-400', 'door')).toBe(false);
      expect((await store.faultMap()).map((e) => e.model)).toEqual(['a-1']);
    });
  });
}
