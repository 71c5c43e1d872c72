import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { FaultlineError } from '../lib/errors.js';
import { packageRoot } from '../lib/package-root.js';

/** The console's pages: each answers the app's index.html (the app routes in the browser). */
export const CONSOLE_PAGES = [
  '/',
  '/tickets/:id',
  '/my',
  '/alerts',
  '/devices',
  '/devices/:id',
  '/stats',
  '/users',
];

/**
 * Serves the maintenance console (issue 21) built by `npm run build` into dist/console: the bundles
 * under `/assets/` (content-hashed names, cached for a year), and index.html for each console page
 * (never cached, so a new build is picked up at once). Public, like the sign-in form it shows: the
 * data comes from the API with the session. Without a build, the pages say how to make one.
 */
export function installConsole(app: FastifyInstance, dir = join(packageRoot(), 'dist', 'console')): void {
  const built = existsSync(join(dir, 'index.html'));
  if (built)
    app.register(fastifyStatic, {
      root: join(dir, 'assets'),
      prefix: '/assets/',
      wildcard: false,
      index: false,
      immutable: true,
      maxAge: '365d',
    });
  for (const url of CONSOLE_PAGES)
    app.get(url, { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => {
      if (!built)
        throw new FaultlineError(
          'FL_ERR_API_UNAVAILABLE',
          'the console is not built in this installation: run npm run build',
        );
      reply.header('cache-control', 'no-cache');
      return reply.sendFile('index.html', dir, { cacheControl: false });
    });
}
