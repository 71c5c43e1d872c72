import { describe, expect, it } from 'vitest';
import { silentLogger } from '../test/helpers.js';
import { type Alert, AlertTracker } from './alerts.js';
import type { AlertTransition } from './engine.js';
import type { AlertStore } from './store.js';

/**
 * A store whose writes take a while (a database across the network): what the tracker overlaps and
 * what it keeps in order. The seam is ours (rules/store.ts); the real stores pass
 * test/contracts/alert-store.ts.
 */
function slowStore(log: string[]): AlertStore {
  const rows = new Map<string, Alert>();
  return {
    get: async (id) => rows.get(id),
    upsert: async (a) => {
      log.push(`start ${a.id} ${a.state}`);
      await new Promise((r) => setTimeout(r, 20));
      rows.set(a.id, a);
      log.push(`end ${a.id} ${a.state}`);
    },
    history: async () => [],
    list: async () => ({ items: [...rows.values()], nextCursor: null }),
  };
}

const transition = (device: string, type: 'firing' | 'resolved', at: number) =>
  ({
    alertId: `hot@${device}`,
    rule: { id: 'hot', ticket: { priority: 'general', faultType: 'thermal' } },
    device: { id: device },
    event: { type, at, value: 95 },
  }) as unknown as AlertTransition;

describe('AlertTracker', () => {
  it('one chain by default: every transition after the one before', async () => {
    const log: string[] = [];
    const tracker = new AlertTracker(slowStore(log), silentLogger);
    tracker.handle(transition('a', 'firing', 1));
    tracker.handle(transition('b', 'firing', 2));
    await tracker.idle();
    expect(log).toEqual(['start hot@a firing', 'end hot@a firing', 'start hot@b firing', 'end hot@b firing']);
  });

  it('in parallel (PostgreSQL): different alerts overlap, one alert’s transitions stay in order, idle waits for all', async () => {
    const log: string[] = [];
    const tracker = new AlertTracker(slowStore(log), silentLogger);
    tracker.applyInParallel();
    const fired: string[] = [];
    tracker.onFiring((a) => void fired.push(a.id));
    tracker.handle(transition('a', 'firing', 1));
    tracker.handle(transition('b', 'firing', 2));
    tracker.handle(transition('a', 'resolved', 3));
    await tracker.idle();
    expect(log.slice(0, 2)).toEqual(['start hot@a firing', 'start hot@b firing']); // overlapping
    const a = log.filter((l) => l.includes('hot@a'));
    expect(a).toEqual([
      'start hot@a firing',
      'end hot@a firing',
      'start hot@a resolved',
      'end hot@a resolved',
    ]);
    expect(log).toHaveLength(6);
    expect(fired.sort()).toEqual(['hot@a', 'hot@b']);
  });
});
