import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import { getJson, postJson, startFromFile, tempDir, waitFor, writeFiles } from './helpers.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

describe('customer updates by e-mail (gateway, real SMTP server)', () => {
  const tmp = tempDir();
  let gw: RunningGateway;
  let smtp: SMTPServer;
  const got: Received[] = [];
  let refuseNext = 1; // the first message is refused with a temporary error: retried
  const api = (path: string) => `${gw.apiUrl}/api/v1${path}`;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        let raw = '';
        stream.on('data', (c: Buffer) => {
          raw += c.toString();
        });
        stream.on('end', () => {
          if (refuseNext > 0) {
            refuseNext--;
            const err = Object.assign(new Error('try again later'), { responseCode: 451 });
            callback(err);
            return;
          }
          got.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
          });
          callback();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const port = (smtp.server.address() as AddressInfo).port;
    writeFiles(tmp.dir, {
      'faultline.yaml': `
customers:
  - id: acme
    name: ACME
    contacts:
      - { name: Jane Roe, email: jane@acme.example }
      - { name: Night shift, phone: "+49 30 1" }
sites:
  - { id: north, customer: acme }
notifications:
  webhooks:
    retry: { min: 50ms, max: 200ms, attempts: 5 }
  smtp: { host: 127.0.0.1, port: ${port}, security: none, from: "Faultline <service@faultline.example>" }
`,
    });
    gw = await startFromFile(join(tmp.dir, 'faultline.yaml'), join(tmp.dir, 'data'));
  });
  afterAll(async () => {
    await gw?.stop();
    await new Promise<void>((r) => smtp.close(() => r()));
    tmp.cleanup();
  });

  it('the contact with an address gets the acknowledgement with the expected response time, retried after a refusal', async () => {
    const t = await postJson<{ id: string; sla: { response: { dueAt: string } } }>(api('/tickets'), {
      title: 'Hydraulic leak',
      priority: 'general',
      source: 'portal',
      reporter: { name: 'Operator' },
      faultType: 'mechanical',
      site: 'north',
    });
    expect(t.status).toBe(201);
    await waitFor(async () => (got.length === 1 ? true : undefined), 10_000);
    const m = got[0] as Received;
    expect(m.from).toBe('service@faultline.example');
    expect(m.to).toEqual(['jane@acme.example']);
    expect(m.raw).toContain(`Subject: [${t.body.id}] received`);
    expect(m.raw.replace(/=\r?\n/g, '')).toContain(
      `You can expect our response by ${t.body.sla.response.dueAt}.`,
    );
    const mails = await getJson<{ items: { state: string; attempts: number; to: string }[] }>(api('/mails'));
    expect(mails.body.items).toMatchObject([
      { state: 'delivered', attempts: 2, to: 'Jane Roe <jane@acme.example>' },
    ]);
  });
});
