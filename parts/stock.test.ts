import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../lib/sqlite.js';
import { tempDir } from '../test/helpers.js';
import { partsSchema } from './config.js';
import { SqliteStockStore } from './sqlite-stock-store.js';
import { PartsStock } from './stock.js';

const PARTS = partsSchema.parse({
  locations: [
    { id: 'central', kind: 'store' },
    { id: 'north-store', kind: 'store', sites: ['north'] },
    { id: 'van-ben', kind: 'van', technician: 'ben' },
  ],
  catalogue: [
    {
      number: 'S-7',
      name: 'Interlock switch',
      category: 'electrical',
      critical: true,
      suppliers: [{ id: 'acme', leadTime: '5d' }],
    },
    { number: 'B-120', name: 'Drive belt', category: 'mechanical' },
  ],
  stock: [
    { part: 'S-7', location: 'central', quantity: 10 },
    { part: 'S-7', location: 'van-ben', quantity: 1 },
    { part: 'B-120', location: 'north-store', quantity: 3 },
  ],
});

async function stockIn(db: ReturnType<typeof openDatabase>): Promise<PartsStock> {
  const stock = new PartsStock(new SqliteStockStore(db), PARTS);
  await stock.start();
  return stock;
}

describe('spare parts stock', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const near = { site: 'north', technicians: ['ben'], team: null };

  it('a ticket reserves from the nearest stock, uses what the repair took, and the rest is released', async () => {
    const db = openDatabase(join(tmp.dir, 'walk.db'));
    const stock = await stockIn(db);
    // Ben's van first (1 there), then the store near the site, then central.
    const r = await stock.reserve(
      'T-1',
      [
        { part: 'S-7', quantity: 1 },
        { part: 'B-120', quantity: 2 },
        { part: 'glue', quantity: 1 },
      ],
      near,
      'pia',
    );
    expect(r.map((x) => `${x.quantity}× ${x.part}@${x.location}`)).toEqual([
      '1× S-7@van-ben',
      '2× B-120@north-store',
    ]);
    expect(await stock.level('B-120', 'north-store')).toMatchObject({ onHand: 3, reserved: 2, available: 1 });
    // The repair used one belt (not two) and the switch.
    await stock.use(
      'T-1',
      [
        { part: 'S-7', quantity: 1 },
        { part: 'B-120', quantity: 1 },
      ],
      near,
      'ben',
    );
    expect(await stock.level('S-7', 'van-ben')).toMatchObject({ onHand: 0, reserved: 0 });
    expect(await stock.level('B-120', 'north-store')).toMatchObject({ onHand: 2, reserved: 0, available: 2 });
    expect((await stock.reservations('T-1')).map((x) => x.state)).toEqual(['used', 'used']);
    expect(
      (await stock.movements({ ticketId: 'T-1' })).map(
        (m) => `${m.kind} ${m.quantity} ${m.part}@${m.location}`,
      ),
    ).toEqual([
      'reserve 1 S-7@van-ben',
      'reserve 2 B-120@north-store',
      'use -1 S-7@van-ben',
      'use -1 B-120@north-store',
      'release -1 B-120@north-store',
    ]);
    // More used than reserved: taken from the nearest stock; beyond the records, reported, not negative.
    const more = await stock.use('T-9', [{ part: 'B-120', quantity: 5 }], near, 'ben');
    expect(more).toEqual({
      used: [{ part: 'B-120', quantity: 2, location: 'north-store' }],
      missing: [{ part: 'B-120', quantity: 3 }],
    });
    expect((await stock.level('B-120', 'north-store')).onHand).toBe(0);
    expect(await stock.hasUsed('T-9')).toBe(true);
    // A cancelled ticket gives its reservation back.
    await stock.reserve('T-2', [{ part: 'S-7', quantity: 4 }], near, 'pia');
    expect(await stock.total('S-7')).toEqual({ onHand: 10, reserved: 4, available: 6 });
    await stock.release('T-2', 'pia');
    expect(await stock.total('S-7')).toEqual({ onHand: 10, reserved: 0, available: 10 });
    expect((await stock.reservations('T-2'))[0]?.state).toBe('released');
    db.close();
  });

  it('all or nothing: a shortage reserves nothing and says where the part is', async () => {
    const db = openDatabase(join(tmp.dir, 'short.db'));
    const stock = await stockIn(db);
    await expect(
      stock.reserve(
        'T-3',
        [
          { part: 'B-120', quantity: 1 },
          { part: 'S-7', quantity: 11 },
        ],
        near,
        'pia',
      ),
    ).rejects.toThrow('not enough in stock for ticket T-3: 11× S-7 (available: 10 at central, 1 at van-ben)');
    expect((await stock.total('B-120')).reserved).toBe(0);
    await expect(stock.adjust('S-7', 'central', -1, 'x', 'typo')).rejects.toThrow();
    await stock.reserve('T-4', [{ part: 'S-7', quantity: 3, from: 'central' }], near, 'pia');
    await expect(stock.adjust('S-7', 'central', 2, 'ana', 'count')).rejects.toThrow(
      '3 are reserved; on hand cannot be 2',
    );
    expect(await stock.adjust('S-7', 'central', 8, 'ana', 'stocktaking')).toMatchObject({
      onHand: 8,
      reserved: 3,
    });
    db.close();
  });

  it('opening stock is applied once, not again after a restart', async () => {
    const file = join(tmp.dir, 'opening.db');
    const a = openDatabase(file);
    await (await stockIn(a)).receive('S-7', 'central', 5, 'ana', 'delivery 42');
    a.close();
    const b = openDatabase(file);
    expect((await (await stockIn(b)).level('S-7', 'central')).onHand).toBe(15);
    b.close();
  });
});
