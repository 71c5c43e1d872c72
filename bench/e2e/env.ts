import type { InfluxServer } from '../../test/servers/influxdb.js';
import type { MosquittoServer } from '../../test/servers/mosquitto.js';

/** What the bench cases run against: one InfluxDB and, when installed, one Mosquitto. */
export interface BenchEnv {
  dir: string;
  influx: InfluxServer;
  mosquitto: MosquittoServer | undefined;
  /** A new, empty database for one case. */
  database(name: string): Promise<string>;
  /** Points in `telemetry` of a database. */
  count(database: string): Promise<number>;
}

export function benchEnv(
  dir: string,
  influx: InfluxServer,
  mosquitto: MosquittoServer | undefined,
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
    async database(name) {
      await query(name, `CREATE DATABASE "${name}"`);
      return name;
    },
    async count(db) {
      // One field every reading carries: the count of points.
      const series = await query(db, 'SELECT COUNT("rpm") FROM "telemetry"');
      return Number(series[0]?.values[0]?.[1] ?? 0);
    },
  };
}
