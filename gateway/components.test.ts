import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Components } from './components.js';

describe('Components', () => {
  it('stops in reverse start order, and a failing stop does not keep the others from stopping', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (l: string) => lines.push(l) });
    const order: string[] = [];
    const c = new Components();
    c.add('database', { stop: () => order.push('database') });
    c.onStop('timer', () => order.push('timer'));
    c.add('broken', {
      stop: async () => {
        order.push('broken');
        throw new Error('cannot stop');
      },
    });
    c.add('adapter', { stop: async () => order.push('adapter') });
    expect(c.names()).toEqual(['database', 'timer', 'broken', 'adapter']);
    await c.stopAll(logger);
    expect(order).toEqual(['adapter', 'broken', 'timer', 'database']);
    expect(lines.join('')).toContain('"component":"broken"');
    // Stopped once: a second stopAll has nothing left to stop.
    await c.stopAll(logger);
    expect(order).toHaveLength(4);
  });
});
