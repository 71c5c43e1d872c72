import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../lib/sqlite.js';
import { tempDir } from '../test/helpers.js';
import { fixedClock } from './clock.js';
import { MIGRATIONS, SqliteTicketStore } from './sqlite-store.js';

// The TicketStore contract runs in test/contracts/sqlite.test.ts with the other stores'.
describe('SQLite ticket store: migrations', () => {
  it('clocks stored before pausable clocks existed come back as running 24x7 clocks', async () => {
    const tmp = tempDir();
    try {
      const db = openDatabase(join(tmp.dir, 'old.db'));
      migrate(
        db,
        'tickets',
        MIGRATIONS.filter((m) => m.version === 1),
      );
      db.prepare(
        `INSERT INTO tickets (title, description, priority, priority_rank, status, is_open, source, site, area,
         fault_type, reported_at, created_at, updated_at, assignees, team, labels, due_key)
         VALUES ('t', '', 'general', 1, 'open', 1, 'phone', 'default', 'local', 'general', 0, 0, 0, '[]', NULL, '{}', 100)`,
      ).run();
      db.prepare(
        'INSERT INTO sla_clocks (ticket_seq, target, start_at, due_at, met_at) VALUES (1, ?, 0, 100, ?)',
      ).run('response', null);
      db.prepare(
        'INSERT INTO sla_clocks (ticket_seq, target, start_at, due_at, met_at) VALUES (1, ?, 0, 400, ?)',
      ).run('onsite', 300);
      const store = new SqliteTicketStore(db);
      const t = await store.get('T-1');
      expect(t?.sla.response).toEqual(fixedClock(0, 100));
      expect(t?.sla.onsite).toEqual(fixedClock(0, 400, 300));
      db.close();
    } finally {
      tmp.cleanup();
    }
  });
});
