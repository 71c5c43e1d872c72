import { describe, expect, it } from 'vitest';
import { line, seriesKey } from './line-protocol.js';

describe('line protocol', () => {
  it('sorts tags, drops empty ones, and writes numbers as floats', () => {
    const s = seriesKey('telemetry', { site: 'north', device: 'cnc-1', model: '' });
    expect(s).toBe('telemetry,device=cnc-1,site=north');
    expect(line(s, { temperature: 71, ok: true, mode: 'auto' }, 1_700_000_000_000)).toBe(
      'telemetry,device=cnc-1,site=north temperature=71,ok=true,mode="auto" 1700000000000',
    );
  });

  it('escapes measurement, tag and field keys, and string values per the reference', () => {
    const s = seriesKey('my meas,x', { 'tag key': 'a=b,c d' });
    expect(s).toBe('my\\ meas\\,x,tag\\ key=a\\=b\\,c\\ d');
    expect(line(s, { 'f=1': 'say "hi" \\ bye\nnext' }, 1)).toBe(
      'my\\ meas\\,x,tag\\ key=a\\=b\\,c\\ d f\\=1="say \\"hi\\" \\\\ bye next" 1',
    );
  });

  it('writes nothing for a reading without fields', () => {
    expect(line('m', {}, 1)).toBe('');
  });
});
