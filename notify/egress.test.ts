import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { EgressPolicy } from './egress.js';
import { deliveryError } from './webhooks.js';

describe('webhook egress policy (issue 18)', () => {
  const policy = new EgressPolicy();

  it('refuses loopback, private, link-local and unspecified targets in every spelling', () => {
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://localhost/x',
      'http://api.localhost/x',
      'http://[::1]/x',
      'http://0x7f000001/x', // the WHATWG parser reads these as 127.0.0.1
      'http://2130706433/x',
      'http://127.1/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://10.1.2.3/x',
      'http://192.168.0.10/x',
      'http://172.16.5.5/x',
      'http://169.254.169.254/latest/meta-data', // cloud metadata
      'http://100.64.0.1/x',
      'http://0.0.0.0/x',
      'http://[fd00::1]/x',
      'http://[fe80::1]/x',
    ])
      expect(policy.checkUrl(url), url).toMatch(/internal address|this machine/);
  });

  it('accepts public addresses and names (names are checked again when delivering)', () => {
    for (const url of ['https://hooks.example.com/x', 'http://93.184.216.34/x', 'https://[2606:4700::1]/x'])
      expect(policy.checkUrl(url), url).toBeNull();
    expect(policy.checkUrl('ftp://example.com/x')).toMatch(/only http and https/);
    expect(policy.checkUrl('not a url')).toBe('not a URL');
  });

  it('allows what the plant configured: a network, a host, or everything internal', () => {
    const p = new EgressPolicy({
      allow: ['10.20.0.0/16', 'erp.plant.local', '127.0.0.1'],
      allowPrivate: false,
    });
    expect(p.checkUrl('http://10.20.3.4/x')).toBeNull();
    expect(p.checkUrl('http://10.21.3.4/x')).toMatch(/internal/);
    expect(p.checkUrl('http://127.0.0.1:9/x')).toBeNull();
    expect(p.checkUrl('http://erp.plant.local/x')).toBeNull();
    expect(new EgressPolicy({ allow: [], allowPrivate: true }).checkUrl('http://192.168.1.1/')).toBeNull();
    expect(EgressPolicy.checkEntry('10.0.0.0/33')).toMatch(/not a network/);
  });

  it('checks the addresses a name resolves to at connection time (DNS rebinding)', async () => {
    const server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // A public-looking name that resolves to loopback when the delivery connects.
    const rebinding = new EgressPolicy({ allow: [], allowPrivate: false }, ((
      _host: string,
      _opts: unknown,
      cb: (err: null, a: { address: string; family: number }[]) => void,
    ) => cb(null, [{ address: '127.0.0.1', family: 4 }])) as never);
    const url = `http://hooks.example.com:${port}/x`;
    expect(rebinding.checkUrl(url)).toBeNull();
    const refused = await fetch(url, { dispatcher: rebinding.dispatcher() }).catch((e: unknown) => e);
    expect(deliveryError(refused)).toMatch(/^refused: 127\.0\.0\.1 is an internal address/);
    // The same name allowed by the plant is delivered.
    const allowed = new EgressPolicy({ allow: ['hooks.example.com'], allowPrivate: false }, ((
      _host: string,
      _opts: unknown,
      cb: (err: null, a: { address: string; family: number }[]) => void,
    ) => cb(null, [{ address: '127.0.0.1', family: 4 }])) as never);
    const res = await fetch(url, { dispatcher: allowed.dispatcher() });
    expect(await res.text()).toBe('reached');
    server.close();
  });

  it('stores "unreachable" for a refused port, not the connection details', async () => {
    const p = new EgressPolicy({ allow: ['127.0.0.1'], allowPrivate: false });
    const err = await fetch('http://127.0.0.1:9/x', { dispatcher: p.dispatcher() }).catch((e: unknown) => e);
    expect(deliveryError(err)).toBe('unreachable');
  });
});
