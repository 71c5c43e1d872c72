import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ReadingSink } from '../../ingest/ingest.js';
import type { Point } from '../../ingest/point.js';
import { type OpcuaSimulator, start as startSim } from '../../simulators/opcua/index.js';
import { runCli, silentLogger, tempDir, waitFor } from '../../test/helpers.js';
import { OpcuaAdapter } from './adapter.js';
import { opcuaAdapterSchema } from './config.js';

describe('OPC UA security (real sockets)', () => {
  const tmp = tempDir();
  let sim: OpcuaSimulator | undefined;
  let adapter: OpcuaAdapter | undefined;
  afterEach(async () => {
    await adapter?.stop();
    await sim?.close();
  });
  afterAll(() => tmp.cleanup());

  const SECURE = {
    securityMode: 'SignAndEncrypt',
    securityPolicy: 'Basic256Sha256',
    reconnect: { min: '300ms', max: '600ms' },
  };

  /** Starts an adapter reading Press7.Temperature from the running simulator; returns its readings. */
  async function startAdapter(
    id: string,
    options: Record<string, unknown>,
    dataDir: string,
  ): Promise<{ points: Point[]; adapter: OpcuaAdapter }> {
    const points: Point[] = [];
    const sink: ReadingSink = { accept: async (p) => void points.push(...p), reject: () => undefined };
    adapter = new OpcuaAdapter(
      opcuaAdapterSchema.parse({
        protocol: 'opcua',
        id,
        endpointUrl: (sim as OpcuaSimulator).endpointUrl,
        publishingInterval: '100ms',
        items: [{ nodeId: 'ns=1;s=Press7.Temperature', device: 'press-7', metric: 'temperature' }],
        ...options,
      }),
    );
    await adapter.start({ sink, logger: silentLogger, now: Date.now, dataDir });
    return { points, adapter };
  }

  it('SignAndEncrypt with Basic256Sha256: an untrusted server certificate is refused until trusted', async () => {
    sim = await startSim({
      secure: true,
      intervalMs: 100,
      devices: [{ name: 'Press7', variables: [{ name: 'Temperature' }] }],
    });
    sim.setValue('Press7', 'Temperature', 42.5);
    const started = await startAdapter('secure', SECURE, tmp.dir);
    const { points } = started;
    const pki = started.adapter.pkiFolder() as string;
    expect(pki).toBe(join(tmp.dir, 'pki', 'opcua'));
    // Refused: the server's certificate is unknown, so it is put in rejected/ and nothing flows.
    await waitFor(
      async () =>
        existsSync(join(pki, 'rejected')) && readdirSync(join(pki, 'rejected')).length > 0 ? true : undefined,
      15_000,
      'rejected certificate',
    );
    await waitFor(
      async () => (/BadCertificateUntrusted|certificate/i.test(lastError()) ? true : undefined),
      10_000,
      'the refusal as the last error',
    );
    expect(points.filter((p) => !p.connectivity)).toEqual([]);
    // Trusted: the operator moves it to trusted/certs; the next attempt connects.
    expect(started.adapter.rejectedCertificates()).toHaveLength(1);
    expect(await started.adapter.trustRejected()).toHaveLength(1);
    const p = await waitFor(
      async () => points.find((x) => x.fields.temperature === 42.5),
      20_000,
      'values over SignAndEncrypt',
    );
    expect(p.deviceId).toBe('press-7');
  });

  it('`faultline opcua certs list | trust` lets an operator trust a refused server while the gateway runs', async () => {
    sim = await startSim({
      secure: true,
      intervalMs: 100,
      devices: [{ name: 'Press7', variables: [{ name: 'Temperature' }] }],
    });
    sim.setValue('Press7', 'Temperature', 33.5);
    const dataDir = join(tmp.dir, 'cli');
    const { points } = await startAdapter('secure-cli', SECURE, dataDir);
    await waitFor(async () => adapter?.rejectedCertificates()[0], 15_000, 'a refused certificate');

    const listed = await runCli(['opcua', 'certs', 'list', '--json', '--data-dir', dataDir], {
      cwd: tmp.dir,
    });
    expect(listed.stderr).toBe('');
    const list = JSON.parse(listed.stdout) as { status: string; thumbprint: string; subject: string }[];
    expect(list).toHaveLength(1);
    expect(list[0]?.status).toBe('rejected');
    expect(list[0]?.thumbprint).toMatch(/^[0-9a-f]{40}$/);
    const text = await runCli(['opcua', 'certs', 'list', '--data-dir', dataDir], { cwd: tmp.dir });
    expect(text.stdout).toMatch(new RegExp(`^rejected\\s+${list[0]?.thumbprint}\\s+`));

    const unknown = await runCli(['opcua', 'certs', 'trust', 'deadbeefdead', '--data-dir', dataDir], {
      cwd: tmp.dir,
    });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no certificate "deadbeefdead"');

    const trusted = await runCli(
      ['opcua', 'certs', 'trust', (list[0]?.thumbprint ?? '').slice(0, 12), '--data-dir', dataDir],
      { cwd: tmp.dir },
    );
    expect(trusted.status).toBe(0);
    expect(trusted.stdout).toContain(`trusted: ${list[0]?.thumbprint}`);
    // The running adapter picks up the change at its next attempt: no restart.
    await waitFor(async () => points.find((p) => p.fields.temperature === 33.5), 20_000, 'values');
    const after = await runCli(['opcua', 'certs', 'list', '--json', '--data-dir', dataDir], { cwd: tmp.dir });
    expect((JSON.parse(after.stdout) as { status: string }[]).map((c) => c.status)).toEqual(['trusted']);
    // Its own waits (15 s + 20 s) and five CLI starts do not fit the default 30 s on a loaded machine.
  }, 60_000);

  /** Runs an adapter with this user identity against a server that knows `alice` and one user certificate. */
  async function withUser(user: Record<string, string>, trustedUserCert?: string) {
    sim = await startSim({
      intervalMs: 100,
      allowAnonymous: false,
      users: [{ username: 'alice', password: 'wonderland' }],
      ...(trustedUserCert ? { userCertificates: [trustedUserCert] } : {}),
      devices: [{ name: 'Press7', variables: [{ name: 'Temperature' }] }],
    });
    sim.setValue('Press7', 'Temperature', 21.5);
    return (await startAdapter('auth', { reconnect: { min: '200ms', max: '400ms' }, user }, tmp.dir)).points;
  }

  /** A self-signed X.509 user certificate and its key, as an operator would issue. */
  async function userCertificate(name: string) {
    const cm = new OPCUACertificateManager({ rootFolder: join(tmp.dir, `user-${name}`) });
    await cm.initialize();
    const certificate = join(cm.rootDir, 'own', 'certs', `${name}.pem`);
    await cm.createSelfSignedCertificate({
      subject: `/CN=${name}`,
      applicationUri: `urn:faultline:user:${name}`,
      dns: [],
      startDate: new Date(Date.now() - 60_000),
      validity: 30,
      outputFile: certificate,
    });
    return { certificate, privateKey: cm.privateKey };
  }

  it('user name and password: accepted when right, refused (and retried) when wrong', async () => {
    const points = await withUser({ username: 'alice', password: 'wonderland' });
    await waitFor(async () => points.find((p) => p.fields.temperature === 21.5), 10_000, 'values as alice');
    await adapter?.stop();
    await sim?.close();
    const none = await withUser({ username: 'alice', password: 'looking-glass' });
    await waitFor(
      async () => (/BadUserAccessDenied|BadIdentityTokenInvalid/.test(lastError()) ? true : undefined),
      10_000,
      'refused',
    );
    expect(none.filter((p) => !p.connectivity)).toEqual([]);
  });

  it('an X.509 user certificate the server trusts is accepted; an unknown one is refused', async () => {
    const trusted = await userCertificate('operator');
    const points = await withUser(trusted, trusted.certificate);
    await waitFor(
      async () => points.find((p) => p.fields.temperature === 21.5),
      10_000,
      'values as operator',
    );
    await adapter?.stop();
    await sim?.close();
    const stranger = await userCertificate('stranger');
    const none = await withUser(stranger, trusted.certificate);
    await waitFor(
      async () => (/Bad(IdentityToken|UserAccess|CertificateUntrusted)/.test(lastError()) ? true : undefined),
      10_000,
      'refused',
    );
    expect(none.filter((p) => !p.connectivity)).toEqual([]);
  });

  const lastError = () => String(adapter?.status().details.lastError ?? '');

  it('deprecated policies are refused unless allowed; mode and policy go together', () => {
    const base = {
      protocol: 'opcua',
      id: 'x',
      endpointUrl: 'opc.tcp://h:4840',
      items: [{ nodeId: 'ns=1;i=1', device: 'd', metric: 'm' }],
    };
    const msg = (o: Record<string, unknown>) =>
      opcuaAdapterSchema.safeParse({ ...base, ...o }).error?.issues.map((i) => i.message);
    expect(msg({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic128Rsa15' })).toEqual([
      'Basic128Rsa15 is deprecated (OPC UA 1.04) and refused unless allowDeprecatedPolicies is true',
    ]);
    expect(
      msg({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256', allowDeprecatedPolicies: true }),
    ).toBeUndefined();
    expect(msg({ securityMode: 'None', securityPolicy: 'Basic256Sha256' })).toEqual([
      'securityMode None goes with securityPolicy None, and only with it',
    ]);
  });
});
