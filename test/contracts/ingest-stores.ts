import { describe, expect, it } from 'vitest';
import { newDevice } from '../../ingest/devices.js';
import type { DeadLetterStore, DeviceStore } from '../../ingest/store.js';
import { eachFresh, type MakeStore } from './index.js';

/** DeviceStore: identity, last seen, last values and connectivity survive a restart. */
export function deviceStoreContract(name: string, make: MakeStore<DeviceStore>) {
  describe(`DeviceStore contract: ${name}`, () => {
    let store!: DeviceStore;
    eachFresh(make, (s) => {
      store = s;
    });

    it('saves devices and loads them back as saved; a second save replaces the first', async () => {
      const d = newDevice('press-1', {
        name: 'Press 1',
        model: 'p-400',
        site: 'north',
        customer: 'acme',
        tags: { line: 'l2' },
      });
      d.firstSeenAt = 1_000;
      d.lastSeenAt = 2_000;
      d.lastValues = {
        temperature: { value: 71.5, ts: 1_999 },
        mode: { value: 'auto', ts: 1_999 },
        ok: { value: true, ts: 5 },
      };
      d.activeErrorCodes = ['E-1'];
      d.units = { temperature: '°C' };
      d.connectivity = { state: 'online', since: 1_000, reason: 'first reading' };
      const other = newDevice('press-2');
      await store.saveMany([d, other]);
      await store.saveMany([{ ...d, lastSeenAt: 3_000 }]);
      const loaded = (await store.loadAll()).sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(loaded).toHaveLength(2);
      expect(loaded[0]).toMatchObject({ ...d, lastSeenAt: 3_000, configured: expect.any(Boolean) });
      expect(loaded[1]).toMatchObject({ id: 'press-2', lastValues: {}, connectivity: { state: 'unknown' } });
    });

    it('tells which devices were saved since a cursor (those of the last 5 s before it again)', async () => {
      const first = await store.changedSince(null);
      expect(first.devices).toEqual([]);
      await store.saveMany([newDevice('press-1'), newDevice('press-2')]);
      const all = await store.changedSince(null);
      expect(all.devices.map((d) => d.id).sort()).toEqual(['press-1', 'press-2']);
      expect(all.cursor).toBeGreaterThanOrEqual(first.cursor);
      // Saved again: seen again (a later cursor, far from the late-commit window, sees only new saves).
      await store.saveMany([{ ...newDevice('press-2'), lastSeenAt: 9_000 }]);
      const again = await store.changedSince(all.cursor);
      expect(again.devices.map((d) => d.id)).toContain('press-2');
      expect((await store.changedSince(all.cursor + 60_000)).devices).toEqual([]);
    });
  });
}

/** DeadLetterStore: rejected input kept with its reason, newest first, bounded. */
export function deadLetterStoreContract(
  name: string,
  make: (maxEntries: number) => ReturnType<MakeStore<DeadLetterStore>>,
) {
  describe(`DeadLetterStore contract: ${name}`, () => {
    let store!: DeadLetterStore;
    eachFresh(
      () => make(10),
      (s) => {
        store = s;
      },
    );
    const letter = (i: number, deviceId: string | null = `d${i % 3}`) => ({
      at: 1_000 + i,
      source: 'mqtt-embedded',
      deviceId,
      origin: `devices/d${i}/telemetry`,
      reason: `bad ${i}`,
      payload: Buffer.from([0xff, i & 0xff]),
    });

    it('keeps the newest first, with payloads as bytes, per device when asked', async () => {
      for (let i = 0; i < 6; i++) await store.add(letter(i, i === 5 ? null : undefined));
      const all = await store.list(3);
      expect(all.map((d) => d.reason)).toEqual(['bad 5', 'bad 4', 'bad 3']);
      expect(all[0]).toMatchObject({
        deviceId: null,
        payload: Buffer.from([0xff, 5]),
        origin: 'devices/d5/telemetry',
      });
      expect(await store.count()).toBe(6);
      expect((await store.list(10, ['d1'])).map((d) => d.reason)).toEqual(['bad 4', 'bad 1']);
      expect(await store.count(['d1', 'd2'])).toBe(3);
      expect(await store.count([])).toBe(0);
    });

    it('is bounded: past maxEntries the oldest go (in steps), the newest stay', async () => {
      for (let i = 0; i < 300; i++) await store.add(letter(i));
      expect(await store.count()).toBeLessThanOrEqual(110);
      expect((await store.list(10)).map((d) => d.reason)).toEqual(
        Array.from({ length: 10 }, (_, k) => `bad ${299 - k}`),
      );
    });
  });
}
