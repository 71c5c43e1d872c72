import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Test-only: serves `/api/v2/write` in front of an InfluxDB 1.x the way InfluxDB 1.8+ does (bucket
 * `database/retention-policy`, token accepted), forwarding to `/write`. Debian's InfluxDB is 1.6,
 * which lacks the endpoint; this lets the v2 writer be tested against a real server.
 */
export async function startV2Shim(
  influxUrl: string,
): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || u.pathname !== '/api/v2/write') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"code":"not found","message":"path not found"}');
      return;
    }
    state.requests++;
    const [db, rp] = (u.searchParams.get('bucket') ?? '').split('/');
    const target = new URL('/write', influxUrl);
    target.searchParams.set('db', db ?? '');
    if (rp) target.searchParams.set('rp', rp);
    target.searchParams.set('precision', u.searchParams.get('precision') ?? 'ns');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      const enc = req.headers['content-encoding'];
      if (typeof enc === 'string') headers['content-encoding'] = enc;
      fetch(target, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(
        async (r) => {
          const text = await r.text();
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(
            r.status >= 400
              ? JSON.stringify({
                  code: 'invalid',
                  message: (JSON.parse(text || '{}') as { error?: string }).error ?? text,
                })
              : text,
          );
        },
        (err: Error) => {
          res
            .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
            .end(JSON.stringify({ code: 'unavailable', message: err.message }));
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
