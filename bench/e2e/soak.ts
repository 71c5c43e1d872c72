import type { BenchEnv } from './env.js';
import { steadyLoad, withGateway } from './load-cases.js';
import { procSample, sleep, wallNow } from './procs.js';
import { fixed, int, table } from './report.js';

/**
 * Soak: the gateway (embedded broker, 100 rules, 10k devices) under a steady QoS 1 load for
 * `seconds`, sampled every `every` seconds: throughput, CPU per reading, RSS, spool, open files,
 * event-loop delay.
 * Rows are printed as they are taken, so that a long run shows its trend while it runs.
 */
export async function runSoak(
  env: BenchEnv,
  o: { seconds: number; rate: number; out: (s: string) => void },
): Promise<void> {
  const every = Math.max(5, Math.round(o.seconds / 30));
  return withGateway(env, 'soak', async (gw) => {
    const messages = Math.round(o.rate * o.seconds);
    const load = steadyLoad(gw, { rate: o.rate, messages, anomalyEvery: 1_000 });
    let finished = false;
    void load.done.then(() => {
      finished = true;
    });
    o.out(
      `soak: ${int(o.rate)} readings/s (QoS 1, 10,000 devices, 100 rules, 0.1 % anomalies) for ${int(o.seconds)} s, a row every ${every} s\n\n`,
    );
    o.out(
      table(
        [
          't (s)',
          'readings/s',
          'CPU µs/reading',
          'RSS MB',
          'heap used MB',
          'heap total MB',
          'external MB',
          'spool points',
          'spool KB',
          'open fds',
          'loop delay p99 ms',
          'loop delay max ms',
        ],
        [],
      ),
    );
    const t0 = wallNow();
    let lastAccepted = 0;
    let lastAt = t0;
    let lastCpu = procSample(gw.pid).cpuSeconds;
    let peakRss = 0;
    const rows: number[][] = [];
    while (!finished) {
      await sleep(every * 1000);
      const m = await gw.metrics();
      const p = procSample(gw.pid);
      const now = wallNow();
      const accepted = m.get('faultline_readings_accepted_total') ?? 0;
      const row = [
        (now - t0) / 1000,
        (accepted - lastAccepted) / ((now - lastAt) / 1000),
        accepted > lastAccepted ? ((p.cpuSeconds - lastCpu) * 1e6) / (accepted - lastAccepted) : 0,
        p.rssBytes / 2 ** 20,
        // The main thread's V8 heap (the API worker's and native memory are the rest of the RSS).
        (m.get('faultline_nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20,
        (m.get('faultline_nodejs_heap_size_total_bytes') ?? 0) / 2 ** 20,
        (m.get('faultline_nodejs_external_memory_bytes') ?? 0) / 2 ** 20,
        m.get('faultline_spool_points') ?? 0,
        (m.get('faultline_spool_bytes') ?? 0) / 1024,
        p.fds,
        (m.get('faultline_nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000,
        (m.get('faultline_nodejs_eventloop_lag_max_seconds') ?? 0) * 1000,
      ];
      peakRss = Math.max(peakRss, p.peakRssBytes);
      rows.push(row);
      lastAccepted = accepted;
      lastAt = now;
      lastCpu = p.cpuSeconds;
      o.out(`| ${row.map((v, i) => (i === 2 || i >= 10 ? fixed(v, 1) : int(v))).join(' | ')} |\n`);
    }
    const rss = rows.map((r) => r[3] as number);
    const half = rss.slice(Math.floor(rss.length / 2));
    o.out(
      `\nsoak: RSS first sample ${int(rss[0] ?? 0)} MB, last ${int(rss[rss.length - 1] ?? 0)} MB, second-half mean ${int(half.reduce((a, b) => a + b, 0) / Math.max(1, half.length))} MB, peak ${int(peakRss / 2 ** 20)} MB\n`,
    );
  });
}
