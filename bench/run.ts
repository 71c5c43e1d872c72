import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../lib/duration.js';
import { runConsoleBench } from './console.js';
import { runE2e } from './e2e/main.js';
import { runRulesBench } from './rules.js';
import { runFleetRulesBench } from './rules-fleet.js';
import { machine, runSpoolInfluxBench } from './spool-influx.js';
import { runStatePathBench } from './state-path.js';

/**
 * `npm run bench [-- --only <text>[|<text>…]] [--messages N] [--repeat N] [--components]`: the
 * end-to-end table (the gateway as users run it, driven by a separate load process), then the
 * component figures. `--repeat N` (or BENCH_REPEAT) runs the ingest cases N times in rounds and
 * shows the medians: single runs of a case here scatter by ±25 %.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      messages: { type: 'string', default: process.env.BENCH_MESSAGES ?? '100000' },
      'no-components': { type: 'boolean', default: false },
      parts: { type: 'string', default: 'ingest,latency,api,drain,postgres,console' },
      rated: { type: 'string' },
      duration: { type: 'string' },
      repeat: { type: 'string', default: process.env.BENCH_REPEAT ?? '1' },
    },
  });
  const soakMs = values.duration === undefined ? undefined : parseDuration(values.duration);
  if (values.duration !== undefined && soakMs === undefined)
    throw new Error(`--duration ${values.duration}: expected a duration such as 90s, 30m or 2h`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`--repeat ${values.repeat}: expected a whole number of runs, 1 or more`);
  const out = (s: string) => process.stdout.write(s);
  out(`machine: ${machine()}\n\n`);
  await runE2e({
    messages: Number(values.messages),
    only: values.only,
    parts: new Set(values.parts.split(',').map((x) => x.trim())),
    rated: values.rated === undefined ? undefined : Number(values.rated),
    repeat,
    soakSeconds: soakMs === undefined ? undefined : soakMs / 1000,
    out,
  });
  if (values.parts.includes('console') && soakMs === undefined) {
    const consoleDir = mkdtempSync(join(tmpdir(), 'faultline-bench-console-'));
    try {
      await runConsoleBench(consoleDir, out);
    } finally {
      rmSync(consoleDir, { recursive: true, force: true });
    }
  }
  if (values['no-components'] || soakMs !== undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-'));
  try {
    const n = Number(process.env.BENCH_POINTS ?? 100_000);
    out(`\ncomponents (in-process, ${n} readings per case, 5 fields each):\n\n`);
    const rows = values.parts.includes('state-only') ? [] : await runSpoolInfluxBench(dir, n);
    if (!values.parts.includes('state-only'))
      rows.push(
        ...runRulesBench(Number(process.env.BENCH_RULE_READINGS ?? 50_000)),
        await runFleetRulesBench(Number(process.env.BENCH_FLEET_READINGS ?? 500_000)),
      );
    rows.push(...(await runStatePathBench(dir, Number(process.env.BENCH_STATE_READINGS ?? 50_000))));
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    out('| case | points | seconds | points/s | note |\n|---|---:|---:|---:|---|\n');
    for (const r of rows) {
      out(
        `| ${r.case} | ${fmt(r.points)} | ${r.seconds.toFixed(2)} | ${fmt(r.pointsPerSecond)} | ${r.note} |\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
