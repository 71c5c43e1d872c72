import mqtt from 'mqtt';
import { prng } from '../../simulators/mqtt/model.js';
import { deviceId, payload, plantPayload, plantTopic } from './workload.js';

/**
 * The load process: publishes telemetry per the convention (`devices/<id>/telemetry`, one JSON
 * object of 5 metrics per message) to a broker, as fast as it can or at a fixed rate, and prints
 * one JSON line with what it sent when it is done. Run by the bench as its own process, so that its
 * CPU is not the gateway's.
 *
 * argv[2]: a JSON `PublisherOptions`.
 */
export interface PublisherOptions {
  url: string;
  qos: 0 | 1;
  devices: number;
  /** Messages to send in all. */
  messages: number;
  /** Messages per second; 0 = as fast as the connection takes them. */
  rate: number;
  /**
   * 1 in n messages is an anomaly (temperature far above its threshold); 0 = none. Each pass over
   * the fleet picks another 1/n of the devices, so that anomalies fall on devices without an open
   * ticket for n passes.
   */
  anomalyEvery: number;
  /** No anomaly before this message (a lead-in at the same rate: the gateway in its steady state). */
  anomaliesFrom?: number;
  /** Data time of the first pass (epoch ms); each pass over the fleet is one second later. */
  tsBase: number;
  /**
   * Data time = the wall clock at publish, as live equipment sends (rule deadlines then lie ahead
   * and their timers run, as in production); else `tsBase` plus one second per pass.
   */
  liveTs?: boolean;
  /** QoS 1: messages published and not yet acknowledged, at most. */
  window: number;
  /** Device ids start here (so that one run's anomalies are on devices without an open ticket). */
  firstDevice?: number;
  /** `fleet` (default): `devices/<id>/telemetry`, 5 metrics; `plant`: issue 19's flapping telemetry. */
  workload?: 'fleet' | 'plant';
}

export interface PublisherResult {
  published: number;
  acked: number;
  /** Wall-clock ms (performance.timeOrigin-based, sub-ms) of the first and last publish. */
  startedAt: number;
  endedAt: number;
  /** The last PUBACK (QoS 1), else the last write. */
  settledAt: number;
  /** [deviceId, wall-clock ms of the publish] of each anomaly. */
  anomalies: [string, number][];
}

const wallNow = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '{}') as PublisherOptions;
  const client = await mqtt.connectAsync(o.url, {
    clientId: `bench-publisher-${process.pid}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  const anomalies: [string, number][] = [];
  let published = 0;
  let acked = 0;
  let inFlight = 0;
  let settledAt = 0;
  let wake: (() => void) | undefined;
  const first = o.firstDevice ?? 0;
  const random = prng(0x19);
  const startedAt = wallNow();

  const onAck = (err?: Error) => {
    if (err) throw err;
    acked++;
    inFlight--;
    settledAt = wallNow();
    const w = wake;
    wake = undefined;
    w?.();
  };

  const sendOne = (i: number): void => {
    const d = i % o.devices;
    const pass = Math.floor(i / o.devices);
    const dev = deviceId(first + d);
    const anomaly =
      o.anomalyEvery > 0 && i >= (o.anomaliesFrom ?? 0) && d % o.anomalyEvery === pass % o.anomalyEvery;
    // One reading per device per second of data time: no two share a series' timestamp.
    const ts = o.liveTs ? Date.now() : o.tsBase + pass * 1000;
    const plant = o.workload === 'plant';
    const body = plant ? plantPayload(random, ts) : payload(i, ts, anomaly);
    if (anomaly) anomalies.push([dev, wallNow()]);
    inFlight++;
    published++;
    const topic = plant ? plantTopic(first + d, dev) : `devices/${dev}/telemetry`;
    client.publish(topic, body, { qos: o.qos }, onAck);
  };

  const waitRoom = async (): Promise<void> => {
    while (inFlight >= o.window) await new Promise<void>((r) => (wake = r));
  };

  if (o.rate <= 0) {
    for (let i = 0; i < o.messages; i++) {
      if (inFlight >= o.window) await waitRoom();
      sendOne(i);
    }
  } else {
    // Fixed rate: every 5 ms, publish what the schedule says is due by now.
    let i = 0;
    while (i < o.messages) {
      const due = Math.min(o.messages, Math.floor(((wallNow() - startedAt) / 1000) * o.rate) + 1);
      while (i < due) {
        if (inFlight >= o.window) await waitRoom();
        sendOne(i++);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const endedAt = wallNow();
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  await client.endAsync();
  const result: PublisherResult = { published, acked, startedAt, endedAt, settledAt, anomalies };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`publisher failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
