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
  // Charts (uPlot) load with the pages that draw them.
  splitting: true,
  chunkNames: 'chunk-[hash]',
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

const outputs = Object.entries(result.metafile.outputs).map(([f, o]) => ({
  file: join(root, f),
  entry: o.entryPoint,
}));
// What the first page loads: the entry, the chunks it imports statically (transitively), its CSS.
const initialFiles = new Set();
const visit = (f) => {
  if (initialFiles.has(f)) return;
  initialFiles.add(f);
  for (const i of result.metafile.outputs[f]?.imports ?? []) if (i.kind === 'import-statement') visit(i.path);
};
// (Chunks loaded by import() are entry points of their own in the metafile: only main.tsx counts.)
const isMain = (entry) => entry?.endsWith('main.tsx');
for (const [f, o] of Object.entries(result.metafile.outputs)) if (isMain(o.entryPoint)) visit(f);
const js = outputs.find((o) => isMain(o.entry) && o.file.endsWith('.js'))?.file;
const css = outputs.find((o) => o.file.endsWith('.css') && o.file.includes('app-'))?.file;
const href = (f) => `/${relative(out, f).split('\\').join('/')}`;
const html = readFileSync(join(root, 'console', 'index.html'), 'utf8')
  .replace('<!--css-->', css ? `<link rel="stylesheet" href="${href(css)}">` : '')
  .replace('<!--js-->', `<script type="module" src="${href(js)}"></script>`);
writeFileSync(join(out, 'index.html'), html);

// What ships, for docs/benchmarks.md (page weight) and the bench.
const weight = {};
for (const { file } of outputs) {
  const body = readFileSync(file);
  weight[href(file)] = {
    bytes: body.length,
    gzip: gzipSync(body, { level: 9 }).length,
    // What the first page (sign-in, queue) loads; the rest comes with the pages that need it.
    initial: initialFiles.has(relative(root, file).split('\\').join('/')) || file === css,
  };
}
writeFileSync(join(out, 'weight.json'), `${JSON.stringify(weight, null, 2)}\n`);
const digest = createHash('sha256').update(html).digest('hex').slice(0, 8);
const initial = Object.values(weight).reduce((n, w) => n + (w.initial ? w.gzip : 0), 0);
const total = Object.values(weight).reduce((n, w) => n + w.gzip, 0);
process.stdout.write(
  `console built (${(initial / 1024).toFixed(1)} KiB gzip at first, ${(total / 1024).toFixed(1)} KiB in all; index ${digest})\n`,
);
