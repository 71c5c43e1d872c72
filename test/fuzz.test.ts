import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeValue, errorCodesOf } from '../adapters/modbus/registers.js';
import { deviceView } from '../api/routes/devices.js';
import { loadConfig } from '../gateway/config/load.js';
import { DeviceRegistry, newDevice } from '../ingest/devices.js';
import { Ingest } from '../ingest/ingest.js';
import { decodeTelemetryJson } from '../ingest/point.js';
import { SqliteDeadLetterStore } from '../ingest/sqlite-dead-letter-store.js';
import { SqliteDeviceStore } from '../ingest/sqlite-device-store.js';
import { SqliteTelemetryLog } from '../ingest/sqlite-telemetry-log.js';
import { openDatabase } from '../lib/sqlite.js';
import { parseRuleSource } from '../rules/load.js';
import { gatewayFixture, postJson, silentLogger, tempDir, writeFiles } from './helpers.js';

/**
 * Property-based fuzzing (issue 11): whatever a device, a config author or an API client sends, the
 * gateway answers with a value or a clear rejection — it does not throw, does not crash, and does not
 * pollute Object.prototype.
 */
const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();
function prototypeIntact(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTO_KEYS);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

/** JSON texts that try hard: deep nesting, __proto__ and constructor keys, huge numbers and strings. */
const hostileJson = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  fc
    .record({
      key: fc.constantFrom('__proto__', 'constructor', 'prototype', 'ts', 'errorCode', 'temperature', ''),
      value: fc.oneof(
        fc.double(),
        fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER * 1000),
        fc.string({ maxLength: 50 }),
        fc.constant('x'.repeat(100_000)),
        fc.jsonValue({ maxDepth: 3 }),
      ),
    })
    .map(
      ({ key, value }) =>
        `{"${key}": ${JSON.stringify(value) ?? 'null'}, "polluted": {"__proto__": {"polluted": 1}}}`,
    ),
  fc.integer({ min: 1, max: 5_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.integer({ min: 1, max: 5_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
);

/** A "billion laughs" file: ten levels of nine aliases each (9^10 strings if expanded). */
const BOMB = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  ...'bcdefghij'.split('').map((c, i) => {
    const prev = 'abcdefghij'[i] as string;
    return `${c}: &${c} [${Array(9).fill(`*${prev}`).join(',')}]`;
  }),
].join('\n');

describe('fuzzing', () => {
  it('MQTT telemetry payloads: a reading or a rejection with its reason; fields are own, plain values', () => {
    fc.assert(
      fc.property(hostileJson, (text) => {
        const r = decodeTelemetryJson(Buffer.from(text), 'dev-1', 1_000, 'fuzz');
        if (!r.ok) {
          expect(r.reason.length).toBeGreaterThan(0);
          return;
        }
        for (const [k, v] of Object.entries(r.point.fields)) {
          expect(Object.hasOwn(r.point.fields, k)).toBe(true);
          expect(['number', 'boolean', 'string']).toContain(typeof v);
          if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
        }
        expect(Object.getPrototypeOf(r.point.fields)).toBe(Object.prototype);
        prototypeIntact();
      }),
      { numRuns: 500 },
    );
  });

  it('timestamps in every format and unit: admitted within the bounds, or dead-lettered (issue 18)', async () => {
    const NOW = Date.UTC(2026, 11, 7, 12);
    const units = [1e-3, 1, 1e3, 1e6]; // seconds, ms, µs, ns
    const ts = fc.oneof(
      fc.double({ min: -1e22, max: 1e22, noNaN: true }),
      fc
        .constantFrom(...units)
        .chain((u) => fc.integer({ min: -10 * 86_400_000, max: 10 * 86_400_000 }).map((d) => (NOW + d) * u)),
      fc
        .integer({ min: -300_000, max: 300_000 })
        .map((y) => new Date(Date.UTC(2026, 0, 1) + y * 86_400_000 * 3).toISOString()),
      fc.constantFrom(
        '+275760-09-13T00:00:00Z',
        '-000001-01-01T00:00:00Z',
        '2200-01-01',
        '1980-01-01T00:00:00+14:00',
        'Mon, 07 Dec 2026 12:00:00 GMT',
        '1796644800000',
        '0x1a2b',
        'Infinity',
        '',
      ),
      fc.string({ maxLength: 30 }),
    );
    const db = openDatabase(':memory:');
    const registry = new DeviceRegistry(new SqliteDeviceStore(db), [], []);
    await registry.load();
    const deadLetters = new SqliteDeadLetterStore(db);
    const ingest = new Ingest({
      log: new SqliteTelemetryLog(db),
      registry,
      deadLetters,
      logger: silentLogger,
    });
    const admitted: number[] = [];
    ingest.onReading((p) => admitted.push(p.ts));
    await fc.assert(
      fc.asyncProperty(ts, async (t) => {
        const r = decodeTelemetryJson(JSON.stringify({ ts: t, v: 1 }), 'dev-1', NOW, 'fuzz');
        const before = admitted.length;
        if (r.ok) await ingest.accept([r.point]);
        if (admitted.length > before) {
          const got = admitted[admitted.length - 1] as number;
          expect(got).toBeGreaterThanOrEqual(NOW - 7 * 86_400_000);
          expect(got).toBeLessThanOrEqual(NOW + 5 * 60_000);
        }
        // Whatever was admitted, every view of the device works.
        expect(() => JSON.stringify(deviceView(registry.get('dev-1') ?? newDevice('dev-1')))).not.toThrow();
      }),
      { numRuns: 1_000 },
    );
    expect(admitted.length).toBeGreaterThan(0);
    expect(await deadLetters.count()).toBeGreaterThan(0);
    db.close();
  });

  it('Modbus register words: every type and byte order decodes to a value, never throws', () => {
    const types = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'bool', 'string'] as const;
    const width = { int16: 1, uint16: 1, bool: 1, int32: 2, uint32: 2, float32: 2, float64: 4, string: 4 };
    fc.assert(
      fc.property(
        fc.constantFrom(...types),
        fc.constantFrom('ABCD', 'CDAB', 'BADC', 'DCBA'),
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 15 }),
        (type, order, words, bit) => {
          const r = { table: 'holding', type, order, bit, length: 4 } as unknown as Parameters<
            typeof decodeValue
          >[0];
          const v = decodeValue(r, words.slice(0, width[type]));
          expect(['number', 'boolean', 'string']).toContain(typeof v);
          if (typeof v === 'number')
            expect(() => errorCodesOf({ ...r, errorCodes: { 1: 'E1' } } as typeof r, v)).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('config files: every text gets a configuration or located errors — alias bombs, custom tags, duplicate keys included', async () => {
    const tmp = tempDir();
    const texts = fc.oneof(
      fc.constant(BOMB),
      fc.constant('api: !!js/function "function () { return 1 }"\n'),
      fc.constant('api:\n  port: 1\napi:\n  port: 2\n'),
      fc.constant('sites: !custom [a]\n'),
      fc.string({ maxLength: 300 }),
      fc
        .jsonValue({ maxDepth: 4 })
        .map(
          (v) => `sites: ${JSON.stringify(v)}\ndevices: ${JSON.stringify(v)}\nsla: ${JSON.stringify(v)}\n`,
        ),
    );
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(texts, async (text) => {
          const f = join(tmp.dir, `c${n++}.yaml`);
          writeFiles(tmp.dir, { [`c${n - 1}.yaml`]: text });
          const r = await loadConfig(f, {}, {});
          for (const i of r.issues) {
            expect(i.line).toBeGreaterThanOrEqual(1);
            expect(i.message.length).toBeGreaterThan(0);
          }
          prototypeIntact();
        }),
        { numRuns: 150 },
      );
    } finally {
      tmp.cleanup();
    }
  });

  it('an alias bomb is refused with its place, not expanded', async () => {
    const tmp = tempDir();
    try {
      writeFiles(tmp.dir, { 'bomb.yaml': BOMB });
      const r = await loadConfig(join(tmp.dir, 'bomb.yaml'), {}, {});
      expect(r.issues.map((i) => `${i.line}:${i.col}: ${i.message}`)).toEqual([
        '2:8: cannot be read: Excessive alias count indicates a resource exhaustion attack (at most 100 alias expansions)',
      ]);
    } finally {
      tmp.cleanup();
    }
  });

  it('rule files: rules or located errors, never a throw', () => {
    const texts = fc.oneof(
      fc.constant(BOMB),
      fc.string({ maxLength: 300 }),
      fc.jsonValue({ maxDepth: 5 }).map((v) => `rules: ${JSON.stringify(v)}\n`),
      fc
        .record({
          id: fc.string({ maxLength: 20 }),
          metric: fc.string({ maxLength: 20 }),
          cel: fc.string({ maxLength: 60 }),
        })
        .map(
          (r) =>
            `rules:\n  - id: ${JSON.stringify(r.id)}\n    expr: ${JSON.stringify(r.cel)}\n    match: { metric: ${JSON.stringify(r.metric)} }\n    ticket: { priority: general, faultType: mechanical }\n`,
        ),
    );
    fc.assert(
      fc.property(texts, (text) => {
        const r = parseRuleSource('fuzz.yaml', text);
        for (const i of r.issues) expect(i.line).toBeGreaterThanOrEqual(1);
        prototypeIntact();
      }),
      { numRuns: 400 },
    );
  });

  describe('API bodies and query strings (gateway)', () => {
    const g = gatewayFixture('sites: [{ id: north }]\n');
    const routes = [
      ['POST', '/tickets'],
      ['POST', '/silences'],
      ['POST', '/keys'],
      ['POST', '/webhooks'],
      ['POST', '/rules/check'],
      ['POST', '/tickets/T-1/transitions'],
      ['PUT', '/tickets/T-1/report'],
    ] as const;

    it('times and durations of every size in well-formed bodies: a 2xx or 4xx, and the lists still answer (issue 18)', async () => {
      const time = fc.oneof(
        fc.double({ min: 0, max: 1e22, noNaN: true }).map((n) => String(Math.floor(n))),
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.constantFrom('+275760-09-13T00:00:00Z', '-271821-04-20T00:00:00Z', '0', '99999999999999999999'),
      );
      const dur = fc.tuple(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.constantFrom('ms', 's', 'm', 'h', 'd', 'w'),
      );
      await fc.assert(
        fc.asyncProperty(time, time, dur, async (from, to, [n, unit]) => {
          const silence = await postJson(g.api('/silences'), {
            devices: ['d-1'],
            from,
            duration: `${n}${unit}`,
            reason: 'fuzz',
          });
          const silence2 = await postJson(g.api('/silences'), { sites: ['north'], from, to, reason: 'fuzz' });
          const ticket = await postJson(g.api('/tickets'), {
            title: 'x',
            priority: 'general',
            source: 'phone',
            reporter: { name: 'x' },
            faultType: 'mechanical',
            reportedAt: from,
          });
          for (const r of [silence, silence2, ticket]) expect(r.status).toBeLessThan(500);
          for (const list of ['/silences?all=true', '/tickets?limit=5', '/stats/sla'])
            expect(
              (await postJson(g.api(list), undefined, undefined, 'GET').catch(() => ({ status: 0 }))).status,
            ).not.toBe(500);
        }),
        { numRuns: 150 },
      );
    });

    it('any JSON body: a 2xx or a 4xx problem, never a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes),
          fc.jsonValue({ maxDepth: 4 }),
          async ([method, path], body) => {
            const r = await postJson<{ status?: number }>(g.api(path), body, undefined, method);
            expect(r.status, `${method} ${path} ${JSON.stringify(body).slice(0, 200)}`).toBeLessThan(500);
            prototypeIntact();
          },
        ),
        { numRuns: 300 },
      );
    });

    it('any query string: a 2xx or a 4xx problem, never a 5xx', async () => {
      const paths = ['/tickets', '/alerts', '/devices', '/stats/sla', '/silences', '/devices/x/telemetry'];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...paths),
          fc.dictionary(
            fc.constantFrom(
              'status',
              'limit',
              'cursor',
              'sort',
              'from',
              'to',
              'metric',
              'step',
              'groupBy',
              'q',
              '__proto__',
            ),
            fc.string({ maxLength: 40 }),
          ),
          async (path, q) => {
            const qs = new URLSearchParams(q).toString();
            const res = await fetch(`${g.api(path)}?${qs}`, {
              headers: { authorization: 'Bearer flk_test-suite-admin-key-0123456789' },
            });
            await res.body?.cancel();
            expect(res.status, `${path}?${qs}`).toBeLessThan(500);
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});
