import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../lib/sqlite.js';
import { SqliteTicketStore } from '../tickets/sqlite-store.js';
import { distUrl, runScript, tempDir } from './helpers.js';

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
  return runScript(WORKER, [
    distUrl('tickets/sqlite-store.js'),
    distUrl('lib/sqlite.js'),
    file,
    String(startAt),
    String(n),
  ]);
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
