import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact.js';

describe('redactUrl', () => {
  it('hides the password of a URL, keeps the user and the rest', () => {
    expect(redactUrl('http://user:s3cr3t@influx:8086/write')).toBe('http://user:***@influx:8086/write');
    expect(redactUrl('mqtts://svc:p%40ss@broker.plant:8883')).toBe('mqtts://svc:***@broker.plant:8883');
    expect(redactUrl('http://u:p@ss@host/x')).toBe('http://u:***@host/x');
  });

  it('hides secrets in the query, and works inside a longer message', () => {
    expect(redactUrl('POST https://hooks.example/x?token=abc&team=ops failed')).toBe(
      'POST https://hooks.example/x?token=***&team=ops failed',
    );
    expect(redactUrl('https://h/x?a=1&api_key=zzz#f')).toBe('https://h/x?a=1&api_key=***#f');
  });

  it('leaves URLs without credentials alone', () => {
    for (const u of ['http://127.0.0.1:8086', 'opc.tcp://plc:4840/ua', 'user@example.com', 'mqtt://broker'])
      expect(redactUrl(u)).toBe(u);
  });
});
