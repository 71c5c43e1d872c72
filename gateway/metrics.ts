import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Adapter } from '../adapters/types.js';
import type { InstanceInfo } from '../api/app.js';
import type { IngestStatus } from '../ingest/status.js';

/**
 * Prometheus metrics (`GET /metrics`). Counters and gauges are read from the components' own
 * counters when scraped, so the hot path only increments plain numbers.
 */
export function createMetrics(
  status: () => Promise<IngestStatus>,
  adapters: () => readonly Adapter[],
  deviceStates: () => Record<string, number>,
  /** The API worker thread, when there is one (`api.worker`). */
  apiWorker: () => { up: boolean; restarts: number } | null = () => null,
  /** Open tickets per class (priority), read at each scrape. */
  openTickets: () => Promise<Record<string, number>> = async () => ({}),
  /** The rule engine's counters: evaluations that threw (one rule on one series), alert transitions. */
  engine: () => { evaluationErrors: number; transitions: number } | undefined = () => undefined,
  /** The state path's turn transactions (lib/unit-of-work.ts). */
  stateCommits: () => { commits: number; failedCommits: number; droppedRows: number } | undefined = () =>
    undefined,
  /** This instance: its id, storage, role, and (several instances) the devices it evaluates. */
  instance: () => InstanceInfo | undefined = () => undefined,
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'faultline_' });
  let snapshot: IngestStatus | undefined;

  // One status read per scrape, shared by every metric below.
  const refresh = async () => {
    snapshot = await status();
  };
  const counter = (name: string, help: string, read: (s: IngestStatus) => number | undefined) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = snapshot ? read(snapshot) : undefined;
        this.reset();
        if (v !== undefined) this.inc(v);
      },
    });
  const gauge = (name: string, help: string, read: (s: IngestStatus) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = snapshot ? read(snapshot) : undefined;
        if (v !== undefined) this.set(v);
      },
    });

  counter(
    'faultline_readings_accepted_total',
    'Readings made durable in the spool (and acknowledged).',
    (s) => s.readings.accepted,
  );
  counter(
    'faultline_readings_rejected_total',
    'Payloads rejected whole and dead-lettered.',
    (s) => s.readings.rejected,
  );
  counter(
    'faultline_readings_partially_rejected_total',
    'Readings kept with some keys dropped.',
    (s) => s.readings.partiallyRejected,
  );
  counter(
    'faultline_readings_time_rejected_total',
    'Readings refused for a time outside ingest.timestamps (included in rejected).',
    (s) => s.readings.timeRejected,
  );
  counter(
    'faultline_readings_time_restamped_total',
    'Readings kept with their receipt time instead of their own (ingest.timestamps.outOfRange: receipt).',
    (s) => s.readings.timeRestamped,
  );
  counter(
    'faultline_reading_listener_errors_total',
    'A consumer of durable readings (history, rules, connectivity) threw on one; the others still saw it.',
    (s) => s.readings.listenerErrors,
  );
  counter(
    'faultline_metrics_dropped_total',
    'Metrics dropped from readings: new names beyond ingest.maxMetricsPerDevice.',
    (s) => s.readings.metricsDropped,
  );
  counter(
    'faultline_readings_unknown_device_total',
    'Readings of unknown devices refused (ingest.autoRegister, ingest.maxAutoRegistered).',
    (s) => s.readings.unknownDeviceRejected,
  );
  gauge('faultline_spool_points', 'Readings held in the spool.', (s) => s.spool.points);
  gauge('faultline_spool_batches', 'Batches held in the spool.', (s) => s.spool.batches);
  gauge('faultline_spool_bytes', 'Compressed bytes held in the spool.', (s) => s.spool.bytes);
  gauge('faultline_spool_oldest_age_seconds', 'Age of the oldest batch in the spool.', (s) =>
    s.spool.oldestAt === null ? 0 : (Date.now() - s.spool.oldestAt) / 1000,
  );
  counter(
    'faultline_spool_dropped_total',
    'Readings dropped at the spool size or age bound.',
    (s) => s.spool.dropped,
  );
  counter('faultline_influx_lines_written_total', 'Lines InfluxDB accepted.', (s) => s.influx?.linesWritten);
  counter('faultline_influx_requests_total', 'Write requests sent to InfluxDB.', (s) => s.influx?.requests);
  gauge(
    'faultline_influx_longest_write_gap_seconds',
    'Longest time readings waited with no successful InfluxDB write since start.',
    (s) => (s.influx ? s.influx.longestWriteGapMs / 1000 : undefined),
  );
  counter(
    'faultline_influx_retries_total',
    'Failed write attempts that are retried.',
    (s) => s.influx?.retries,
  );
  counter(
    'faultline_influx_lines_dead_lettered_total',
    'Lines InfluxDB refused, kept as dead letters.',
    (s) => s.influx?.linesDeadLettered,
  );
  gauge('faultline_influx_requests_in_flight', 'Write requests in flight.', (s) => s.influx?.inFlight);
  gauge('faultline_dead_letters', 'Entries in the dead-letter store.', (s) => s.deadLetters);

  new Gauge({
    name: 'faultline_devices',
    help: 'Devices by connectivity state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(deviceStates())) this.set({ state }, n);
    },
  });

  new Gauge({
    name: 'faultline_adapter_up',
    help: 'Whether an adapter is connected and working (1), or degraded/stopped (0).',
    labelNames: ['adapter', 'protocol'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of adapters())
        this.set({ adapter: a.id, protocol: a.protocol }, a.status().state === 'running' ? 1 : 0);
    },
  });

  // Per-device statistics of adapters: a number, or a value derived from one (`key` or a function).
  const deviceStat = (
    name: string,
    help: string,
    key: string | ((s: Record<string, unknown>) => number | undefined),
    o: { scale?: number; protocol?: Adapter['protocol'] } = {},
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['adapter', 'device'],
      registers: [registry],
      collect() {
        this.reset();
        for (const a of adapters()) {
          if (o.protocol && a.protocol !== o.protocol) continue;
          for (const [device, s] of Object.entries(a.deviceStats?.() ?? {})) {
            const v = typeof key === 'string' ? s[key] : key(s);
            if (typeof v === 'number') this.set({ adapter: a.id, device }, v * (o.scale ?? 1));
          }
        }
      },
    });
  // Subscribing adapters (OPC UA): what arrived, what was bad, what is missing.
  deviceStat('faultline_opcua_readings', 'Readings from OPC UA data changes since start.', 'readings', {
    protocol: 'opcua',
  });
  deviceStat(
    'faultline_opcua_bad_quality',
    'OPC UA values with a bad status since start (recorded as quality, not as values).',
    'badQuality',
    { protocol: 'opcua' },
  );
  deviceStat(
    'faultline_opcua_failed_items',
    'OPC UA items of a device that could not be monitored on the current connection.',
    (s) => (Array.isArray(s.failedItems) ? s.failedItems.length : undefined),
    { protocol: 'opcua' },
  );
  deviceStat(
    'faultline_opcua_gap_seconds',
    'Total time of the recorded gaps (server unreachable) of a device, newest 20 gaps.',
    (s) =>
      Array.isArray(s.gaps)
        ? (s.gaps as { from: number; to: number }[]).reduce((t, g) => t + (g.to - g.from), 0)
        : undefined,
    { scale: 0.001, protocol: 'opcua' },
  );
  deviceStat('faultline_poll_latency_seconds', 'Duration of the last poll of a device.', 'lastLatencyMs', {
    scale: 0.001,
  });
  deviceStat('faultline_polls', 'Polls of a device since start.', 'polls');
  deviceStat('faultline_poll_timeouts', 'Requests to a device that timed out since start.', 'timeouts');
  deviceStat('faultline_poll_errors', 'Polls of a device that got no answer at all since start.', 'failed');

  new Gauge({
    name: 'faultline_api_worker_up',
    help: 'Whether the API worker thread listens (1) or is being started again (0); absent with api.worker: false.',
    registers: [registry],
    collect() {
      const w = apiWorker();
      if (w) this.set(w.up ? 1 : 0);
    },
  });
  new Counter({
    name: 'faultline_api_worker_restarts_total',
    help: 'Times the API worker thread stopped unexpectedly and was started again.',
    registers: [registry],
    collect() {
      const w = apiWorker();
      this.reset();
      if (w) this.inc(w.restarts);
    },
  });

  new Gauge({
    name: 'faultline_instance_info',
    help: 'This gateway instance (always 1): its id, where its state lives, and its role (single, leader, standby).',
    labelNames: ['instance', 'storage', 'role'],
    registers: [registry],
    collect() {
      const i = instance();
      this.reset();
      if (i) this.set({ instance: i.id, storage: i.storage, role: i.role }, 1);
    },
  });
  new Gauge({
    name: 'faultline_devices_evaluated',
    help: 'Devices whose rules this instance evaluates, among several on PostgreSQL; absent with SQLite (all).',
    labelNames: ['instance'],
    registers: [registry],
    collect() {
      const i = instance();
      this.reset();
      if (i?.devices !== undefined) this.set({ instance: i.id }, i.devices);
    },
  });

  let open: Record<string, number> = {};
  new Gauge({
    name: 'faultline_tickets_open',
    help: 'Tickets in an open status, per class (priority).',
    labelNames: ['priority'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of ['emergency', 'general', 'preventive']) this.set({ priority: p }, open[p] ?? 0);
    },
  });
  /** A counter read from a component's own count at each scrape. */
  const counted = (name: string, help: string, read: () => number | undefined) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read() ?? 0);
      },
    });
  counted(
    'faultline_rule_evaluation_errors_total',
    'Rule evaluations that threw (one rule on one series); the other rules of the reading ran.',
    () => engine()?.evaluationErrors,
  );
  counted(
    'faultline_state_commits_total',
    "Turn transactions of the state path committed (one turn's alert, ticket and event changes each).",
    () => stateCommits()?.commits,
  );
  counted(
    'faultline_state_commit_failures_total',
    "Turn transactions that failed to commit: that turn's state changes were rolled back (see docs/architecture.md).",
    () => stateCommits()?.failedCommits,
  );
  counted(
    'faultline_state_rows_dropped_total',
    'Rows kept for a turn commit (alerts, alert history, events) that failed alone and were not stored; the rest of the turn was.',
    () => stateCommits()?.droppedRows,
  );
  counted(
    'faultline_alert_transitions_total',
    'Alert transitions the rules produced (pending, firing, resolved, inactive, escalated).',
    () => engine()?.transitions,
  );
  const slaNotices = new Counter({
    name: 'faultline_sla_notices_total',
    help: 'SLA notices since start: warnings (at sla.warnAt shares), breaches and escalations, per clock.',
    labelNames: ['stage', 'target'],
    registers: [registry],
  });

  const writeDuration = new Histogram({
    name: 'faultline_influx_write_duration_seconds',
    help: 'Duration of InfluxDB write requests.',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  return {
    /** An SLA warning, breach or escalation was announced. */
    slaNotice(stage: string, target: string | null): void {
      slaNotices.inc({ stage, target: target ?? 'none' });
    },
    observeWrite(ms: number, ok: boolean): void {
      writeDuration.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
    },
    async render(): Promise<{ contentType: string; body: string }> {
      await refresh();
      open = await openTickets().catch(() => open);
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
