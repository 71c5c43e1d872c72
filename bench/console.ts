import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { packageRoot } from '../lib/package-root.js';
import { BENCH_KEY, startGateway } from './e2e/gateway.js';
import { fixed, int, table } from './e2e/report.js';
import { seedTickets } from './e2e/seed.js';

const sum = <T>(o: Record<string, T>, f: (v: T) => number) => Object.values(o).reduce((n, v) => n + f(v), 0);

const CHROMIUM = process.env.FAULTLINE_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'bench-console-password';

/**
 * The console's weight and speed (issue 21), in the Chromium the tests use: the JS and CSS shipped
 * (gzip), and — over 200,000 stored tickets of which 10,000 are open — the time from "Sign in" to the
 * first rows of the queue, to the whole queue, and to draw the rows at its end after a jump there.
 */
export async function runConsoleBench(dir: string, out: (s: string) => void): Promise<void> {
  const weight = JSON.parse(
    readFileSync(join(packageRoot(), 'dist', 'console', 'weight.json'), 'utf8'),
  ) as Record<string, { bytes: number; gzip: number; initial: boolean }>;
  out('\nconsole page weight (dist/console, what a browser downloads once; then cached):\n\n');
  out(
    table(
      ['file', 'loaded', 'bytes', 'gzip bytes'],
      [
        ...Object.entries(weight).map(([f, w]) => [
          f.replace(/-[A-Z0-9]+\./, '-<hash>.'),
          w.initial ? 'at sign-in' : 'with a chart',
          int(w.bytes),
          int(w.gzip),
        ]),
        [
          '**at sign-in (the queue)**',
          '',
          int(sum(weight, (w) => (w.initial ? w.bytes : 0))),
          int(sum(weight, (w) => (w.initial ? w.gzip : 0))),
        ],
        ['**in all**', '', int(sum(weight, (w) => w.bytes)), int(sum(weight, (w) => w.gzip))],
      ],
    ),
  );
  if (!existsSync(CHROMIUM)) {
    out(`\nconsole speed: skipped (no Chromium at ${CHROMIUM}: apt-get install chromium)\n`);
    return;
  }
  process.stderr.write('  console: seeding 200,000 tickets (10,000 open)\n');
  await seedTickets(join(dir, 'data'), 200_000, 1_000);
  const gw = await startGateway(dir, 'api: { rateLimit: { max: 100000 } }\n');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const made = await fetch(`${gw.apiUrl}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'queue.watcher', role: 'dispatcher', password: PASSWORD }),
    });
    if (made.status !== 201) throw new Error(`POST /users: ${made.status} ${await made.text()}`);
    const runs: { first: number; all: number; jump: number }[] = [];
    for (let i = 0; i < 3; i++) runs.push(await measure(browser, gw.apiUrl));
    const best = (k: 'first' | 'all' | 'jump') => Math.min(...runs.map((r) => r[k]));
    const live = await liveBurst(browser, gw.apiUrl, 200);
    out(
      `\nconsole speed (Chromium ${browser.version()}, 1280×800, queue of 10,000 open tickets among 200,000; best of 3 fresh profiles):\n\n`,
    );
    out(
      table(
        ['from "Sign in" to', 'ms'],
        [
          ['the first rows of the queue', fixed(best('first'), 0)],
          ['all 10,000 open tickets loaded (20 pages of 500)', fixed(best('all'), 0)],
          ['rows drawn after jumping to the end of the list', fixed(best('jump'), 0)],
          [
            `(open queue) ${live.n} new tickets filed over ${fixed(live.filingMs, 0)} ms by the API: the last shown, after it was filed`,
            fixed(live.lagMs, 0),
          ],
        ],
      ),
    );
  } finally {
    await browser.close();
    await gw.stop();
  }
}

async function measure(
  browser: import('playwright-core').Browser,
  apiUrl: string,
): Promise<{ first: number; all: number; jump: number }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
  const page = await context.newPage();
  await page.goto(apiUrl);
  await page.getByLabel('User name').fill('queue.watcher');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  const t0 = Date.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('li.row').first().waitFor({ timeout: 60_000 });
  const first = Date.now() - t0;
  await page
    .getByText('10,000 open tickets')
    .or(page.getByText('10000 open tickets'))
    .waitFor({ timeout: 120_000 });
  const all = Date.now() - t0;
  const t1 = Date.now();
  await page.evaluate('window.scrollTo(0, document.body.scrollHeight)');
  await page.locator('li.row[aria-posinset="10000"]').waitFor();
  const jump = Date.now() - t1;
  await context.close();
  return { first, all, jump };
}

/** An open queue of 10,000 while `n` tickets are filed through the API: how long after the last it shows them all. */
async function liveBurst(
  browser: import('playwright-core').Browser,
  apiUrl: string,
  n: number,
): Promise<{ n: number; filingMs: number; lagMs: number }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
  const page = await context.newPage();
  await page.goto(apiUrl);
  await page.getByLabel('User name').fill('queue.watcher');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('10,000 open tickets').waitFor({ timeout: 120_000 });
  await page.locator('.live-up').waitFor();
  const t0 = Date.now();
  for (let i = 0; i < n; i += 20)
    await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, (_, k) =>
        fetch(`${apiUrl}/api/v1/tickets`, {
          method: 'POST',
          headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            title: `burst ${i + k}`,
            priority: 'emergency',
            source: 'phone',
            reporter: { name: 'bench' },
            faultType: 'mechanical',
            site: 'default',
          }),
        }).then(async (r) => {
          if (r.status !== 201) throw new Error(`POST /tickets: ${r.status} ${await r.text()}`);
        }),
      ),
    );
  const filed = Date.now();
  await page.getByText(`${(10_000 + n).toLocaleString('en-GB')} open tickets`).waitFor({ timeout: 60_000 });
  const shown = Date.now();
  await context.close();
  return { n, filingMs: filed - t0, lagMs: shown - filed };
}
