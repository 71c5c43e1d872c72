import { describe, expect, it } from 'vitest';
import { compileTopicTemplate } from './topic-template.js';

describe('topic templates', () => {
  it('captures named levels, ignores {_} and +, and builds the subscription filter', () => {
    const t = compileTopicTemplate('plant/{site}/{line}/{device}/{_}');
    expect(t.filter).toBe('plant/+/+/+/+');
    expect(t.names).toEqual(['site', 'line', 'device']);
    expect(t.match('plant/north/l2/press-7/data')).toEqual({ site: 'north', line: 'l2', device: 'press-7' });
    expect(t.match('plant/north/l2/press-7')).toBeUndefined();
    expect(t.match('plant/north/l2/press-7/data/x')).toBeUndefined();
    expect(t.match('factory/north/l2/press-7/data')).toBeUndefined();
    expect(t.match('plant/north//press-7/data')).toBeUndefined();
  });

  it('a final # matches the rest', () => {
    const t = compileTopicTemplate('sensors/{device}/#');
    expect(t.filter).toBe('sensors/+/#');
    expect(t.match('sensors/s1/a/b/c')).toEqual({ device: 's1' });
    expect(t.match('sensors/s1')).toEqual({ device: 's1' });
  });

  it('the default convention', () => {
    expect(compileTopicTemplate('devices/{device}/telemetry').match('devices/cnc-1/telemetry')).toEqual({
      device: 'cnc-1',
    });
  });

  it.each([
    ['a/#/b', '"#" must be the last level'],
    ['a/{x}/{x}', 'appears twice'],
    ['a/pre{x}', 'must be a literal'],
  ])('rejects %s', (template, message) => {
    expect(() => compileTopicTemplate(template)).toThrow(message);
  });
});
