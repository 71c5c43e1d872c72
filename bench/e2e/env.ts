import type { InfluxServer } from '../../test/servers/influxdb.js';
import type { MosquittoServer } from '../../test/servers/mosquitto.js';
import type { PostgresServer } from '../../test/servers/postgres.js';

/** What the bench cases run against: one InfluxDB and, when installed, one Mosquitto. */
export interface BenchEnv {
  dir: string;
  influx: InfluxServer;
  mosquitto: MosquittoServer | undefined;
  /** Mosquitto as installed: its default queue (`max_queued_messages 1000`) and in-flight window. */
  stockMosquitto: MosquittoServer | undefined;
  /** A private PostgreSQL for the shared-state cases (issue 20), when installed. */
  postgres: PostgresServer | undefined;
  /** A new, empty database for one case. */
  database(name: string): Promise<string>;
  /** Points in `telemetry` of a database (counted on a field every reading carries). */
  count(database: string, field?: string): Promise<number>;
}

export function benchEnv(
  dir: string,
  influx: InfluxServer,
  mosquitto: MosquittoServer | undefined,
  stockMosquitto: MosquittoServer | undefined,
  postgres: PostgresServer | undefined = undefined,
): BenchEnv {
  const query = async (db: string, q: string) => {
    const res = await fetch(`${influx.url}/query?db=${encodeURIComponent(db)}`, {
      method: 'POST',
      body: new URLSearchParams({ q }),
    });
    const body = (await res.json()) as {
      results?: { series?: { values: unknown[][] }[]; error?: string }[];
    };
    if (!res.ok || body.results?.[0]?.error) throw new Error(`InfluxQL ${q}: ${JSON.stringify(body)}`);
    return body.results?.[0]?.series ?? [];
  };
  return {
    dir,
    influx,
    mosquitto,
    stockMosquitto,
    postgres,
    async database(name) {
      await query(name, `CREATE DATABASE "${name}"`);
      return name;
    },
    async count(db, field = 'rpm') {
      const series = await query(db, `SELECT COUNT("${field}") FROM "telemetry"`);
      return Number(series[0]?.values[0]?.[1] ?? 0);
    },
  };
}
