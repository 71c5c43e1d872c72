import { join } from 'node:path';
import { openDatabase } from '../lib/sqlite.js';
import { tempDir } from '../test/helpers.js';
import { SqliteTicketStore } from './sqlite-store.js';
import { ticketStoreContract } from './store-contract.js';

ticketStoreContract('SQLite (file, WAL)', async () => {
  const tmp = tempDir();
  const db = openDatabase(join(tmp.dir, 'state.db'));
  return {
    store: new SqliteTicketStore(db),
    cleanup: async () => {
      db.close();
      tmp.cleanup();
    },
  };
});
