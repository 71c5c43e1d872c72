/**
 * The bench's fleet: device ids, telemetry payloads and the rule sets, shared by the load process
 * and the orchestrator so that both describe the same workload.
 */

export const deviceId = (n: number): string => `d${String(n).padStart(5, '0')}`;

/** Temperature of an anomaly: far above the `overheat` threshold (120). */
export const ANOMALY_TEMPERATURE = 150;

/**
 * One reading: 5 metrics (4 numbers, 1 boolean) and `ts` in epoch ms. Values move a little from
 * message to message and stay inside every rule's normal band unless `anomaly`.
 */
export function payload(i: number, ts: number, anomaly: boolean): string {
  const temperature = anomaly ? ANOMALY_TEMPERATURE : 60 + (i % 97) / 10;
  const vibration = 2 + (i % 13) / 10;
  const pressure = 6 + (i % 7) / 100;
  const rpm = 1450 + (i % 61);
  return `{"ts":${ts},"temperature":${temperature},"vibration":${vibration},"pressure":${pressure},"rpm":${rpm},"running":true}`;
}

/**
 * Ten rules per group of devices, of the kinds integrators write: plain and held thresholds,
 * window aggregates, a rate, an EWMA outlier, a CEL expression and error codes. `n` rules = n/10
 * groups; devices are split among groups by the last digits of their ids, so that a reading
 * matches exactly ten rules whatever `n` is (a fleet of many models, each with its own rules).
 * Only `overheat` fires in the bench (on anomalies); the others evaluate and stay quiet.
 */
export function rulesYaml(n: number): string {
  const groups = Math.max(1, Math.round(n / 10));
  const digits = groups <= 1 ? 0 : String(groups - 1).length;
  const out: string[] = ['rules:'];
  for (let g = 0; g < groups; g++) {
    const glob = digits === 0 ? 'd*' : `d*${String(g).padStart(digits, '0')}`;
    const m = (metric: string) => `{ metric: ${metric}, devices: ["${glob}"] }`;
    const rule = (id: string, body: string) => out.push(`  - id: g${g}-${id}`, `    ${body}`);
    const ticket = (priority: string, faultType: string) =>
      `    ticket: { priority: ${priority}, faultType: ${faultType} }`;
    rule('overheat', `match: ${m('temperature')}`);
    out.push('    threshold: { above: 120 }', ticket('emergency', 'thermal'));
    rule('hot-held', `match: ${m('temperature')}`);
    out.push(`    threshold: { above: 110, for: 30s, clear: 100 }`, ticket('general', 'thermal'));
    rule('hot-avg', `match: ${m('temperature')}`);
    out.push('    window: { fn: avg, over: 5m, above: 100 }', ticket('general', 'thermal'));
    rule('vibration', `match: ${m('vibration')}`);
    out.push('    threshold: { above: 8, for: 10s, clear: 6 }', ticket('general', 'mechanical'));
    rule('vibration-max', `match: ${m('vibration')}`);
    out.push('    window: { fn: max, over: 1m, above: 12 }', ticket('general', 'mechanical'));
    rule('pressure-low', `match: ${m('pressure')}`);
    out.push('    threshold: { below: 2 }', ticket('emergency', 'hydraulic'));
    rule('pressure-outlier', `match: ${m('pressure')}`);
    out.push('    outlier: { method: ewma, sigmas: 6, minSamples: 50 }', ticket('general', 'hydraulic'));
    rule('rpm-rate', `match: ${m('rpm')}`);
    out.push('    rate: { over: 1m, per: 1s, above: 500 }', ticket('general', 'electrical'));
    rule('overspeed', `match: { devices: ["${glob}"] }`);
    out.push('    expr: "rpm > 3000.0 && running"', ticket('emergency', 'electrical'));
    rule('fault-code', `match: { devices: ["${glob}"] }`);
    out.push('    errorCode: ["E-*"]', ticket('general', 'electronic'));
  }
  return `${out.join('\n')}\n`;
}
