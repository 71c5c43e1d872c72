import { describe, expect, it } from 'vitest';
import { topicSchema } from './decoders/index.js';
import { TopicRouter } from './router.js';

const router = () =>
  new TopicRouter([
    topicSchema.parse({ topic: 'plant/{site}/{device}/telemetry', tags: { line: 'l1' } }),
    topicSchema.parse({ topic: 'legacy/{device}' }),
  ]);
const body = (v: number) => Buffer.from(JSON.stringify({ v }));

describe('TopicRouter', () => {
  it('routes a topic seen again the same way, with tags of its own per reading', () => {
    const r = router();
    const one = r.route('plant/north/press-1/telemetry', body(1), 1, 'src');
    const two = r.route('plant/north/press-1/telemetry', body(2), 2, 'src');
    expect(one?.points[0]).toMatchObject({
      deviceId: 'press-1',
      fields: { v: 1 },
      tags: { site: 'north', line: 'l1' },
    });
    expect(two?.points[0]).toMatchObject({
      deviceId: 'press-1',
      fields: { v: 2 },
      tags: { site: 'north', line: 'l1' },
    });
    expect(r.route('legacy/m-9', body(3), 3, 'src')?.points[0]).toMatchObject({ deviceId: 'm-9' });
    expect(r.route('legacy/m-9', body(3), 3, 'src')?.points[0]?.tags).toBeUndefined();
    // A topic no template matches stays unmatched, the second time too.
    expect(r.route('other/x', body(1), 1, 'src')).toBeUndefined();
    expect(r.route('other/x', body(1), 1, 'src')).toBeUndefined();
  });

  it('stays right past the number of topics it remembers, and for topics too long to remember', () => {
    const r = router();
    for (let i = 0; i < 25_000; i++)
      expect(r.route(`plant/s${i % 7}/d${i}/telemetry`, body(i), i, 'src')?.points[0]?.deviceId).toBe(
        `d${i}`,
      );
    const site = 's'.repeat(300);
    for (const v of [1, 2])
      expect(r.route(`plant/${site}/d1/telemetry`, body(v), v, 'src')?.points[0]).toMatchObject({
        deviceId: 'd1',
        fields: { v },
        tags: { site },
      });
    expect(r.route('plant/s1/d1/telemetry', body(1), 1, 'src')?.points[0]).toMatchObject({
      deviceId: 'd1',
      tags: { site: 's1' },
    });
  });
});
