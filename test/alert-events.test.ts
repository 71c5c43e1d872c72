import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Point } from '../ingest/point.js';
import { NOTES_PER_WINDOW } from '../tickets/alert-intake.js';
import { startFromFile, tempDir, writeFiles } from './helpers.js';

const RULES = `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90 }
    ticket: { priority: general, faultType: thermal }
`;

interface Row {
  seq: number;
  type: string;
  subject: string;
  data: string;
}

/**
 * Issue 19: a flapping alert tells webhooks and streams its first changes of the minute one by one,
 * then only its latest state when the minute ends (or at the stop) — as its ticket's timeline does.
 */
describe('the events of a flapping alert', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const reading = (deviceId: string, temperature: number, at: number): Point => ({
    deviceId,
    ts: at,
    receivedAt: at,
    fields: { temperature },
    source: 'test',
  });
  const flaps = (deviceId: string, n: number, t0: number): Point[] =>
    Array.from({ length: n }, (_, i) => reading(deviceId, i % 2 === 0 ? 99 : 50, t0 + i));

  it('are told one by one up to the minute’s budget, then as the latest state at the stop', async () => {
    writeFiles(tmp.dir, { 'faultline.yaml': 'rules:\n  files: [rules.yaml]\n', 'rules.yaml': RULES });
    const gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
    let ticketId = '';
    try {
      // 21 changes: fires on even readings, clears on odd ones, fires last (11 firings, 10 recoveries).
      await gw.ingest.accept(flaps('pump-1', 21, Date.now()));
      await gw.alerts.idle();
      await gw.outbox.idle();
      const told = (await gw.outbox.since(0, 1000)).filter((e) => e.subject === 'hot@pump-1');
      expect(told.map((e) => e.type)).toEqual(
        Array.from({ length: NOTES_PER_WINDOW }, (_, i) => (i % 2 === 0 ? 'alert.firing' : 'alert.resolved')),
      );
      // A ticket the alert opened comes after the alert's event that opened it.
      const all = await gw.outbox.since(0, 1000);
      const created = all.find((e) => e.type === 'ticket.created');
      expect(created?.seq).toBeGreaterThan(told[0]?.seq ?? Number.POSITIVE_INFINITY);
      ticketId = created?.subject ?? '';
      // The ticket is cancelled; the next firing opens a new one, after the firing is told
      // (held back until then: the budget is spent).
      await gw.tickets.transition(ticketId, 'cancelled', { actor: 'test', note: 'a test' });
      await gw.ingest.accept([
        reading('pump-1', 50, Date.now() + 100),
        reading('pump-1', 99, Date.now() + 101),
      ]);
      await gw.alerts.idle();
      await gw.outbox.idle();
      const after = (await gw.outbox.since(told.at(-1)?.seq ?? 0, 1000))
        .filter((e) => e.type.startsWith('alert.') || e.type === 'ticket.created')
        .map((e) => e.type);
      expect(after).toEqual(['alert.firing', 'ticket.created']);
    } finally {
      await gw.stop();
    }
    // The stop tells what was held: nothing here (the release above told the latest state).
    const db = new Database(join(tmp.dir, 'data', 'state.db'), { readonly: true });
    try {
      const rows = db
        .prepare("SELECT seq, type, subject, data FROM events WHERE type LIKE 'alert.%' ORDER BY seq")
        .all() as Row[];
      expect(rows).toHaveLength(NOTES_PER_WINDOW + 1);
      const last = JSON.parse((rows.at(-1) as Row).data) as { state: string; fireCount: number };
      expect(last).toMatchObject({ state: 'firing', fireCount: 12 });
    } finally {
      db.close();
    }
  });

  it('hold the latest state of each flapping alert until the stop, never losing it', async () => {
    const dir = join(tmp.dir, 'second');
    writeFiles(dir, { 'faultline.yaml': 'rules:\n  files: [rules.yaml]\n', 'rules.yaml': RULES });
    const gw = await startFromFile(join(dir, 'faultline.yaml'), join(dir, 'data'));
    try {
      await gw.ingest.accept([...flaps('pump-1', 20, Date.now()), ...flaps('pump-2', 9, Date.now())]);
      await gw.alerts.idle();
      await gw.outbox.idle();
    } finally {
      await gw.stop();
    }
    const db = new Database(join(dir, 'data', 'state.db'), { readonly: true });
    try {
      const rows = db
        .prepare("SELECT seq, type, subject, data FROM events WHERE type LIKE 'alert.%' ORDER BY seq")
        .all() as Row[];
      const of = (id: string) => rows.filter((r) => r.subject === id);
      // pump-1: 6 told, the 14 others held as one (its last change: resolved, 10 firings).
      expect(of('hot@pump-1')).toHaveLength(NOTES_PER_WINDOW + 1);
      expect(JSON.parse((of('hot@pump-1').at(-1) as Row).data)).toMatchObject({
        state: 'resolved',
        fireCount: 10,
      });
      expect((of('hot@pump-1').at(-1) as Row).type).toBe('alert.resolved');
      // pump-2: 9 changes, 6 told and the latest (firing, 5 firings) at the stop.
      expect(JSON.parse((of('hot@pump-2').at(-1) as Row).data)).toMatchObject({
        state: 'firing',
        fireCount: 5,
      });
      expect(of('hot@pump-2')).toHaveLength(NOTES_PER_WINDOW + 1);
    } finally {
      db.close();
    }
  });
});
