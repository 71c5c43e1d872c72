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
/** The ten rules of a group: id, the metric it watches (none: every reading), condition, ticket. */
const GROUP_RULES: readonly [
  id: string,
  metric: string | null,
  condition: string,
  priority: string,
  faultType: string,
][] = [
  ['overheat', 'temperature', 'threshold: { above: 120 }', 'emergency', 'thermal'],
  ['hot-held', 'temperature', 'threshold: { above: 110, for: 30s, clear: 100 }', 'general', 'thermal'],
  ['hot-avg', 'temperature', 'window: { fn: avg, over: 5m, above: 100 }', 'general', 'thermal'],
  ['vibration', 'vibration', 'threshold: { above: 8, for: 10s, clear: 6 }', 'general', 'mechanical'],
  ['vibration-max', 'vibration', 'window: { fn: max, over: 1m, above: 12 }', 'general', 'mechanical'],
  ['pressure-low', 'pressure', 'threshold: { below: 2 }', 'emergency', 'hydraulic'],
  [
    'pressure-outlier',
    'pressure',
    'outlier: { method: ewma, sigmas: 6, minSamples: 50 }',
    'general',
    'hydraulic',
  ],
  ['rpm-rate', 'rpm', 'rate: { over: 1m, per: 1s, above: 500 }', 'general', 'electrical'],
  ['overspeed', null, 'expr: "rpm > 3000.0 && running"', 'emergency', 'electrical'],
  ['fault-code', null, 'errorCode: ["E-*"]', 'general', 'electronic'],
];

export function rulesYaml(n: number): string {
  const groups = Math.max(1, Math.round(n / 10));
  const digits = groups <= 1 ? 0 : String(groups - 1).length;
  const out: string[] = ['rules:'];
  for (let g = 0; g < groups; g++) {
    const glob = digits === 0 ? 'd*' : `d*${String(g).padStart(digits, '0')}`;
    for (const [id, metric, condition, priority, faultType] of GROUP_RULES)
      out.push(
        `  - id: g${g}-${id}`,
        metric === null
          ? `    match: { devices: ["${glob}"] }`
          : `    match: { metric: ${metric}, devices: ["${glob}"] }`,
        `    ${condition}`,
        `    ticket: { priority: ${priority}, faultType: ${faultType} }`,
      );
  }
  return `${out.join('\n')}\n`;
}

/**
 * The plant workload of issue 19: what a Node-RED user's telemetry looks like. Topics
 * `plant/<site>/<device>/telemetry`, ~115-byte JSON with ms timestamps, temperature uniformly
 * random in 60–95 — so the one rule an integrator writes for it (`threshold: {above: 90}`) keeps
 * firing and clearing on every device (~14 % of readings above 90).
 */
export const PLANT_SITES = 4;

export function plantTopic(d: number, dev: string): string {
  return `plant/site-${d % PLANT_SITES}/${dev}/telemetry`;
}

/** One plant reading; `random` is the publisher's seeded PRNG (simulators/mqtt/model.ts). */
export function plantPayload(random: () => number, ts: number): string {
  const temperature = (60 + random() * 35).toFixed(2);
  const vibration = (1.5 + random() * 2).toFixed(3);
  const pressure = (5.8 + random() * 0.4).toFixed(3);
  const flow = (11 + random() * 3).toFixed(2);
  const current = (7.5 + random() * 2).toFixed(2);
  return `{"ts":${ts},"temperature":${temperature},"vibration":${vibration},"pressure":${pressure},"flow_rate":${flow},"motor_current":${current}}`;
}

/** The one rule a Node-RED user writes for the plant telemetry (none: `n` = 0). */
export function plantRulesYaml(n: number): string {
  if (n === 0) return 'rules: []\n';
  return `rules:
  - id: overheat
    match: { metric: temperature }
    threshold: { above: 90 }
    ticket: { priority: general, faultType: thermal }
`;
}
