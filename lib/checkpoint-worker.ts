import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './sqlite.js';

/**
 * The checkpoint thread (lib/checkpoint.ts): its own connection to each database, a PASSIVE
 * checkpoint of each every `intervalMs` (it never waits for the writer or readers: what it cannot
 * copy now is copied next time), the WAL's size after it reported to the main thread.
 */
export interface CheckpointWorkerData {
  files: string[];
  intervalMs: number;
}

export type FromCheckpointer =
  | { t: 'ready' }
  | { t: 'checkpointed'; file: string; walPages: number; copied: number }
  | { t: 'failed'; file: string; error: string };

const port = parentPort;
if (!port) throw new Error('checkpoint-worker.ts runs as a worker thread (lib/checkpoint.ts starts it)');
const data = workerData as CheckpointWorkerData;
const post = (m: FromCheckpointer) => port.postMessage(m);

const dbs = data.files.map((file) => ({ file, db: openDatabase(file) }));

function checkpointAll(): void {
  for (const { file, db } of dbs) {
    try {
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as {
        busy: number;
        log: number;
        checkpointed: number;
      }[];
      post({ t: 'checkpointed', file, walPages: r?.log ?? 0, copied: r?.checkpointed ?? 0 });
    } catch (err) {
      post({ t: 'failed', file, error: (err as Error).message });
    }
  }
}

const timer = setInterval(checkpointAll, data.intervalMs);
port.on('message', (m: { t: 'close' }) => {
  if (m.t !== 'close') return;
  clearInterval(timer);
  checkpointAll();
  for (const { db } of dbs) db.close();
  port.close();
});
post({ t: 'ready' });
