import { afterEach, describe, expect, it, vi } from 'vitest';
import { UnitOfWork } from '../lib/unit-of-work.js';
import type { NewEvent } from '../notify/outbox.js';
import { SqliteOutboxStore } from '../notify/sqlite-outbox-store.js';
import type { Alert } from '../rules/alerts.js';
import { SqliteAlertStore } from '../rules/sqlite-alert-store.js';
import { HISTORY_WRITE_MS } from '../rules/sqlite-alert-writes.js';
import { OCCURRENCES_WRITE_MS } from '../tickets/sqlite-occurrences.js';
import { SqliteTicketStore } from '../tickets/sqlite-store.js';
import { sqliteFiles } from './helpers.js';

/**
 * Issue 19: inside a turn the SQLite alert and outbox stores keep their rows and write them at the
 * unit of work's commit. Another connection (the API worker) sees them only once committed; the
 * store's own reads see them at once; seqs are the file's next ones.
 */
describe('rows kept for the turn commit (SQLite alert and outbox stores)', () => {
  const files = sqliteFiles();
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(name: string) {
    const { db, reader } = files(name);
    const errors: unknown[] = [];
    const turnEnds: (() => void)[] = [];
    const uow = new UnitOfWork(
      db,
      (err) => errors.push(err),
      (fn) => turnEnds.push(fn),
      0,
    );
    const endTurn = () => {
      for (const fn of turnEnds.splice(0)) fn();
    };
    const alerts = new SqliteAlertStore(db);
    const outbox = new SqliteOutboxStore(db);
    alerts.writeAtCommit(uow);
    outbox.writeAtCommit(uow);
    const rows = (sql: string) => reader.prepare(sql).all() as Record<string, unknown>[];
    return { db, uow, endTurn, alerts, outbox, rows, errors };
  }

  const alert = (id: string, state: Alert['state'], at: number): Alert => ({
    id,
    ruleId: 'hot',
    deviceId: id.split('@')[1] ?? id,
    state,
    priority: 'general',
    faultType: 'thermal',
    value: 91,
    activeAt: at,
    firedAt: state === 'firing' ? at : null,
    resolvedAt: state === 'resolved' ? at : null,
    fireCount: 1,
    flapping: false,
    silencedBy: null,
    updatedAt: at,
  });
  const change = (event: 'firing' | 'resolved', at: number) => ({
    at,
    event,
    value: 91,
    priority: 'general' as const,
    silencedBy: null,
  });

  it('an alert changed twice in a turn is written once at the commit, its history within a second', async () => {
    const { uow, endTurn, alerts, rows } = setup('alerts');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    uow.join();
    await alerts.upsert(alert('hot@p1', 'firing', 1), change('firing', 1));
    await alerts.upsert(alert('hot@p1', 'resolved', 2), change('resolved', 2));
    await alerts.upsert(alert('hot@p2', 'firing', 3), change('firing', 3));
    // Not yet on the file for another connection…
    expect(rows('SELECT id FROM alerts')).toEqual([]);
    endTurn();
    expect(uow.active).toBe(false);
    // …and once committed, the last state of each alert…
    expect(rows('SELECT id, state FROM alerts ORDER BY id')).toEqual([
      { id: 'hot@p1', state: 'resolved' },
      { id: 'hot@p2', state: 'firing' },
    ]);
    // …then, within HISTORY_WRITE_MS, every change in order (in a transaction of its own: no turn is open).
    expect(rows('SELECT alert_id FROM alert_history')).toEqual([]);
    vi.advanceTimersByTime(HISTORY_WRITE_MS);
    vi.useRealTimers();
    expect(rows('SELECT alert_id, event FROM alert_history ORDER BY seq')).toEqual([
      { alert_id: 'hot@p1', event: 'firing' },
      { alert_id: 'hot@p1', event: 'resolved' },
      { alert_id: 'hot@p2', event: 'firing' },
    ]);
  });

  it("the store's own reads see the turn's kept rows; outside a turn an upsert writes at once", async () => {
    const { uow, endTurn, alerts, rows } = setup('reads');
    uow.join();
    await alerts.upsert(alert('hot@p1', 'firing', 1), change('firing', 1));
    expect((await alerts.get('hot@p1'))?.state).toBe('firing');
    expect((await alerts.history('hot@p1', 10)).map((h) => h.event)).toEqual(['firing']);
    expect((await alerts.list({}, 10)).items.map((a) => a.id)).toEqual(['hot@p1']);
    // Written by the read, inside the turn's transaction: still not committed.
    expect(rows('SELECT id FROM alerts')).toEqual([]);
    endTurn();
    await alerts.upsert(alert('hot@p3', 'firing', 5), change('firing', 5));
    expect(rows('SELECT id FROM alerts ORDER BY id')).toEqual([{ id: 'hot@p1' }, { id: 'hot@p3' }]);
    // History kept past its turn: the store's read sees it; the stop writes it.
    uow.join();
    await alerts.upsert(alert('hot@p1', 'resolved', 6), change('resolved', 6));
    endTurn();
    expect(rows(`SELECT event FROM alert_history WHERE alert_id = 'hot@p1'`)).toEqual([{ event: 'firing' }]);
    uow.join();
    await alerts.upsert(alert('hot@p2', 'firing', 7), change('firing', 7));
    alerts.writeKept();
    endTurn();
    expect(rows(`SELECT alert_id, event FROM alert_history WHERE seq > 1 ORDER BY seq`)).toEqual([
      { alert_id: 'hot@p3', event: 'firing' }, // outside a turn: at once
      { alert_id: 'hot@p1', event: 'resolved' },
      { alert_id: 'hot@p2', event: 'firing' },
    ]);
  });

  const event = (subject: string, type: NewEvent['type'] = 'alert.firing'): NewEvent => ({
    type,
    at: 1,
    subject,
    site: null,
    customer: null,
    data: { subject },
  });

  it("events of a turn take the file's next seqs, never a pruned one, with their deliveries", async () => {
    const { db, uow, endTurn, outbox, rows } = setup('events');
    // Outside a turn: written at once (seq 1, 2); the newest is then deleted — its seq is not reused.
    expect((await outbox.append(event('a'), [], [], 1)).seq).toBe(1);
    expect((await outbox.append(event('b'), [], [], 1)).seq).toBe(2);
    db.prepare('DELETE FROM events WHERE seq = 2').run();
    await outbox.insertWebhook({
      id: 'W-1',
      url: 'https://example.com/hook',
      types: ['alert.*'],
      secret: 's',
      description: '',
      active: true,
      createdAt: 1,
    });
    uow.join();
    const stored = [
      await outbox.append(event('c'), ['W-1'], [], 10),
      await outbox.append(event('d'), [], [{ to: 'ops@example.com', subject: 's', text: 't' }], 10),
    ];
    expect(stored.map((e) => e.seq)).toEqual([3, 4]);
    expect(rows('SELECT seq FROM events WHERE seq > 1')).toEqual([]);
    // This store's reads see them already.
    expect((await outbox.since(1, 10)).map((e) => e.subject)).toEqual(['c', 'd']);
    endTurn();
    expect(rows('SELECT seq, subject, data FROM events ORDER BY seq')).toEqual([
      { seq: 1, subject: 'a', data: '{"subject":"a"}' },
      { seq: 3, subject: 'c', data: '{"subject":"c"}' },
      { seq: 4, subject: 'd', data: '{"subject":"d"}' },
    ]);
    expect(rows('SELECT id, event_seq, state FROM deliveries')).toEqual([
      { id: 'msg_3_W-1', event_seq: 3, state: 'pending' },
    ]);
    expect(rows('SELECT id, event_seq, to_addr FROM mails')).toEqual([
      { id: 'mail_4_1', event_seq: 4, to_addr: 'ops@example.com' },
    ]);
    // After the turn, outside one: the file's AUTOINCREMENT goes on from there.
    expect((await outbox.append(event('e'), [], [], 11)).seq).toBe(5);
  });

  const hot = (deviceId: string) =>
    ({
      title: 'Overheat',
      description: '',
      priority: 'general',
      status: 'open',
      source: 'monitoring',
      deviceId,
      site: 'default',
      area: 'local',
      customer: null,
      equipmentModel: null,
      ruleId: 'hot',
      alertId: `hot@${deviceId}`,
      faultType: 'thermal',
      reportedAt: 1,
      createdAt: 1,
      updatedAt: 1,
      sla: {},
      assignees: [],
      team: null,
      labels: {},
      reporter: null,
    }) as Parameters<SqliteTicketStore['openOrRecur']>[0];

  it('occurrences of an open ticket are counted in memory, on the file within a second, exact to the store', async () => {
    const { db, uow, endTurn, rows } = setup('occurrences');
    const tickets = new SqliteTicketStore(db);
    tickets.writeAtCommit(uow);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { ticket } = await tickets.openOrRecur(hot('p1'), 1);
    uow.join();
    for (let at = 10; at <= 50; at += 10) expect(await tickets.count('hot', 'p1', at)).toBe(ticket.id);
    endTurn();
    // The first went to the file (it named the open ticket); the other four wait for their second…
    expect(rows('SELECT occurrences, last_occurrence_at FROM tickets')).toEqual([
      { occurrences: 1, last_occurrence_at: 10 },
    ]);
    uow.join();
    expect(await tickets.count('hot', 'p1', 60)).toBe(ticket.id);
    vi.advanceTimersByTime(OCCURRENCES_WRITE_MS);
    // …written with the open turn's commit.
    expect(rows('SELECT occurrences FROM tickets')).toEqual([{ occurrences: 1 }]);
    endTurn();
    expect(rows('SELECT occurrences, last_occurrence_at, updated_at FROM tickets')).toEqual([
      { occurrences: 6, last_occurrence_at: 60, updated_at: 60 },
    ]);
    // The store's own reads are exact at once.
    expect(await tickets.count('hot', 'p1', 70)).toBe(ticket.id);
    expect(await tickets.get(ticket.id)).toMatchObject({ occurrences: 7, lastOccurrenceAt: 70 });
    // Closed through the store: what was counted is written first, and the pair has no open ticket.
    expect(await tickets.count('hot', 'p1', 80)).toBe(ticket.id);
    await tickets.update(ticket.id, (t) => ({ ticket: { ...t, status: 'closed', finalAt: 90 }, events: [] }));
    expect(await tickets.count('hot', 'p1', 100)).toBeUndefined();
    expect(rows('SELECT occurrences, is_open FROM tickets')).toEqual([{ occurrences: 8, is_open: 0 }]);
  });

  it('a ticket whose opening was rolled back is asked of the file again, not counted forever', async () => {
    const { db, uow, rows } = setup('rolled-back');
    const tickets = new SqliteTicketStore(db);
    tickets.writeAtCommit(uow);
    db.exec('BEGIN');
    const { ticket } = await tickets.openOrRecur(hot('p1'), 1);
    expect(await tickets.count('hot', 'p1', 10)).toBe(ticket.id); // names the open ticket
    db.exec('ROLLBACK'); // a failed commit
    // Counted against the ticket it knew (lost with the turn, as a crash would lose it)…
    expect(await tickets.count('hot', 'p1', 20)).toBe(ticket.id);
    // …until that count is written and finds no open ticket: the pair is asked of the file again.
    expect(await tickets.timeline(ticket.id)).toEqual([]);
    expect(await tickets.count('hot', 'p1', 30)).toBeUndefined();
    expect(rows('SELECT COUNT(*) AS n FROM tickets')).toEqual([{ n: 0 }]);
  });
});
