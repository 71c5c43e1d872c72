import { join } from 'node:path';
import { SqliteApiKeyStore } from '../../api/sqlite-key-store.js';
import { SqliteSessionStore } from '../../api/sqlite-session-store.js';
import { SqliteUserStore } from '../../api/sqlite-user-store.js';
import { SqliteDeadLetterStore } from '../../ingest/sqlite-dead-letter-store.js';
import { SqliteDeviceStore } from '../../ingest/sqlite-device-store.js';
import { openDatabase } from '../../lib/sqlite.js';
import { SqliteOutboxStore } from '../../notify/sqlite-outbox-store.js';
import { SqliteStockStore } from '../../parts/sqlite-stock-store.js';
import { SqliteAlertStore } from '../../rules/sqlite-alert-store.js';
import { SqliteSilenceStore } from '../../rules/sqlite-silence-store.js';
import { SqlitePreventiveStore } from '../../tickets/sqlite-preventive-store.js';
import { SqliteTicketStore } from '../../tickets/sqlite-store.js';
import { tempDir } from '../helpers.js';
import { alertStoreContract } from './alert-store.js';
import { apiKeyStoreContract } from './api-stores.js';
import { deadLetterStoreContract, deviceStoreContract } from './ingest-stores.js';
import { outboxStoreContract } from './outbox-store.js';
import { stockStoreContract } from './parts-store.js';
import { preventiveStoreContract } from './preventive-store.js';
import { silenceStoreContract } from './rule-stores.js';
import { sessionStoreContract } from './session-store.js';
import { ticketStoreContract } from './ticket-store.js';
import { userStoreContract } from './user-store.js';

/** Every store contract against the SQLite implementations (a file in WAL mode, as the gateway runs). */
function sqlite<S>(build: (db: ReturnType<typeof openDatabase>) => S) {
  return async () => {
    const tmp = tempDir();
    const db = openDatabase(join(tmp.dir, 'state.db'));
    return {
      store: build(db),
      cleanup: async () => {
        db.close();
        tmp.cleanup();
      },
    };
  };
}

ticketStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteTicketStore(db)),
);
// As the gateway runs it: a turn to write with, so occurrences are counted in memory (issue 19).
ticketStoreContract(
  'SQLite (file, WAL), occurrences kept in memory',
  sqlite((db) => {
    const store = new SqliteTicketStore(db);
    store.writeAtCommit({
      active: false,
      beforeCommit: (flush) => flush(),
      dropped: (err) => {
        throw err;
      },
    });
    return store;
  }),
);
alertStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteAlertStore(db)),
);
deviceStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteDeviceStore(db)),
);
deadLetterStoreContract('SQLite (file, WAL)', (max) => sqlite((db) => new SqliteDeadLetterStore(db, max))());
silenceStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteSilenceStore(db)),
);
apiKeyStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteApiKeyStore(db)),
);
userStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteUserStore(db)),
);
sessionStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteSessionStore(db)),
);
preventiveStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqlitePreventiveStore(db)),
);
stockStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteStockStore(db)),
);
outboxStoreContract(
  'SQLite (file, WAL)',
  sqlite((db) => new SqliteOutboxStore(db)),
);
