import { describe, expect, it } from 'vitest';
import { sqliteFiles } from '../test/helpers.js';
import { newState } from './evaluate.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';

describe('SqliteAlertStore: saved rule state', () => {
  const files = sqliteFiles();

  it('a row whose state text is damaged loads as null (the engine drops that series), the others as saved', async () => {
    const { db } = files('damaged-state');
    const store = new SqliteAlertStore(db);
    const state = newState({ lastTs: 5_000, since: 5_000, state: 'pending' });
    await store.saveMany([
      { alertId: 'hot@m1', ruleId: 'hot', fingerprint: 'f', deviceId: 'm1', state },
      { alertId: 'hot@m2', ruleId: 'hot', fingerprint: 'f', deviceId: 'm2', state },
    ]);
    db.prepare(`UPDATE rule_state SET state = '{"lastTs": 5' WHERE alert_id = 'hot@m2'`).run();
    const loaded = await store.loadAll();
    expect(loaded.map((e) => [e.alertId, e.state === null ? null : e.state.lastTs])).toEqual([
      ['hot@m1', 5_000],
      ['hot@m2', null],
    ]);
  });
});
