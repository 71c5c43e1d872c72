import { afterEach, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../ingest/devices.js';
import { SqliteDeviceStore } from '../ingest/sqlite-device-store.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { Outbox } from '../notify/outbox.js';
import { SqliteOutboxStore } from '../notify/sqlite-outbox-store.js';
import { partsSchema } from '../parts/config.js';
import { SqliteStockStore } from '../parts/sqlite-stock-store.js';
import { PartsStock } from '../parts/stock.js';
import { silentLogger } from '../test/helpers.js';
import { TicketService } from '../tickets/service.js';
import { firstWarningAt, slaSchema } from '../tickets/sla-policy.js';
import { SqliteTicketStore } from '../tickets/sqlite-store.js';
import { wireParts } from './parts.js';

describe('wireParts', () => {
  let db: SqliteDatabase;
  afterEach(() => db.close());

  it('a ticket filed in the same millisecond as the question is part of the history', async () => {
    db = openDatabase(':memory:');
    const now = () => Date.parse('2026-11-24T08:00:00Z');
    const policy = slaSchema.parse({});
    const tickets = new TicketService({
      store: new SqliteTicketStore(db, (c) => firstWarningAt(policy, c)),
      policy,
      logger: silentLogger,
      site: (id) => ({ id, name: id, area: 'local', timezone: 'UTC' }),
      teams: [],
      routing: { autoAssign: false },
      now,
    });
    const planner = await wireParts({
      stock: new PartsStock(new SqliteStockStore(db), partsSchema.parse({})),
      tickets,
      registry: new DeviceRegistry(new SqliteDeviceStore(db), [], []),
      outbox: new Outbox(new SqliteOutboxStore(db), now),
      logger: silentLogger,
      now,
    });
    await tickets.createManual({
      title: 'Door interlock fails',
      description: '',
      priority: 'general',
      source: 'phone',
      reporter: { name: 'Operator' },
      faultType: 'mechanical',
      equipmentModel: 'press-x',
      actor: 'test',
    });
    expect(await planner.faultMap()).toMatchObject([
      { model: 'press-x', faultType: 'mechanical', tickets: 1, repairs: 0 },
    ]);
  });
});
