import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import './node-opcua-log.js'; // before node-opcua speaks: keep its messages off stdout
import { OPCUACertificateManager } from 'node-opcua';
import { exploreCertificate, makeSHA1Thumbprint, readCertificate } from 'node-opcua-crypto';

/** Where the OPC UA client keeps its own certificate and the server certificates it trusts or refused. */
export function pkiRoot(dataDir: string): string {
  return join(dataDir, 'pki', 'opcua');
}

export interface ServerCertificate {
  status: 'rejected' | 'trusted';
  /** File name inside `rejected/` or `trusted/certs/`. */
  file: string;
  /** SHA-1 thumbprint, hex, as OPC UA tools show it. */
  thumbprint: string;
  subject: string;
  applicationUri: string | null;
  notBefore: string;
  notAfter: string;
}

const FOLDERS = { rejected: 'rejected', trusted: join('trusted', 'certs') } as const;

/** Every server certificate refused so far or trusted, newest decisions last. */
export function listCertificates(root: string): ServerCertificate[] {
  const out: ServerCertificate[] = [];
  for (const status of ['rejected', 'trusted'] as const) {
    const dir = join(root, FOLDERS[status]);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).sort()) {
      if (!/\.(der|pem)$/.test(file)) continue;
      const der = readCertificate(join(dir, file));
      const info = exploreCertificate(der);
      const tbs = info.tbsCertificate;
      out.push({
        status,
        file,
        thumbprint: makeSHA1Thumbprint(der).toString('hex'),
        subject: subjectLine(tbs.subject as unknown as Record<string, unknown>),
        applicationUri: tbs.extensions?.subjectAltName?.uniformResourceIdentifier?.[0] ?? null,
        notBefore: tbs.validity.notBefore.toISOString(),
        notAfter: tbs.validity.notAfter.toISOString(),
      });
    }
  }
  return out;
}

/**
 * Moves certificates between rejected/ and trusted/ through node-opcua's certificate manager, so a
 * running gateway (which watches those folders) sees the change at its next connection attempt.
 * `which` holds file names or thumbprints (a unique prefix of 8+ hex digits is enough); 'all' takes
 * every certificate in the other state. Returns what moved; unknown or ambiguous names throw.
 */
export async function setTrust(
  root: string,
  which: string[] | 'all',
  to: 'trusted' | 'rejected',
): Promise<ServerCertificate[]> {
  const from = to === 'trusted' ? 'rejected' : 'trusted';
  const all = listCertificates(root);
  const candidates = all.filter((c) => c.status === from);
  const chosen: ServerCertificate[] = [];
  if (which === 'all') chosen.push(...candidates);
  else {
    for (const name of which) {
      const key = name.toLowerCase().replace(/:/g, '');
      const hits = all.filter((c) => c.file === name || (key.length >= 8 && c.thumbprint.startsWith(key)));
      if (hits.length === 0) throw new Error(`no certificate "${name}" in ${root}`);
      if (hits.length > 1) throw new Error(`"${name}" matches ${hits.length} certificates; give more of it`);
      const hit = hits[0] as ServerCertificate;
      if (hit.status === to) continue; // already there
      chosen.push(hit);
    }
  }
  if (chosen.length === 0) return [];
  const cm = new OPCUACertificateManager({ rootFolder: root, automaticallyAcceptUnknownCertificate: false });
  await cm.initialize();
  try {
    for (const c of chosen) {
      const der = readCertificate(join(root, FOLDERS[c.status], c.file));
      if (to === 'trusted') await cm.trustCertificate(der);
      else await cm.rejectCertificate(der);
    }
  } finally {
    await cm.dispose();
  }
  return chosen.map((c) => ({ ...c, status: to }));
}

const SHORT: Record<string, string> = {
  commonName: 'CN',
  organizationName: 'O',
  organizationalUnitName: 'OU',
  localityName: 'L',
  stateOrProvinceName: 'ST',
  countryName: 'C',
  domainComponent: 'DC',
};

/** `CN=PLC-Line2, O=Acme, C=DE`: the usual short names, most specific first. */
function subjectLine(subject: Record<string, unknown>): string {
  return Object.entries(SHORT)
    .flatMap(([long, short]) => (typeof subject[long] === 'string' ? [`${short}=${subject[long]}`] : []))
    .join(', ');
}
