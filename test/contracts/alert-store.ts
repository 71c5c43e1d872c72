import { describe, expect, it } from 'vitest';
import type { Alert, AlertHistoryEntry } from '../../rules/alerts.js';
import type { SeriesState } from '../../rules/evaluate.js';
import type { AlertStore, RuleStateStore, SavedSeries } from '../../rules/store.js';
import { eachFresh, type MakeStore } from './index.js';

const alert = (over: Partial<Alert> = {}): Alert => ({
  id: 'hot@d1',
  ruleId: 'hot',
  deviceId: 'd1',
  state: 'firing',
  priority: 'emergency',
  faultType: 'mechanical',
  value: 95.5,
  activeAt: 1_000,
  firedAt: 2_000,
  resolvedAt: null,
  fireCount: 1,
  flapping: false,
  silencedBy: null,
  updatedAt: 2_000,
  ...over,
});

const change = (at: number, event: AlertHistoryEntry['event'], value: AlertHistoryEntry['value'] = 1) => ({
  at,
  event,
  value,
  priority: 'emergency' as const,
  silencedBy: null,
});

/** AlertStore and RuleStateStore: alerts with their history, and the rule engine's saved series. */
export function alertStoreContract(name: string, make: MakeStore<AlertStore & RuleStateStore>) {
  describe(`AlertStore contract: ${name}`, () => {
    let store!: AlertStore & RuleStateStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('stores an alert and gives it back as stored; an unknown id is undefined', async () => {
      const a = alert({ value: 'jammed', silencedBy: 'S-1', flapping: true });
      await store.upsert(a);
      expect(await store.get(a.id)).toEqual(a);
      await store.upsert({ ...a, state: 'resolved', resolvedAt: 3_000, value: true, updatedAt: 3_000 });
      expect(await store.get(a.id)).toMatchObject({ state: 'resolved', resolvedAt: 3_000, value: true });
      expect(await store.get('nope@d1')).toBeUndefined();
    });

    it('keeps the changes as history, newest first; an upsert without a change adds none', async () => {
      await store.upsert(alert({ state: 'pending' }), change(1_000, 'pending', 91));
      await store.upsert(alert(), change(2_000, 'firing', 95.5));
      await store.upsert(alert({ fireCount: 1 }));
      await store.upsert(alert({ state: 'resolved' }), change(3_000, 'resolved', null));
      expect((await store.history('hot@d1', 10)).map((h) => `${h.event}@${h.at}:${h.value}`)).toEqual([
        'resolved@3000:null',
        'firing@2000:95.5',
        'pending@1000:91',
      ]);
      expect(await store.history('hot@d1', 1)).toHaveLength(1);
      expect(await store.history('other@d1', 10)).toEqual([]);
    });

    it('lists firing, then pending, resolved, inactive, newest first within each; filters; pages', async () => {
      const states: [string, Alert['state'], number][] = [
        ['a@d1', 'inactive', 10],
        ['b@d1', 'firing', 20],
        ['c@d2', 'pending', 30],
        ['d@d2', 'firing', 40],
        ['e@d3', 'resolved', 50],
      ];
      for (const [id, state, updatedAt] of states) {
        const [ruleId, deviceId] = id.split('@') as [string, string];
        await store.upsert(alert({ id, ruleId, deviceId, state, updatedAt }));
      }
      const ids = async (filter: object, limit = 50, cursor?: string) =>
        (await store.list(filter, limit, cursor)).items.map((a) => a.id);
      expect(await ids({})).toEqual(['d@d2', 'b@d1', 'c@d2', 'e@d3', 'a@d1']);
      expect(await ids({ state: ['firing', 'pending'] })).toEqual(['d@d2', 'b@d1', 'c@d2']);
      expect(await ids({ deviceId: 'd2' })).toEqual(['d@d2', 'c@d2']);
      expect(await ids({ deviceIn: ['d1', 'd3'] })).toEqual(['b@d1', 'e@d3', 'a@d1']);
      expect(await ids({ deviceIn: [] })).toEqual([]);
      expect(await ids({ ruleId: 'e' })).toEqual(['e@d3']);
      const first = await store.list({}, 2);
      expect(first.items.map((a) => a.id)).toEqual(['d@d2', 'b@d1']);
      const second = await store.list({}, 2, first.nextCursor ?? undefined);
      expect(second.items.map((a) => a.id)).toEqual(['c@d2', 'e@d3']);
      const third = await store.list({}, 2, second.nextCursor ?? undefined);
      expect(third).toEqual({ items: [expect.objectContaining({ id: 'a@d1' })], nextCursor: null });
    });

    it('saves rule series and loads them back; a null state deletes one', async () => {
      const state = { lastTs: 5, value: 1, samples: [1, 2, 3, 4] } as unknown as SeriesState;
      const saved: SavedSeries<SeriesState | null>[] = [
        { alertId: 'hot@d1', ruleId: 'hot', fingerprint: 'f1', deviceId: 'd1', state },
        { alertId: 'hot@d2', ruleId: 'hot', fingerprint: 'f1', deviceId: 'd2', state },
      ];
      await store.saveMany(saved);
      await store.saveMany([{ ...(saved[0] as SavedSeries<SeriesState>), fingerprint: 'f2' }]);
      await store.saveMany([{ ...(saved[1] as SavedSeries<SeriesState>), state: null }]);
      await store.saveMany([]);
      expect(await store.loadAll()).toEqual([
        { alertId: 'hot@d1', ruleId: 'hot', fingerprint: 'f2', deviceId: 'd1', state },
      ]);
    });

    it('loads the saved series of some devices only (a device taken over from another instance)', async () => {
      const state = { lastTs: 5, value: 1 } as unknown as SeriesState;
      const series = (ruleId: string, deviceId: string) => ({
        alertId: `${ruleId}@${deviceId}`,
        ruleId,
        fingerprint: 'f',
        deviceId,
        state,
      });
      await store.saveMany([
        series('hot', 'd1'),
        series('cold', 'd1'),
        series('hot', 'd2'),
        series('hot', 'd3'),
      ]);
      const ids = async (devices: string[]) =>
        (await store.loadDevices(devices)).map((s) => s.alertId).sort();
      expect(await ids(['d1', 'd3', 'nope'])).toEqual(['cold@d1', 'hot@d1', 'hot@d3']);
      expect(await ids([])).toEqual([]);
      expect(await ids(["d1' OR '1'='1"])).toEqual([]);
    });
  });
}
