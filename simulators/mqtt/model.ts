/** Seeded PRNG (mulberry32): repeatable noise without a dependency. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How one metric behaves when nothing is wrong. */
export type MetricSpec =
  | {
      base: number;
      /** ± uniform noise on every reading. */
      noise?: number;
      /** Random walk around base, at most this far from it. */
      drift?: number;
      /** A sine on top: amplitude and period in ms (a machine cycle, a day). */
      cycle?: { amplitude: number; periodMs: number };
      decimals?: number;
    }
  | { value: boolean | string }
  /** A state machine: one state after the other, each held `everyMs` (RUNNING, IDLE, SETUP, …). */
  | { states: (string | number)[]; everyMs: number };

/** Something wrong with a device, from `startAt` for `durationMs` (undefined = until cleared). */
export type Fault =
  | { kind: 'ramp'; metric: string; to: number; perSecond: number }
  | { kind: 'spike'; metric: string; magnitude: number }
  | { kind: 'stuck'; metric: string }
  | { kind: 'drift'; metric: string; perHour: number }
  | { kind: 'errorBurst'; codes: string[] }
  | { kind: 'dropout'; disconnect: boolean };

export interface ActiveFault {
  fault: Fault;
  startAt: number;
  endAt: number | undefined;
}

interface MetricState {
  walk: number;
  /** Offset a ramp has built up. */
  ramp: number;
  last: number | boolean | string | undefined;
}

/**
 * One simulated device's values: healthy behaviour from its metric specs, with faults on top.
 * Pure apart from the random source and the times passed in, so tests can step it.
 */
export class DeviceModel {
  private readonly state = new Map<string, MetricState>();
  private faults: ActiveFault[] = [];
  private lastAt: number | undefined;

  constructor(
    readonly id: string,
    private readonly metrics: Record<string, MetricSpec>,
    private readonly random: () => number,
  ) {}

  inject(fault: Fault, at: number, durationMs?: number): void {
    // A new fault of the same kind on the same metric replaces the old one.
    this.faults = this.faults.filter(
      (f) => !(f.fault.kind === fault.kind && metricOf(f.fault) === metricOf(fault)),
    );
    this.faults.push({ fault, startAt: at, endAt: durationMs === undefined ? undefined : at + durationMs });
  }

  clear(): void {
    this.faults = [];
    for (const s of this.state.values()) s.ramp = 0;
  }

  active(at: number): Fault[] {
    this.faults = this.faults.filter((f) => f.endAt === undefined || at < f.endAt);
    return this.faults.filter((f) => at >= f.startAt).map((f) => f.fault);
  }

  /** Whether the device is silent now (a drop-out). */
  silent(at: number): Fault | undefined {
    return this.active(at).find((f) => f.kind === 'dropout');
  }

  /** The reading at `at`: metric → value, and the error codes active. */
  sample(at: number): { fields: Record<string, number | boolean | string>; errorCodes: string[] } {
    const dt = this.lastAt === undefined ? 0 : (at - this.lastAt) / 1000;
    this.lastAt = at;
    const faults = this.active(at);
    const fields: Record<string, number | boolean | string> = {};
    for (const [name, spec] of Object.entries(this.metrics)) {
      let st = this.state.get(name);
      if (!st) {
        st = { walk: 0, ramp: 0, last: undefined };
        this.state.set(name, st);
      }
      const mine = faults.filter((f) => metricOf(f) === name);
      if (mine.some((f) => f.kind === 'stuck') && st.last !== undefined) {
        fields[name] = st.last;
        continue;
      }
      if ('value' in spec) {
        fields[name] = spec.value;
        st.last = spec.value;
        continue;
      }
      if ('states' in spec) {
        const v = spec.states[Math.floor(at / spec.everyMs) % spec.states.length] as string | number;
        fields[name] = v;
        st.last = v;
        continue;
      }
      const noise = (this.random() * 2 - 1) * (spec.noise ?? 0);
      if (spec.drift)
        st.walk = Math.max(
          -spec.drift,
          Math.min(spec.drift, st.walk + (this.random() * 2 - 1) * spec.drift * 0.1),
        );
      const cycle = spec.cycle
        ? spec.cycle.amplitude * Math.sin((2 * Math.PI * at) / spec.cycle.periodMs)
        : 0;
      let v = spec.base + st.walk + cycle + noise;
      const ramp = mine.find((f): f is Extract<Fault, { kind: 'ramp' }> => f.kind === 'ramp');
      if (ramp) {
        const target = ramp.to - spec.base;
        st.ramp =
          target >= st.ramp
            ? Math.min(target, st.ramp + ramp.perSecond * dt)
            : Math.max(target, st.ramp - ramp.perSecond * dt);
      } else {
        st.ramp *= 0.5; // back to normal quickly once the fault is gone
      }
      v += st.ramp;
      for (const f of mine) {
        if (f.kind === 'spike') v += f.magnitude;
        if (f.kind === 'drift') v += (f.perHour * (at - this.startOf(f))) / 3_600_000;
      }
      const d = spec.decimals ?? 2;
      v = Math.round(v * 10 ** d) / 10 ** d;
      fields[name] = v;
      st.last = v;
    }
    const errorCodes = faults.flatMap((f) => (f.kind === 'errorBurst' ? f.codes : []));
    return { fields, errorCodes: [...new Set(errorCodes)] };
  }

  private startOf(f: Fault): number {
    return this.faults.find((a) => a.fault === f)?.startAt ?? 0;
  }
}

function metricOf(f: Fault): string | undefined {
  return 'metric' in f ? f.metric : undefined;
}
