import { generatedPassword } from '../api/users.js';
import type { Logger } from '../lib/log.js';
import { type MqttSimulator, start as startMqttSim } from '../simulators/mqtt/index.js';
import type { RunningGateway } from './gateway.js';

/** The demo's equipment; the ids match the devices in examples/demo.yaml. */
const DEVICES = [
  { id: 'cnc-01', baseTemperature: 58 },
  { id: 'cnc-02', baseTemperature: 61 },
  { id: 'cnc-03', baseTemperature: 57 },
  { id: 'pump-01', baseTemperature: 45 },
  { id: 'pump-02', baseTemperature: 47 },
  { id: 'press-01', baseTemperature: 52 },
];

interface Step {
  afterMs: number;
  say: string;
  act: (sim: MqttSimulator) => void;
}

/** Faults the equipment develops, in order; the first tickets appear within about 30 s. */
const SCENARIO: Step[] = [
  {
    afterMs: 5_000,
    say: 'cnc-02 starts to overheat (rule "overheat" fires after 10 s above 90 °C)',
    act: (s) => s.overheat('cnc-02'),
  },
  {
    afterMs: 12_000,
    say: 'pump-01 reports E-OIL-PRESSURE (general fault)',
    act: (s) => s.errorBurst('pump-01', ['E-OIL-PRESSURE'], 20_000),
  },
  {
    afterMs: 20_000,
    say: 'press-02 — a remote-site press — reports E-SAFETY-DOOR (emergency, partner team)',
    act: (s) => s.errorBurst('press-02', ['E-SAFETY-DOOR'], 15_000),
  },
  {
    afterMs: 60_000,
    say: 'cnc-02 cools down: its alert resolves; the ticket stays open for the team',
    act: (s) => s.clearFaults('cnc-02'),
  },
  {
    afterMs: 90_000,
    say: 'cnc-02 overheats again: the open ticket counts another occurrence',
    act: (s) => s.overheat('cnc-02'),
  },
];

/** The console's demo user (a dispatcher): made on the first run, given a new password each run. */
async function demoUser(gw: RunningGateway): Promise<string> {
  const password = generatedPassword();
  const existing = (await gw.users.list()).find((u) => u.username === 'demo');
  if (!existing)
    await gw.users.create(
      { username: 'demo', displayName: 'Demo dispatcher', role: 'dispatcher', createdBy: 'demo' },
      password,
    );
  else {
    await gw.users.setPassword(existing.id, password);
    if (existing.disabledAt !== null) await gw.users.setDisabled(existing.id, false);
  }
  return password;
}

export async function runDemo(gw: RunningGateway, logger: Logger): Promise<MqttSimulator> {
  if (!gw.mqttUrl) throw new Error('the demo needs the embedded MQTT broker (mqtt.embedded.enabled)');
  // Accounts first: a stop (Ctrl-C) once the machines run finds nothing half-made.
  const password = await demoUser(gw);
  // A key for this run (the one of the last run is revoked), so that the links below can be followed.
  for (const k of await gw.keys.list())
    if (k.name === 'demo' && k.revokedAt === null) await gw.keys.revoke(k.keyId);
  const { key } = await gw.keys.create({ name: 'demo', role: 'admin', createdBy: 'demo' });
  const sim = await startMqttSim({
    url: gw.mqttUrl,
    devices: [...DEVICES, { id: 'press-02', baseTemperature: 50 }],
    intervalMs: 1_000,
    qos: 1,
  });
  const say = (line: string) => process.stderr.write(`[demo] ${line}\n`);
  gw.tickets.onChange(({ kind, ticket }) => {
    if (kind !== 'created' && kind !== 'occurrence') return;
    const due = ticket.sla.response ? new Date(ticket.sla.response.dueAt).toISOString() : 'n/a';
    say(
      kind === 'created'
        ? `ticket ${ticket.id} [${ticket.priority}] ${ticket.title} — respond by ${due} — ${gw.apiUrl}/api/v1/tickets/${ticket.id}`
        : `ticket ${ticket.id}: alert fired again (occurrences: ${ticket.occurrences})`,
    );
  });
  say(`${sim.devices.length} simulated machines publishing to ${gw.mqttUrl}`);
  say(`API key of this demo run: ${key}`);
  say(`  curl -H 'Authorization: Bearer ${key}' ${gw.apiUrl}/api/v1/tickets`);
  say(`console: ${gw.apiUrl}/  — sign in as "demo" with password ${password} (a dispatcher; new each run)`);
  say(`API documentation: ${gw.apiUrl}/docs`);
  say(
    `tickets: ${gw.apiUrl}/api/v1/tickets   alerts: ${gw.apiUrl}/api/v1/alerts   devices: ${gw.apiUrl}/api/v1/devices`,
  );
  say(
    `history: ${gw.apiUrl}/api/v1/devices/cnc-02/telemetry?metric=temperature   ingest: ${gw.apiUrl}/api/v1/ingest`,
  );
  say('press Ctrl-C to stop');
  const timers = SCENARIO.map((step) =>
    setTimeout(() => {
      say(step.say);
      try {
        step.act(sim);
      } catch (err) {
        logger.error({ err }, 'demo step failed');
      }
    }, step.afterMs),
  );
  const close = sim.close.bind(sim);
  return Object.assign(sim, {
    async close() {
      for (const t of timers) clearTimeout(t);
      await close();
    },
  });
}
