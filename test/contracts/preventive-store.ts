import { describe, expect, it } from 'vitest';
import type { PreventiveStore } from '../../tickets/store.js';
import { eachFresh, type MakeStore } from './index.js';

/** PreventiveStore: the last visit and the usage state per (schedule, device), replaced on save. */
export function preventiveStoreContract(name: string, make: MakeStore<PreventiveStore>) {
  describe(`PreventiveStore contract: ${name}`, () => {
    let store!: PreventiveStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('remembers the last visit per (schedule, device); a later save replaces it', async () => {
      expect(await store.lastVisit('lube', 'press-1')).toBeUndefined();
      await store.saveVisit('lube', 'press-1', 1_000, 'T-1');
      await store.saveVisit('lube', 'press-2', 2_000, null);
      await store.saveVisit('filter', 'press-1', 3_000, 'T-3');
      await store.saveVisit('lube', 'press-1', 4_000, 'T-4');
      expect(await store.lastVisit('lube', 'press-1')).toBe(4_000);
      expect(await store.lastVisit('lube', 'press-2')).toBe(2_000);
      expect(await store.lastVisit('filter', 'press-1')).toBe(3_000);
      expect(await store.lastVisit('filter', 'press-2')).toBeUndefined();
    });

    it('keeps one usage state per (schedule, device), fractional counters exact', async () => {
      expect(await store.usageStates()).toEqual([]);
      await store.saveUsage('bearing', 'm-1', {
        dueValue: 1_000,
        baseValue: 200.5,
        baseAt: 10,
        ticketId: null,
      });
      await store.saveUsage('bearing', 'm-2', { dueValue: 500, baseValue: 0, baseAt: 20, ticketId: null });
      await store.saveUsage('bearing', 'm-1', {
        dueValue: 2_000,
        baseValue: 1_001.25,
        baseAt: 30,
        ticketId: 'T-9',
      });
      const states = (await store.usageStates()).sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
      expect(states).toEqual([
        {
          scheduleId: 'bearing',
          deviceId: 'm-1',
          state: { dueValue: 2_000, baseValue: 1_001.25, baseAt: 30, ticketId: 'T-9' },
        },
        {
          scheduleId: 'bearing',
          deviceId: 'm-2',
          state: { dueValue: 500, baseValue: 0, baseAt: 20, ticketId: null },
        },
      ]);
    });
  });
}
