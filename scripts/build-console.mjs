// Builds the console (console/) into dist/console: one JS and one CSS bundle with content hashes
// (cached for a year), and index.html naming them (never cached). `npm run build` runs it.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: { app: join(root, 'console', 'src', 'main.tsx') },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => join(root, f));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
const href = (f) => `/${relative(out, f).split('\\').join('/')}`;
const html = readFileSync(join(root, 'console', 'index.html'), 'utf8')
  .replace('<!--css-->', css ? `<link rel="stylesheet" href="${href(css)}">` : '')
  .replace('<!--js-->', `<script type="module" src="${href(js)}"></script>`);
writeFileSync(join(out, 'index.html'), html);

// What ships, for docs/benchmarks.md (page weight) and the bench.
const weight = {};
for (const f of [js, css].filter(Boolean)) {
  const body = readFileSync(f);
  weight[href(f)] = { bytes: body.length, gzip: gzipSync(body, { level: 9 }).length };
}
writeFileSync(join(out, 'weight.json'), `${JSON.stringify(weight, null, 2)}\n`);
const digest = createHash('sha256').update(html).digest('hex').slice(0, 8);
const total = Object.values(weight).reduce((n, w) => n + w.gzip, 0);
process.stdout.write(`console built (${(total / 1024).toFixed(1)} KiB gzip, index ${digest})\n`);
