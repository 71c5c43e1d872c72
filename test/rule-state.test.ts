import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import type { Point } from '../ingest/point.js';
import { type SeriesState, samplePairs } from '../rules/evaluate.js';
import { getJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';

describe('rule state survives a gateway restart', () => {
  const tmp = tempDir();
  let gw: RunningGateway | undefined;
  afterAll(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('a window that filled before the restart goes on filling after it', async () => {
    writeFiles(tmp.dir, {
      'faultline.yaml': 'rules:\n  files: [rules.yaml]\n',
      'rules.yaml': `rules:
  - id: scrap
    description: More than 10 rejected parts within an hour
    match: { metric: rejected }
    window: { fn: sum, over: 1h, above: 10 }
    ticket: { priority: general, faultType: quality }
`,
    });
    const file = join(tmp.dir, 'faultline.yaml');
    const data = join(tmp.dir, 'data');
    const reading = (rejected: number): Point => ({
      deviceId: 'press-3',
      ts: Date.now(),
      receivedAt: Date.now(),
      fields: { rejected },
      source: 'test',
    });

    gw = await startFromFile(file, data);
    await gw.ingest.accept([reading(6)]);
    await gw.alerts.idle();
    expect(samplePairs(gw.engine.state('scrap@press-3') as SeriesState)).toHaveLength(1);
    await gw.stop();

    gw = await startFromFile(file, data);
    expect(samplePairs(gw.engine.state('scrap@press-3') as SeriesState)).toHaveLength(1);
    await gw.ingest.accept([reading(6)]);
    const alert = await waitFor(
      async () => {
        const r = await getJson<{ state: string; value: number }>(
          `${gw?.apiUrl}/api/v1/alerts/scrap@press-3`,
        );
        return r.status === 200 && r.body.state === 'firing' ? r.body : undefined;
      },
      5_000,
      'scrap alert',
    );
    expect(alert.value).toBe(12);
  });
});
