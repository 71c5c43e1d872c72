import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { SqliteDatabase } from '../../lib/sqlite.js';
import { gatewayFixture, getJson, waitFor } from '../helpers.js';

/**
 * Issue 11: a full disk must not lose what was accepted nor pretend to accept: the reading that cannot
 * be made durable is not acknowledged (the device keeps it), the gateway stays up, and once there is
 * room again readings are acknowledged again. The disk is filled for the spool only, through SQLite's
 * own limit (`max_page_count` → SQLITE_FULL, the error a full disk gives).
 */
describe('faults: disk full under the spool', () => {
  const g = gatewayFixture('sites: [{ id: north }]\n');

  const publish = async (clientId: string, body: object): Promise<'acknowledged' | 'refused'> => {
    const client = await mqtt.connectAsync(g.gw.mqttUrl as string, { clientId, reconnectPeriod: 0 });
    try {
      const ack = client.publishAsync('devices/press-1/telemetry', JSON.stringify(body), { qos: 1 }).then(
        () => 'acknowledged' as const,
        () => 'refused' as const,
      );
      const timeout = new Promise<'refused'>((r) => setTimeout(() => r('refused'), 2_000));
      return await Promise.race([ack, timeout]);
    } finally {
      client.end(true);
    }
  };

  it('the reading is not acknowledged, the gateway stays up, and acknowledges again once there is room', async () => {
    expect(await publish('before', { ts: Date.now(), rpm: 1 })).toBe('acknowledged');
    // The reading, and the device's first "online" transition (a reading of its own).
    await waitFor(async () => (g.gw.ingest.counters.accepted === 2 ? true : undefined));
    const db = (g.gw.spool as unknown as { db: SqliteDatabase }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const accepted = g.gw.ingest.counters.accepted;
    // Incompressible text bigger than a page: it needs new pages the "disk" does not have.
    const noise = randomBytes(40_000).toString('base64');
    expect(await publish('full', { ts: Date.now(), rpm: 2, note: noise })).toBe('refused');
    expect(g.gw.ingest.counters.accepted).toBe(accepted);
    expect((await getJson(`${g.gw.apiUrl}/health`, null)).status).toBe(200);
    db.pragma('max_page_count = 1073741823');
    expect(await publish('after', { ts: Date.now(), rpm: 3, note: noise })).toBe('acknowledged');
    expect(g.gw.ingest.counters.accepted).toBe(accepted + 1);
  });
});
