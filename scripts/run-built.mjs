#!/usr/bin/env node
// Runs the built CLI (dist/gateway/cli.js) with the given arguments, building first only when a
// source file changed since the last build (issue 18: `npm run demo` recompiled everything on every
// run, ~90 s of silence on a busy machine). The build is incremental (tsconfig.build.json).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = [
  'lib',
  'gateway',
  'adapters',
  'ingest',
  'rules',
  'tickets',
  'api',
  'notify',
  'parts',
  'simulators',
];
const stamp = join(root, 'dist', '.tsbuildinfo');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (/\.(ts|tsx|css)$/.test(e.name) && !e.name.endsWith('.test.ts'))
      t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const built =
  existsSync(stamp) && existsSync(join(root, 'dist', 'gateway', 'cli.js')) ? statSync(stamp).mtimeMs : 0;
const changed = Math.max(
  ...SOURCES.map((d) => newest(join(root, d))),
  ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => statSync(join(root, f)).mtimeMs),
);
if (changed > built) {
  process.stderr.write(
    built === 0
      ? '[faultline] building (first run: TypeScript → dist/, about a minute)…\n'
      : '[faultline] sources changed since the last build: building incrementally…\n',
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // tsc leaves its build info untouched when nothing changed (a checkout that only touched files).
  const now = new Date();
  utimesSync(stamp, now, now);
  process.stderr.write('[faultline] built.\n');
}
// The console (console/ → dist/console) likewise, when its sources are newer than its build.
const consoleBuilt = join(root, 'dist', 'console', 'index.html');
const consoleChanged = Math.max(
  newest(join(root, 'console')),
  statSync(join(root, 'console', 'index.html')).mtimeMs,
);
if (!existsSync(consoleBuilt) || consoleChanged > statSync(consoleBuilt).mtimeMs) {
  process.stderr.write('[faultline] building the console…\n');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// In its own process group, so that a terminal's Ctrl-C reaches it once, through this process (a
// second signal makes the gateway exit at once instead of stopping cleanly).
const child = spawn(process.execPath, [join(root, 'dist', 'gateway', 'cli.js'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  detached: true,
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
