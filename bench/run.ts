import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRulesBench } from './rules.js';
import { machine, runSpoolInfluxBench } from './spool-influx.js';

/** `npm run bench`: prints a table of the measured figures and the machine they ran on. */
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-'));
  try {
    const n = Number(process.env.BENCH_POINTS ?? 200_000);
    process.stdout.write(`machine: ${machine()}\nreadings per case: ${n} (5 fields each)\n\n`);
    const rows = await runSpoolInfluxBench(dir, n);
    rows.push(...runRulesBench(Number(process.env.BENCH_RULE_READINGS ?? 100_000)));
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    process.stdout.write('| case | points | seconds | points/s | note |\n|---|---:|---:|---:|---|\n');
    for (const r of rows) {
      process.stdout.write(
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
