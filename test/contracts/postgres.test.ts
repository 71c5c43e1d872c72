import { afterAll, beforeAll } from 'vitest';
import { PgApiKeyStore } from '../../api/pg-key-store.js';
import { PgSessionStore } from '../../api/pg-session-store.js';
import { PgUserStore } from '../../api/pg-user-store.js';
import { PgDeadLetterStore } from '../../ingest/pg-dead-letter-store.js';
import { PgDeviceStore } from '../../ingest/pg-device-store.js';
import { openPool, type PgPool } from '../../lib/pg.js';
import { PgOutboxStore } from '../../notify/pg-outbox-store.js';
import { PgStockStore } from '../../parts/pg-stock-store.js';
import { PgAlertStore } from '../../rules/pg-alert-store.js';
import { PgOwnershipStore } from '../../rules/pg-ownership-store.js';
import { PgSilenceStore } from '../../rules/pg-silence-store.js';
import { PgPreventiveStore } from '../../tickets/pg-preventive-store.js';
import { PgTicketStore } from '../../tickets/pg-store.js';
import { describeIf } from '../servers/common.js';
import { type PostgresServer, postgresBin, startPostgres } from '../servers/postgres.js';
import { alertStoreContract } from './alert-store.js';
import { apiKeyStoreContract } from './api-stores.js';
import { deadLetterStoreContract, deviceStoreContract } from './ingest-stores.js';
import { outboxStoreContract } from './outbox-store.js';
import { ownershipStoreContract } from './ownership-store.js';
import { stockStoreContract } from './parts-store.js';
import { preventiveStoreContract } from './preventive-store.js';
import { silenceStoreContract } from './rule-stores.js';
import { sessionStoreContract } from './session-store.js';
import { ticketStoreContract } from './ticket-store.js';
import { userStoreContract } from './user-store.js';

/**
 * The store contracts against PostgreSQL (issue 20): a private server started for this file
 * (initdb in a temp dir, a free port), a fresh database for every test.
 */
const { describe, label } = describeIf(
  postgresBin() !== undefined,
  'PostgreSQL',
  'apt-get install postgresql',
);

describe(`store contracts on PostgreSQL${label}`, () => {
  let server: PostgresServer;
  let n = 0;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
  });

  function postgres<S>(open: (pool: PgPool) => Promise<S>) {
    return async () => {
      const url = await server.createDatabase(`contract_${++n}`);
      const pool = openPool({ url, poolSize: 4, statementTimeoutMs: 10_000 });
      return {
        store: await open(pool),
        cleanup: async () => {
          await pool.end();
        },
      };
    };
  }

  ticketStoreContract('PostgreSQL', postgres(PgTicketStore.open));
  outboxStoreContract('PostgreSQL', postgres(PgOutboxStore.open));
  silenceStoreContract('PostgreSQL', postgres(PgSilenceStore.open));
  alertStoreContract('PostgreSQL', postgres(PgAlertStore.open));
  ownershipStoreContract('PostgreSQL', postgres(PgOwnershipStore.open));
  apiKeyStoreContract('PostgreSQL', postgres(PgApiKeyStore.open));
  userStoreContract('PostgreSQL', postgres(PgUserStore.open));
  sessionStoreContract('PostgreSQL', postgres(PgSessionStore.open));
  preventiveStoreContract('PostgreSQL', postgres(PgPreventiveStore.open));
  deviceStoreContract('PostgreSQL', postgres(PgDeviceStore.open));
  stockStoreContract('PostgreSQL', postgres(PgStockStore.open));
  deadLetterStoreContract('PostgreSQL', (max) => postgres((pool) => PgDeadLetterStore.open(pool, max))());
});
