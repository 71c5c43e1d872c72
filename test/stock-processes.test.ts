import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../lib/sqlite.js';
import { partsSchema } from '../parts/config.js';
import { SqliteStockStore } from '../parts/sqlite-stock-store.js';
import { PartsStock } from '../parts/stock.js';
import { distUrl, runScript, tempDir } from './helpers.js';

/** Four gateway processes (or API workers) reserving the same part at once: never more than there is. */
const CONFIG = {
  locations: [{ id: 'central', kind: 'store' }],
  catalogue: [{ number: 'S-7', name: 'Interlock switch', category: 'electrical' }],
  stock: [{ part: 'S-7', location: 'central', quantity: 10 }],
};

const WORKER = `
const [stockUrl, storeUrl, configUrl, sqliteUrl, file, startAt, name, config] = process.argv.slice(1);
const { PartsStock } = await import(stockUrl);
const { SqliteStockStore } = await import(storeUrl);
const { partsSchema } = await import(configUrl);
const { openDatabase } = await import(sqliteUrl);
const db = openDatabase(file);
const stock = new PartsStock(new SqliteStockStore(db), partsSchema.parse(JSON.parse(config)));
while (Date.now() < Number(startAt)) {}
let ok = 0, short = 0;
for (let i = 0; i < 20; i++) {
  try {
    await stock.reserve(name + '-' + i, [{ part: 'S-7', quantity: 1 }], { site: null, technicians: [], team: null }, name);
    ok++;
  } catch (err) {
    if (err.code !== 'FL_ERR_STOCK_SHORT') throw err;
    short++;
  }
}
db.close();
process.stdout.write(JSON.stringify({ ok, short }));
`;

function worker(file: string, startAt: number, name: string): Promise<{ ok: number; short: number }> {
  return runScript(WORKER, [
    distUrl('parts/stock.js'),
    distUrl('parts/sqlite-stock-store.js'),
    distUrl('parts/config.js'),
    distUrl('lib/sqlite.js'),
    file,
    String(startAt),
    name,
    JSON.stringify(CONFIG),
  ]);
}

describe('stock under concurrent reservations (four processes)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('80 reservations of a part with 10 in stock: exactly 10 succeed, nothing goes negative', async () => {
    const file = join(tmp.dir, 'state.db');
    const init = openDatabase(file);
    await new PartsStock(new SqliteStockStore(init), partsSchema.parse(CONFIG)).start();
    init.close();
    const startAt = Date.now() + 1_500;
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((n) => worker(file, startAt, n)));
    expect(results.reduce((s, r) => s + r.ok, 0)).toBe(10);
    expect(results.reduce((s, r) => s + r.short, 0)).toBe(70);
    const db = openDatabase(file);
    const stock = new PartsStock(new SqliteStockStore(db), partsSchema.parse(CONFIG));
    expect(await stock.level('S-7', 'central')).toEqual({
      part: 'S-7',
      location: 'central',
      onHand: 10,
      reserved: 10,
      available: 0,
    });
    expect((await stock.reservations()).length).toBe(10);
    db.close();
  }, 30_000);
});
