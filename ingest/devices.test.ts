import { describe, expect, it } from 'vitest';
import { type Device, DeviceRegistry, newDevice } from './devices.js';
import type { DeviceStore } from './store.js';

const noStore: DeviceStore = {
  loadAll: async () => [],
  saveMany: async () => undefined,
  changedSince: async () => ({ devices: [], cursor: 0 }),
};

const seen = (id: string, at: number, values: Device['lastValues']): Device => ({
  ...newDevice(id),
  lastSeenAt: at,
  firstSeenAt: 1,
  lastValues: values,
  connectivity: { state: 'online', since: at, reason: 'readings resumed' },
});

/** What another instance saved, merged into this one's registry (issue 20). */
describe('DeviceRegistry.merge', () => {
  it('adds unknown devices and takes newer last values, never older ones', () => {
    const r = new DeviceRegistry(noStore, [], []);
    const here = r.resolve('press-1');
    here.lastSeenAt = 5_000;
    here.lastValues = { temperature: { value: 70, ts: 5_000 }, rpm: { value: 900, ts: 4_000 } };
    const changed = r.merge([
      seen('press-2', 3_000, { temperature: { value: 60, ts: 3_000 } }),
      seen('press-1', 6_000, { rpm: { value: 1_200, ts: 6_000 }, temperature: { value: 10, ts: 2_000 } }),
    ]);
    expect(changed).toBe(2);
    expect(r.get('press-2')).toMatchObject({ lastSeenAt: 3_000, configured: false });
    expect(r.get('press-1')?.lastValues).toEqual({
      temperature: { value: 70, ts: 5_000 }, // ours was newer
      rpm: { value: 1_200, ts: 6_000 },
    });
    expect(r.get('press-1')?.connectivity.state).toBe('online');
    // An older copy changes nothing.
    expect(r.merge([seen('press-1', 1_000, { rpm: { value: 1, ts: 1_000 } })])).toBe(0);
    expect(r.get('press-1')?.lastValues.rpm?.value).toBe(1_200);
  });
});

describe('DeviceRegistry.observe: last values', () => {
  const reading = (ts: number, fields: Record<string, number | boolean | string>) => ({
    deviceId: 'pump-1',
    ts,
    receivedAt: ts,
    source: 'test',
    fields,
  });

  it('are updated in place while their type stays; a metric that changes type is replaced; older ones never win', () => {
    const r = new DeviceRegistry(noStore, [], []);
    const d = r.observe(reading(1_000, { temperature: 60.5, running: true }));
    const temperature = d.lastValues.temperature;
    r.observe(reading(2_000, { temperature: 61.25, running: false }));
    expect(d.lastValues.temperature).toBe(temperature); // the same object, written in place
    expect(d.lastValues).toEqual({
      temperature: { value: 61.25, ts: 2_000 },
      running: { value: false, ts: 2_000 },
    });
    // The metric now sends text (a sensor fault): the value and its time are right.
    r.observe(reading(3_000, { temperature: 'ERR' }));
    expect(d.lastValues.temperature).toEqual({ value: 'ERR', ts: 3_000 });
    r.observe(reading(2_500, { temperature: 10 })); // late: changes nothing
    r.observe(reading(4_000, { temperature: 62 }));
    expect(d.lastValues.temperature).toEqual({ value: 62, ts: 4_000 });
    // Saved and shown as plain { value, ts }.
    expect(JSON.parse(JSON.stringify(d.lastValues))).toEqual({
      temperature: { value: 62, ts: 4_000 },
      running: { value: false, ts: 2_000 },
    });
  });
});
