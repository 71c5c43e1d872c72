import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Point } from '../ingest/point.js';
import { NOTES_PER_WINDOW } from '../tickets/alert-intake.js';
import type { Ticket } from '../tickets/model.js';
import { auth, gatewayFixture, getJson, waitFor } from './helpers.js';

/**
 * Issue 19: the state changes of one turn's readings commit together. A write that fails in the
 * middle of the turn — here SQLite refusing one ticket's timeline entry, after its ticket row and
 * clocks were written — must leave no half-written ticket, lose nothing acknowledged, and keep the
 * turn's other tickets, alerts and events.
 */
describe('the state path commits one unit of work per turn', () => {
  const f = gatewayFixture('rules:\n  files: [rules.yaml]\n', {
    'rules.yaml': `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90 }
    ticket: { priority: general, faultType: thermal }
`,
  });
  const reading = (deviceId: string, temperature: number, at = Date.now()): Point => ({
    deviceId,
    ts: at,
    receivedAt: at,
    fields: { temperature },
    source: 'test',
  });
  /** Once the state path's changes so far are committed (the unit of work may span a burst's turns). */
  const committed = () => new Promise<void>((done) => f.gw.unitOfWork.afterCommit(done));

  it('a failure midway through a turn isolates that item; the rest of the turn commits', async () => {
    const state = new Database(join(f.dir, 'data', 'state.db'));
    try {
      state.exec(`CREATE TRIGGER refuse_bad BEFORE INSERT ON ticket_events
        WHEN (SELECT device_id FROM tickets WHERE seq = NEW.ticket_seq) = 'pump-bad'
        BEGIN SELECT RAISE(ABORT, 'injected: the timeline entry could not be written'); END`);
      // Known and online first (coming online is a reading of its own).
      const t = Date.now() - 1_000;
      await f.gw.ingest.accept([
        reading('pump-1', 60, t),
        reading('pump-bad', 60, t),
        reading('pump-2', 60, t),
      ]);
      await waitFor(
        async () => {
          for (const d of ['pump-1', 'pump-bad', 'pump-2']) {
            const r = await getJson<{ connectivity: { state: string } }>(f.api(`/devices/${d}`));
            if (r.body.connectivity?.state !== 'online') return undefined;
          }
          return true;
        },
        5_000,
        'devices online',
      );
      const commits = f.gw.unitOfWork.stats.commits;
      const accepted = (await f.gw.spool.stats()).points;

      // One accept: one spool commit, then the rules see all three readings in one turn.
      await f.gw.ingest.accept([reading('pump-1', 95), reading('pump-bad', 96), reading('pump-2', 97)]);
      await f.gw.alerts.idle();
      await committed();

      // Nothing acknowledged is lost: all three readings are in the spool.
      expect((await f.gw.spool.stats()).points - accepted).toBe(3);
      // The turn's state went out in one commit.
      expect(f.gw.unitOfWork.stats.commits - commits).toBe(1);
      expect(f.gw.unitOfWork.stats.failedCommits).toBe(0);
      // The other two tickets are whole: row, clocks, timeline; none half-written for pump-bad.
      const tickets = state
        .prepare(`SELECT seq, device_id FROM tickets WHERE rule_id = 'hot' ORDER BY device_id`)
        .all() as { seq: number; device_id: string }[];
      expect(tickets.map((t) => t.device_id)).toEqual(['pump-1', 'pump-2']);
      for (const t of tickets) {
        const clocks = state.prepare('SELECT count(*) AS n FROM sla_clocks WHERE ticket_seq = ?').get(t.seq);
        expect((clocks as { n: number }).n).toBeGreaterThan(0);
        const created = state
          .prepare(`SELECT count(*) AS n FROM ticket_events WHERE ticket_seq = ? AND type = 'created'`)
          .get(t.seq);
        expect((created as { n: number }).n).toBe(1);
      }
      const orphans = state
        .prepare('SELECT count(*) AS n FROM sla_clocks WHERE ticket_seq NOT IN (SELECT seq FROM tickets)')
        .get() as { n: number };
      expect(orphans.n).toBe(0);
      // Every alert of the turn is recorded, with its event.
      for (const d of ['pump-1', 'pump-bad', 'pump-2']) {
        const a = await getJson<{ state: string }>(f.api(`/alerts/hot@${d}`));
        expect(a.body.state).toBe('firing');
      }
      const firing = state.prepare(`SELECT count(*) AS n FROM events WHERE type = 'alert.firing'`).get();
      expect((firing as { n: number }).n).toBe(3);
      const created = state.prepare(`SELECT count(*) AS n FROM events WHERE type = 'ticket.created'`).get();
      expect((created as { n: number }).n).toBe(2);

      // Once the store takes writes again, pump-bad's next firing opens its ticket.
      state.exec('DROP TRIGGER refuse_bad');
      const t0 = Date.now() + 1;
      await f.gw.ingest.accept([reading('pump-bad', 50, t0)]);
      await f.gw.ingest.accept([reading('pump-bad', 98, t0 + 1)]);
      await f.gw.alerts.idle();
      await committed();
      const bad = state
        .prepare(`SELECT count(*) AS n FROM tickets WHERE device_id = 'pump-bad' AND is_open = 1`)
        .get() as { n: number };
      expect(bad.n).toBe(1);
    } finally {
      state.close();
    }
  });

  it('re-firings of an open ticket within a turn are occurrences, committed with the turn', async () => {
    const commits = f.gw.unitOfWork.stats.commits;
    const t0 = Date.now() + 10;
    // pump-1's alert clears and fires again ten times in one batch: one ticket, ten occurrences.
    const flaps: Point[] = [];
    for (let i = 0; i < 20; i++) flaps.push(reading('pump-1', i % 2 === 0 ? 50 : 99, t0 + i));
    await f.gw.ingest.accept(flaps);
    await f.gw.alerts.idle();
    await committed();
    expect(f.gw.unitOfWork.stats.commits - commits).toBe(1);
    const page = await f.gw.tickets.list({ deviceId: 'pump-1', ruleId: 'hot' }, 'urgency', 10);
    expect(page.items).toHaveLength(1);
    const ticket = page.items[0] as Ticket;
    // The counter is exact at once; the timeline notes the first changes of the minute one by one
    // (the creation was one) and sums the rest when the window ends (here: flushed).
    expect(ticket.occurrences).toBe(10);
    // One entry per change, or a summary: "4 more occurrences since …", "alert … resolved 4 more times …".
    const amount = (note: string | null) => Number(/(\d+) more /.exec(note ?? '')?.[1] ?? 1);
    const counted = async (type: string) => {
      const entries = (await f.gw.tickets.timeline(ticket.id)).filter((e) => e.type === type);
      return { entries: entries.length, total: entries.reduce((n, e) => n + amount(e.note), 0) };
    };
    const before = await counted('occurrence');
    expect(before.total).toBeLessThan(10);
    await f.gw.intake.flush();
    const occurrences = await counted('occurrence');
    const recoveries = await counted('alert_resolved');
    expect(occurrences.total).toBe(10);
    expect(recoveries.total).toBe(10);
    expect(occurrences.entries + recoveries.entries).toBeLessThanOrEqual(NOTES_PER_WINDOW + 2);
    // The figures in /metrics.
    const text = await (await fetch(`${f.gw.apiUrl}/metrics`, { headers: auth() })).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('faultline_state_commits_total')).toBe(f.gw.unitOfWork.stats.commits);
    expect(value('faultline_state_commit_failures_total')).toBe(0);
    expect(value('faultline_alert_transitions_total')).toBe(f.gw.engine.transitions);
    expect(f.gw.engine.transitions).toBeGreaterThanOrEqual(3 + 2 + 6);
  });
});
