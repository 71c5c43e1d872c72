import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteHistoryStore } from '../ingest/sqlite-history-store.js';
import { openDatabase } from '../lib/sqlite.js';
import { runCli, tempDir, writeFiles } from './helpers.js';
import { describeWithServer } from './servers/common.js';
import { type InfluxServer, startInfluxDB } from './servers/influxdb.js';

const RULES = `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90, for: 2m, clear: 85 }
    ticket: { priority: general, faultType: mechanical }
  - id: oil
    errorCode: [E-OIL]
    ticket: { priority: general, faultType: mechanical }
`;

type Result = {
  source: string;
  devices: number;
  readings: number;
  episodes: {
    alertId: string;
    firedAt: number;
    resolvedAt: number | null;
    value: number | string;
    peak: number | null;
  }[];
};

const T0 = Date.UTC(2026, 10, 1, 8, 0, 0);
const MIN = 60_000;
/** `faultline rules backtest --data-dir data --from T0 --to T0+minutes …` in `cwd`. */
const backtestCli = (cwd: string, minutes: number, ...args: string[]) =>
  runCli(
    [
      'rules',
      'backtest',
      '--data-dir',
      'data',
      '--from',
      new Date(T0).toISOString(),
      '--to',
      new Date(T0 + minutes * MIN).toISOString(),
      ...args,
    ],
    { cwd },
  );

/** cnc-1: 80 °C, then 95 °C for 10 minutes (8:10–8:20), then 80 again; cnc-2 stays cool. */
const temperature = (device: string, minute: number) =>
  device === 'cnc-1' && minute >= 10 && minute < 20 ? 95 + (minute === 15 ? 3 : 0) : 80;

describe('rules backtest: replays the per-minute rollups through rules', () => {
  const tmp = tempDir();
  beforeAll(async () => {
    const db = openDatabase(join(tmp.dir, 'data', 'history.db'));
    const store = new SqliteHistoryStore(db);
    for (const device of ['cnc-1', 'cnc-2']) {
      await store.merge(
        Array.from({ length: 60 }, (_, m) => {
          const v = temperature(device, m);
          return {
            deviceId: device,
            metric: 'temperature',
            minute: T0 + m * MIN,
            min: v,
            max: v,
            sum: v * 6,
            count: 6,
            last: v,
            lastTs: T0 + m * MIN + 55_000,
          };
        }),
      );
    }
    db.close();
    writeFiles(tmp.dir, { 'faultline.yaml': 'rules:\n  files: [rules.yaml]\n', 'rules.yaml': RULES });
  });
  afterAll(() => tmp.cleanup());

  it('lists the episodes the rule would have raised, with times and peak', async () => {
    const r = await backtestCli(tmp.dir, 60, '--config', 'faultline.yaml', '--source', 'rollups', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Result;
    expect(out).toMatchObject({ source: 'rollups', devices: 2, readings: 120 });
    // Minute readings stand at the end of their minute: above 90 from 8:10:59.999, `for: 2m`.
    expect(out.episodes).toEqual([
      {
        alertId: 'hot@cnc-1',
        ruleId: 'hot',
        deviceId: 'cnc-1',
        firedAt: T0 + 12 * MIN + 59_999,
        resolvedAt: T0 + 20 * MIN + 59_999,
        priority: 'general',
        value: 95,
        peak: 98,
      },
    ]);
    const text = await backtestCli(
      tmp.dir,
      60,
      '--rules',
      'rules.yaml',
      '--rule',
      'hot',
      '--source',
      'rollups',
      '--device',
      'cnc-2',
    );
    expect(text.stdout).toMatch(
      /^0 alert episode\(s\) from 1 rule\(s\); 60 reading\(s\) of 1 device\(s\) from rollups/m,
    );
    const bad = await runCli(
      [
        'rules',
        'backtest',
        '--data-dir',
        'data',
        '--from',
        '1d',
        '--rules',
        'rules.yaml',
        '--rule',
        'nope',
        '--source',
        'rollups',
      ],
      { cwd: tmp.dir },
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('no rule "nope" in the rule files');
  });
});

const server = describeWithServer('influxd', 'apt-get install influxdb');

server.describe(`rules backtest from InfluxDB (real server)${server.label}`, () => {
  const tmp = tempDir();
  let influx: InfluxServer;
  beforeAll(async () => {
    influx = await startInfluxDB('plant');
    const lines: string[] = [];
    for (let s = 0; s < 30 * 60; s += 10) {
      const ts = T0 + s * 1000;
      const minute = Math.floor(s / 60);
      lines.push(`telemetry,device=cnc-1,site=north temperature=${temperature('cnc-1', minute)} ${ts}`);
      lines.push(`telemetry,device=cnc-2,site=north temperature=80 ${ts}`);
      // cnc-2 reports E-OIL from 8:05 to 8:07 (device_events: one point per active code).
      if (s >= 300 && s < 420)
        lines.push(`device_events,device=cnc-2,site=north,code=E-OIL,kind=error_code value=true ${ts}`);
    }
    const res = await fetch(`${influx.url}/write?db=plant&precision=ms`, {
      method: 'POST',
      body: lines.join('\n'),
    });
    expect(res.status).toBe(204);
    writeFiles(tmp.dir, {
      'faultline.yaml': `influx: { api: v1, url: "${influx.url}", database: plant }\nrules:\n  files: [rules.yaml]\n`,
      'rules.yaml': RULES,
    });
  });
  afterAll(async () => {
    await influx?.cleanup();
    tmp.cleanup();
  });

  it('replays raw readings and error-code events; the result lists both alerts', async () => {
    const r = await backtestCli(tmp.dir, 30, '--config', 'faultline.yaml', '--json');
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as Result;
    expect(out.source).toBe('influxdb');
    expect(out.devices).toBe(2);
    expect(out.readings).toBe(360);
    expect(
      out.episodes.map((e) => [e.alertId, e.firedAt - T0, e.resolvedAt === null ? null : e.resolvedAt - T0]),
    ).toEqual([
      ['oil@cnc-2', 5 * MIN, 7 * MIN],
      ['hot@cnc-1', 12 * MIN, 20 * MIN],
    ]);
  });
});
