import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import type { Point } from '../ingest/point.js';
import { getJson, postJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';

const GOOD = `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90 }
    ticket: { priority: general, faultType: mechanical }
`;

const BROKEN = `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 90, for: soon }
    ticket: { priority: general, faultType: mechanical }
  - id: cold
    match: { metric: temperature }
    threshold: { below: -40 }
    ticket: { priority: urgent }
`;

const CHANGED = `rules:
  - id: hot
    match: { metric: temperature }
    threshold: { above: 50 }
    ticket: { priority: general, faultType: mechanical }
  - id: silent
    noData: { for: 1h }
    ticket: { priority: general, faultType: communication }
`;

describe('rules reload without restart (API, file change); a broken file keeps the old rules firing', () => {
  const tmp = tempDir();
  let gw: RunningGateway;
  const api = (path: string) => `${gw.apiUrl}/api/v1${path}`;
  const reading = (deviceId: string, temperature: number): Point => ({
    deviceId,
    ts: Date.now(),
    receivedAt: Date.now(),
    fields: { temperature },
    source: 'test',
  });
  const firing = async (ruleId: string) =>
    (
      await getJson<{ items: { deviceId: string }[] }>(api(`/alerts?ruleId=${ruleId}&state=firing`))
    ).body.items.map((a) => a.deviceId);

  beforeAll(async () => {
    writeFiles(tmp.dir, {
      'faultline.yaml': 'rules:\n  files: [rules/*.yaml]\n  watch: true\n',
      'rules/plant.yaml': GOOD,
    });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
  });
  afterAll(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('a broken file is refused with every error as file:line:col; the old rule keeps firing', async () => {
    writeFileSync(join(tmp.dir, 'rules', 'plant.yaml'), BROKEN);
    const r = await postJson<{ code: string; errors: string[] }>(api('/rules/reload'), {});
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('FL_ERR_RULES_RELOAD_FAILED');
    expect(r.body.errors).toEqual([
      expect.stringMatching(/rules\/plant\.yaml:4:34: rule "hot": threshold\.for: expected a duration/),
      expect.stringMatching(
        /rules\/plant\.yaml:9:25: rule "cold": ticket\.priority: expected one of "emergency", "general", got "urgent"/,
      ),
    ]);
    // The rules that ran before still run: a hot reading fires "hot".
    await gw.ingest.accept([reading('m1', 95)]);
    await waitFor(async () => ((await firing('hot')).includes('m1') ? true : undefined), 5_000, 'hot fires');
    const rules = await getJson<{ items: { id: string }[]; lastReload: { ok: boolean; trigger: string } }>(
      api('/rules'),
    );
    expect(rules.body.items.map((x) => x.id)).toEqual(['hot']);
    expect(rules.body.lastReload).toMatchObject({ ok: false });
  });

  it('a good file is taken on a file change by itself: new levels and new rules apply', async () => {
    writeFileSync(join(tmp.dir, 'rules', 'plant.yaml'), CHANGED);
    await waitFor(
      async () => {
        const r = await getJson<{
          items: { id: string }[];
          lastReload: { ok: boolean; trigger: string } | null;
        }>(api('/rules'));
        return r.body.lastReload?.ok && r.body.lastReload.trigger === 'file' ? r.body : undefined;
      },
      10_000,
      'reload on file change',
    );
    await gw.ingest.accept([reading('m2', 60)]);
    await waitFor(async () => ((await firing('hot')).includes('m2') ? true : undefined), 5_000, 'new level');
    const one = await getJson<{ kind: string; source: string }>(api('/rules/silent'));
    expect(one.body).toMatchObject({ kind: 'noData', source: expect.stringMatching(/plant\.yaml:6:5$/) });
    // The new no-data rule watches the devices already known, without waiting for their next reading.
    expect(gw.engine.state('silent@m1')?.lastSeen).toBeGreaterThan(0);
    const r = await postJson<{ ok: boolean; changed: string[]; added: string[] }>(api('/rules/reload'), {});
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, changed: [], added: [] });
    expect((await getJson(api('/rules/nope'))).status).toBe(404);
  });
});
