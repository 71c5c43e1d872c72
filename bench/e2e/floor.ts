import mqtt from 'mqtt';

/**
 * The practical floor: the smallest pipeline that does the job by hand — mqtt.js subscribe →
 * JSON.parse → line protocol → batched POST to InfluxDB 1.x /write, one request in flight. No
 * spool, no rules, no tickets: whatever Faultline costs beyond this is what its guarantees cost.
 *
 * argv[2]: JSON { url, qos, influxUrl, database, workload }. Prints `{"written":n}` every 100 ms.
 */
interface FloorOptions {
  url: string;
  qos: 0 | 1;
  influxUrl: string;
  database: string;
  /** `fleet`: devices/<id>/telemetry; `plant`: plant/<site>/<device>/telemetry (site a tag too). */
  workload?: 'fleet' | 'plant';
}

const o = JSON.parse(process.argv[2] ?? '{}') as FloorOptions;
const writeUrl = `${o.influxUrl}/write?db=${encodeURIComponent(o.database)}&precision=ms`;
const MAX_LINES = 5_000;
let lines: string[] = [];
let posting = false;
let written = 0;
let failed = 0;

const escapeTag = (s: string) => s.replace(/[,= ]/g, (c) => `\\${c}`);

const plant = o.workload === 'plant';

function toLine(topic: string, body: Buffer): string | undefined {
  const levels = topic.split('/');
  const device = plant ? levels[2] : levels[1];
  const site = plant ? `,site=${escapeTag(levels[1] ?? '')}` : '';
  let obj: unknown;
  try {
    obj = JSON.parse(body.toString());
  } catch {
    return undefined;
  }
  if (!device || typeof obj !== 'object' || obj === null) return undefined;
  const rec = obj as Record<string, unknown>;
  const fields: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'ts') continue;
    if (typeof v === 'number') fields.push(`${k}=${v}`);
    else if (typeof v === 'boolean') fields.push(`${k}=${v}`);
  }
  if (fields.length === 0) return undefined;
  const ts = typeof rec.ts === 'number' ? rec.ts : Date.now();
  return `telemetry,device=${escapeTag(device)}${site} ${fields.join(',')} ${ts}`;
}

async function flush(): Promise<void> {
  if (posting || lines.length === 0) return;
  posting = true;
  const batch = lines.length > MAX_LINES ? lines.splice(0, MAX_LINES) : lines;
  if (batch === lines) lines = [];
  try {
    for (;;) {
      const res = await fetch(writeUrl, { method: 'POST', body: batch.join('\n') });
      if (res.ok) {
        written += batch.length;
        break;
      }
      failed++;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    posting = false;
  }
  if (lines.length >= MAX_LINES) void flush();
}

const client = mqtt.connect(o.url, {
  clientId: `bench-floor-${process.pid}`,
  clean: true,
  protocolVersion: 4,
});
client.on('connect', () => {
  client.subscribe(plant ? 'plant/+/+/telemetry' : 'devices/+/telemetry', { qos: o.qos }, (err) => {
    if (err) throw err;
    process.stdout.write(`${JSON.stringify({ subscribed: true })}\n`);
  });
});
client.on('message', (topic, body) => {
  const l = toLine(topic, body);
  if (l === undefined) return;
  lines.push(l);
  if (lines.length >= MAX_LINES) void flush();
});
setInterval(() => void flush(), 200);
setInterval(() => process.stdout.write(`${JSON.stringify({ written, failed })}\n`), 100);
