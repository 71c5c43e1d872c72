import { describe, expect, it } from 'vitest';
import { partSchema } from './config.js';
import { deviceMonths, faultParts, forecast, type History, MONTH_MS, reorder } from './forecast.js';

const FROM = Date.parse('2026-05-01T00:00:00Z');
const TO = FROM + 6 * MONTH_MS;
const at = (months: number) => FROM + months * MONTH_MS;
const used = (...p: [string, number][]) => p.map(([part, quantity]) => ({ part, quantity }));

/**
 * Worked by hand. Press A: two presses the whole window (12 device-months), a third installed at its
 * end (0). Mill B: one, installed half way (3 device-months).
 * A/mechanical: 6 tickets (rate 6/12 = 0.5 per device-month); 4 have reports: S-7 ×1 in three,
 *   B-120 ×2 in one → per repair 0.75 S-7, 0.5 B-120.
 * B/electrical: 3 tickets (rate 3/3 = 1), all reported: S-7 ×2 in one → 2/3 S-7 per repair.
 * Over 2 months with 3 presses and 1 mill installed:
 *   S-7 = 0.5 × 3 × 2 × 0.75 + 1 × 1 × 2 × 2/3 = 2.25 + 1.3333 = 3.5833; B-120 = 0.5 × 3 × 2 × 0.5 = 1.5.
 */
const HISTORY: History = {
  from: FROM,
  to: TO,
  devices: [
    { model: 'A', since: null },
    { model: 'A', since: FROM - 10 * MONTH_MS },
    { model: 'A', since: TO },
    { model: 'B', since: at(3) },
  ],
  tickets: [
    { model: 'A', faultType: 'mechanical', reportedAt: at(0.5), partsUsed: used(['S-7', 1]) },
    { model: 'A', faultType: 'mechanical', reportedAt: at(1), partsUsed: used(['S-7', 1]) },
    { model: 'A', faultType: 'mechanical', reportedAt: at(2), partsUsed: used(['S-7', 1]) },
    { model: 'A', faultType: 'mechanical', reportedAt: at(3), partsUsed: used(['B-120', 2]) },
    { model: 'A', faultType: 'mechanical', reportedAt: at(4), partsUsed: null },
    { model: 'A', faultType: 'mechanical', reportedAt: at(5), partsUsed: null },
    { model: 'B', faultType: 'electrical', reportedAt: at(3.5), partsUsed: used(['S-7', 2]) },
    { model: 'B', faultType: 'electrical', reportedAt: at(4.5), partsUsed: [] },
    { model: 'B', faultType: 'electrical', reportedAt: at(5.5), partsUsed: [] },
    // Outside the window: not counted.
    { model: 'A', faultType: 'mechanical', reportedAt: at(-1), partsUsed: used(['S-7', 9]) },
  ],
};
const INSTALLED = new Map([
  ['A', 3],
  ['B', 1],
]);

describe('parts demand forecast', () => {
  it('device-months, the fault → parts map and its rates, as worked out by hand', () => {
    const dm = deviceMonths(HISTORY);
    expect(dm.get('A')).toBeCloseTo(12, 9);
    expect(dm.get('B')).toBeCloseTo(3, 9);
    const map = faultParts(HISTORY);
    expect(map.map((f) => [f.model, f.faultType, f.tickets, f.repairs])).toEqual([
      ['A', 'mechanical', 6, 4],
      ['B', 'electrical', 3, 3],
    ]);
    expect(map[0]?.rate).toBeCloseTo(0.5, 9);
    expect(map[0]?.parts).toEqual([
      { part: 'S-7', share: 0.75, meanQuantity: 0.75, source: 'reports' },
      { part: 'B-120', share: 0.25, meanQuantity: 0.5, source: 'reports' },
    ]);
    expect(map[1]?.rate).toBeCloseTo(1, 9);
    expect(map[1]?.parts[0]?.meanQuantity).toBeCloseTo(2 / 3, 9);
  });

  it('forecasts consumption over a horizon from rates, the installed base and the parts per repair', () => {
    const f = forecast(HISTORY, INSTALLED, 2 * MONTH_MS);
    expect(f.map((x) => x.part)).toEqual(['S-7', 'B-120']);
    expect(f[0]?.quantity).toBeCloseTo(3.5833333, 6);
    expect(f[0]?.sources.map((s) => [s.model, Number(s.quantity.toFixed(4))])).toEqual([
      ['A', 2.25],
      ['B', 1.3333],
    ]);
    expect(f[1]?.quantity).toBeCloseTo(1.5, 9);
    // A configured map replaces what the reports say for its (model, fault type).
    const edited = forecast(
      { ...HISTORY, overrides: [{ model: 'B', faultType: 'electrical', parts: used(['F-9', 1]) }] },
      INSTALLED,
      2 * MONTH_MS,
    );
    expect(edited.map((x) => [x.part, Number(x.quantity.toFixed(4))])).toEqual([
      ['S-7', 2.25],
      ['F-9', 2],
      ['B-120', 1.5],
    ]);
  });

  it('suggests reordering where the stock would fall below the minimum before a delivery could arrive', () => {
    const now = TO;
    const demand = (part: string, ms: number) =>
      forecast(HISTORY, INSTALLED, ms).find((x) => x.part === part)?.quantity ?? 0;
    const part = (leadTime: string) =>
      partSchema.parse({
        number: 'S-7',
        name: 's',
        category: 'e',
        minimum: 2,
        suppliers: [{ id: 'acme', leadTime }],
      });
    // 5 available. Delivered in a month: 1.79 used meanwhile, 3.21 left ≥ 2 — no order yet.
    const month = `${Math.round(MONTH_MS / 3_600_000)}h`;
    expect(reorder([part(month)], () => 5, demand, now)).toEqual([]);
    // Delivered in two months: 3.58 used meanwhile, 1.42 left < 2 — order 1 now.
    const twoMonths = `${Math.round((2 * MONTH_MS) / 3_600_000)}h`;
    const [s] = reorder([part(twoMonths)], () => 5, demand, now);
    expect(s).toMatchObject({ part: 'S-7', available: 5, minimum: 2, orderQuantity: 1 });
    expect(s?.demandDuringLeadTime).toBeCloseTo(3.5833, 3);
    expect(s?.supplier?.id).toBe('acme');
    expect(s?.expectedArrivalAt).toBe(now + Math.round((2 * MONTH_MS) / 3_600_000) * 3_600_000);
  });
});
