import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIf } from '../test/servers/common.js';
import { type PostgresServer, postgresBin, startPostgres } from '../test/servers/postgres.js';
import { migratePg, openPool } from './pg.js';

const { describe, label } = describeIf(
  postgresBin() !== undefined,
  'PostgreSQL',
  'apt-get install postgresql',
);

describe(`PostgreSQL migrations (issue 20)${label}`, () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
  });

  const migrations = [
    { version: 1, description: 'a table', up: 'CREATE TABLE things (id INTEGER PRIMARY KEY)' },
    { version: 2, description: 'a column', up: 'ALTER TABLE things ADD COLUMN name TEXT' },
  ];

  it('several instances starting at once: each migration runs once, all of them find the schema done', async () => {
    const url = await server.createDatabase('race');
    const pools = Array.from({ length: 4 }, () => openPool({ url, poolSize: 2, statementTimeoutMs: 10_000 }));
    try {
      await Promise.all(pools.map((p) => migratePg(p, 'things', migrations)));
      const { rows } = await (pools[0] as (typeof pools)[0]).query(
        "SELECT version FROM schema_migrations WHERE component = 'things' ORDER BY version",
      );
      expect(rows.map((r) => r.version)).toEqual([1, 2]);
      await (pools[1] as (typeof pools)[0]).query("INSERT INTO things (id, name) VALUES (1, 'x')");
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('a schema newer than the code knows is refused with FL_ERR_DB_SCHEMA, nothing changed', async () => {
    const url = await server.createDatabase('newer');
    const pool = openPool({ url, poolSize: 2, statementTimeoutMs: 10_000 });
    try {
      await migratePg(pool, 'things', migrations);
      await migratePg(pool, 'things', [...migrations, { version: 3, description: 'newer', up: 'SELECT 1' }]);
      await expect(migratePg(pool, 'things', migrations)).rejects.toMatchObject({
        code: 'FL_ERR_DB_SCHEMA',
        message: expect.stringMatching(/things schema is at version 3, newer than this gateway knows \(2\)/),
      });
    } finally {
      await pool.end();
    }
  });

  it('a migration that fails leaves nothing half-applied', async () => {
    const url = await server.createDatabase('broken');
    const pool = openPool({ url, poolSize: 2, statementTimeoutMs: 10_000 });
    try {
      await expect(
        migratePg(pool, 'things', [
          migrations[0] as (typeof migrations)[0],
          { version: 2, description: 'bad', up: 'ALTER TABLE nope ADD x INT' },
        ]),
      ).rejects.toThrow(/nope/);
      const { rows } = await pool.query("SELECT to_regclass('things') AS t");
      expect(rows[0].t).toBeNull();
    } finally {
      await pool.end();
    }
  });
});
