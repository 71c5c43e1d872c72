import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/package-root.js';
import { openDatabase } from '../lib/sqlite.js';
import { SqliteTicketStore } from '../tickets/sqlite-store.js';
import { tempDir } from './helpers.js';

/**
 * Several gateway processes on one state.db (a restart overlapping the old process, or an operator
 * running two by mistake): the database itself must keep one open ticket per (rule, device).
 */
const WORKER = `
const [storeUrl, sqliteUrl, file, startAt, n] = process.argv.slice(1);
const { SqliteTicketStore } = await import(storeUrl);
const { openDatabase } = await import(sqliteUrl);
const db = openDatabase(file);
const store = new SqliteTicketStore(db);
while (Date.now() < Number(startAt)) {} // all processes start firing at the same instant
let created = 0;
for (let i = 0; i < Number(n); i++) {
  const now = Date.now();
  const r = await store.openOrRecur({
    title: 'Overheat', description: '', priority: 'emergency', status: 'open', source: 'monitoring',
    deviceId: 'press-1', site: 'north', area: 'local', customer: null, equipmentModel: null,
    ruleId: 'overheat', alertId: 'overheat@press-1', faultType: 'mechanical', reportedAt: now,
    createdAt: now, updatedAt: now, assignees: [], team: null, labels: {}, reporter: null, sla: {},
  }, now);
  if (r.created) created++;
}
db.close();
process.stdout.write(JSON.stringify({ created }));
`;

function worker(file: string, startAt: number, n: number): Promise<{ created: number }> {
  const url = (p: string) => pathToFileURL(join(packageRoot(), 'dist', p)).href;
  const args = [url('tickets/sqlite-store.js'), url('lib/sqlite.js'), file, String(startAt), String(n)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WORKER, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as { created: number })
        : reject(new Error(`worker ${code}: ${err}`)),
    );
  });
}

describe('ticket de-duplication across processes', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('four processes firing one (rule, device) 100 times each open exactly one ticket', async () => {
    const file = join(tmp.dir, 'state.db');
    openDatabase(file).close();
    // The schema exists before the race (each worker's migrate() is then a no-op).
    const init = openDatabase(file);
    new SqliteTicketStore(init);
    init.close();
    const startAt = Date.now() + 1_500;
    const results = await Promise.all([0, 1, 2, 3].map(() => worker(file, startAt, 100)));
    expect(results.reduce((s, r) => s + r.created, 0)).toBe(1);
    const db = openDatabase(file);
    const rows = db.prepare('SELECT occurrences, is_open FROM tickets').all();
    expect(rows).toEqual([{ occurrences: 399, is_open: 1 }]);
    expect(db.prepare("SELECT count(*) AS n FROM ticket_events WHERE type = 'occurrence'").get()).toEqual({
      n: 399,
    });
    db.close();
  }, 30_000);
});
