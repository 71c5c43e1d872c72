import { afterEach, describe, expect, it } from 'vitest';
import { isFaultlineError } from '../lib/errors.js';
import { instanceId } from './leadership.js';

describe('instanceId', () => {
  const saved = process.env.FAULTLINE_INSTANCE_ID;
  afterEach(() => {
    if (saved === undefined) delete process.env.FAULTLINE_INSTANCE_ID;
    else process.env.FAULTLINE_INSTANCE_ID = saved;
  });

  it('takes FAULTLINE_INSTANCE_ID, else a name from host and process that is itself a valid id', () => {
    process.env.FAULTLINE_INSTANCE_ID = ' gw-a.plant_1 ';
    expect(instanceId()).toBe('gw-a.plant_1');
    delete process.env.FAULTLINE_INSTANCE_ID;
    expect(instanceId()).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
  });

  it('refuses an id that could not name an MQTT session or a metric label: FL_ERR_CONFIG', () => {
    for (const bad of ['gw a', 'x'.repeat(65), '-gw', 'gw/a', 'gw"}a']) {
      process.env.FAULTLINE_INSTANCE_ID = bad;
      let err: unknown;
      try {
        instanceId();
      } catch (e) {
        err = e;
      }
      expect(isFaultlineError(err) && err.code, JSON.stringify(bad)).toBe('FL_ERR_CONFIG');
    }
  });
});
