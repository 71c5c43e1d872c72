import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tempDir, writeFiles } from '../test/helpers.js';
import { installConsole } from './console.js';
import { installProblemHandlers } from './problem.js';

describe('the console files (issue 21)', () => {
  const tmp = tempDir();
  const app = Fastify();
  afterEach(async () => {
    await app.close();
  });
  afterAll(() => tmp.cleanup());

  it('answers index.html for each console page, never cached; the hashed bundles cached for a year', async () => {
    mkdirSync(join(tmp.dir, 'assets'));
    writeFiles(tmp.dir, {
      'index.html': '<!doctype html><title>c</title>',
      'assets/app-ABC.js': 'export {}',
    });
    installConsole(app, tmp.dir);
    for (const url of ['/', '/tickets/T-1']) {
      const r = await app.inject({ url });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.headers['cache-control']).toBe('no-cache');
    }
    const js = await app.inject({ url: '/assets/app-ABC.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await app.inject({ url: '/assets/../index.html' })).statusCode).not.toBe(200);
    expect((await app.inject({ url: '/assets/nothing.js' })).statusCode).toBe(404);
  });

  it('says how to build it when it is not built', async () => {
    const fresh = Fastify();
    installProblemHandlers(fresh);
    installConsole(fresh, join(tmp.dir, 'missing'));
    const r = await fresh.inject({ url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({
      code: 'FL_ERR_API_UNAVAILABLE',
      detail: expect.stringMatching(/npm run build/),
    });
    await fresh.close();
  });
});
