import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';
import { z } from 'zod';

/**
 * Where webhooks may go (issue 18). By default only public unicast addresses: loopback, private,
 * link-local (cloud metadata at 169.254.169.254), unique-local, CGNAT, multicast and reserved ranges
 * are refused, so that an admin key cannot make the gateway a scanner of the plant's internal
 * network. Plants whose receivers are internal allow them by name or network.
 */
export const egressSchema = z
  .object({
    /** Hosts (`erp.plant.local`) and networks (`10.20.0.0/16`, `fd00::/8`) allowed although internal. */
    allow: z.array(z.string().min(1)).default([]),
    /** Allow every internal address (a gateway whose receivers all live on the plant network). */
    allowPrivate: z.boolean().default(false),
  })
  .strict();

export type EgressConfig = z.output<typeof egressSchema>;

/** A target refused by the policy; its message is safe to store and show. */
export class EgressRefused extends Error {
  readonly code = 'FL_EGRESS_REFUSED';
}

type Net = [ipaddr.IPv4 | ipaddr.IPv6, number];

export class EgressPolicy {
  private readonly hosts = new Set<string>();
  private readonly nets: Net[] = [];

  constructor(
    private readonly cfg: EgressConfig = { allow: [], allowPrivate: false },
    /** Name resolution (the system's; tests give their own). */
    private readonly lookup: typeof dnsLookup = dnsLookup,
  ) {
    for (const a of cfg.allow) {
      if (a.includes('/')) this.nets.push(ipaddr.parseCIDR(a));
      else if (ipaddr.isValid(a))
        this.nets.push([ipaddr.process(a), ipaddr.process(a).kind() === 'ipv4' ? 32 : 128]);
      else this.hosts.add(a.toLowerCase());
    }
  }

  /** Checks an allow entry for the config: an error message, or null. */
  static checkEntry(a: string): string | null {
    if (!a.includes('/')) return null;
    try {
      ipaddr.parseCIDR(a);
      return null;
    } catch {
      return `not a network: "${a}" (expected e.g. 10.20.0.0/16)`;
    }
  }

  /** Why `url` may not receive webhooks, or null. Resolved names are checked again at delivery. */
  checkUrl(url: string): string | null {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return 'not a URL';
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'only http and https URLs receive webhooks';
    // The WHATWG parser has already turned 0x7f000001, 2130706433 and 127.1 into 127.0.0.1.
    const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (this.cfg.allowPrivate || this.hosts.has(host)) return null;
    if (ipaddr.isValid(host)) return this.checkAddress(host);
    if (host === 'localhost' || host.endsWith('.localhost'))
      return `${host} is this machine (notifications.webhooks.egress.allow to permit it)`;
    return null;
  }

  /** Why an address may not be connected to, or null. */
  checkAddress(address: string): string | null {
    if (this.cfg.allowPrivate) return null;
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.process(address); // IPv4-mapped IPv6 (::ffff:127.0.0.1) becomes IPv4
    } catch {
      return `not an address: ${address}`;
    }
    const range = ip.range();
    if (range === 'unicast') return null;
    for (const [net, bits] of this.nets) if (ip.kind() === net.kind() && ip.match(net, bits)) return null;
    return `${address} is an internal address (${range}); allow it with notifications.webhooks.egress.allow`;
  }

  /**
   * An HTTP dispatcher that checks every address a name resolves to before connecting, so that a
   * name pointing inside (or re-pointed there after registration: DNS rebinding) is refused.
   */
  dispatcher(): Agent {
    return new Agent({
      connect: {
        lookup: (hostname, options, callback) => {
          const all = (options as { all?: boolean }).all === true;
          this.lookup(hostname, { ...(options as object), all: true }, (err, addresses: LookupAddress[]) => {
            if (err) return callback(err, all ? [] : '', 4);
            const allowedName = this.hosts.has(hostname.toLowerCase());
            const bad = allowedName
              ? undefined
              : addresses.find((a) => this.checkAddress(a.address) !== null);
            if (bad)
              return callback(new EgressRefused(this.checkAddress(bad.address) ?? ''), all ? [] : '', 4);
            const first = addresses[0];
            if (all) return callback(null, addresses as never, 4);
            return callback(null, first?.address ?? '', first?.family ?? 4);
          });
        },
      },
    });
  }
}
