import { describe, expect, it } from 'vitest';
import { DeviceModel, prng } from './model.js';

describe('simulated device model', () => {
  const model = () =>
    new DeviceModel(
      'd',
      {
        t: { base: 60, noise: 0.5, drift: 1, cycle: { amplitude: 2, periodMs: 60_000 } },
        on: { value: true },
      },
      prng(1),
    );

  it('healthy values stay near base within noise, drift and cycle', () => {
    const m = model();
    for (let at = 0; at < 120_000; at += 1_000) {
      const { fields, errorCodes } = m.sample(at);
      expect(Math.abs((fields.t as number) - 60)).toBeLessThanOrEqual(3.5);
      expect(fields.on).toBe(true);
      expect(errorCodes).toEqual([]);
    }
  });

  it('ramp climbs at its rate to its target; spike adds once; stuck freezes; drift grows', () => {
    const m = model();
    m.sample(0);
    m.inject({ kind: 'ramp', metric: 't', to: 98, perSecond: 2 }, 1_000);
    const at = (s: number) => m.sample(s * 1_000).fields.t as number;
    expect(at(1)).toBeLessThan(64);
    expect(at(11)).toBeGreaterThan(75);
    expect(at(40)).toBeGreaterThan(94);
    m.clear();
    m.inject({ kind: 'spike', metric: 't', magnitude: 40 }, 50_000, 1_000);
    expect(at(50)).toBeGreaterThan(95);
    expect(at(52)).toBeLessThan(80);
    m.inject({ kind: 'stuck', metric: 't' }, 60_000, 10_000);
    const frozen = at(60);
    expect([at(61), at(65), at(69)]).toEqual([frozen, frozen, frozen]);
    expect(at(71)).not.toBe(frozen);
    const d = model();
    d.inject({ kind: 'drift', metric: 't', perHour: 36 }, 0);
    expect(d.sample(3_600_000).fields.t as number).toBeGreaterThan(90);
  });

  it('error bursts and drop-outs end when their time is up', () => {
    const m = model();
    m.inject({ kind: 'errorBurst', codes: ['E-1', 'E-2'] }, 0, 5_000);
    m.inject({ kind: 'dropout', disconnect: false }, 10_000, 5_000);
    expect(m.sample(1_000).errorCodes).toEqual(['E-1', 'E-2']);
    expect(m.sample(6_000).errorCodes).toEqual([]);
    expect(m.silent(9_000)).toBeUndefined();
    expect(m.silent(12_000)).toBeDefined();
    expect(m.silent(16_000)).toBeUndefined();
  });
});
