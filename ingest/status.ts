import type { Forwarder, ForwarderCounters } from './forwarder.js';
import type { Ingest, IngestCounters } from './ingest.js';
import type { DeadLetterStore, TelemetryLog } from './store.js';

/** One source of readings as it reports itself (the adapters' status, without importing them). */
export interface SourceStatus {
  id: string;
  protocol: string;
  state: string;
  details: Record<string, unknown>;
}

/** What `GET /api/v1/ingest` shows: where every accepted reading is. */
export interface IngestStatus {
  readings: IngestCounters;
  spool: {
    batches: number;
    points: number;
    bytes: number;
    oldestAt: number | null;
    /** Readings dropped at the spool's size or age bound since start. */
    dropped: number;
  };
  influx: (ForwarderCounters & { target: string }) | null;
  deadLetters: number;
  sources: SourceStatus[];
}

export interface StatusSources {
  ingest: Ingest;
  log: TelemetryLog;
  forwarder: { instance: Forwarder; target: string } | null;
  deadLetters: DeadLetterStore;
  spoolDropped: () => number;
  sources: () => SourceStatus[];
}

export async function ingestStatus(s: StatusSources): Promise<IngestStatus> {
  const spool = await s.log.stats();
  return {
    readings: { ...s.ingest.counters },
    spool: { ...spool, dropped: s.spoolDropped() },
    influx: s.forwarder ? { ...s.forwarder.instance.counters, target: s.forwarder.target } : null,
    deadLetters: await s.deadLetters.count(),
    sources: s.sources(),
  };
}
