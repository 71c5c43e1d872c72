import { timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import picomatch from 'picomatch';
import { z } from 'zod';

/** A broker account: one device (or a few), or a service (a bridge, Node-RED) that may do anything. */
export const brokerUserSchema = z
  .object({
    username: z.string().min(1),
    /** A secret in plain text (use ${VAR}); or `passwordHash`. */
    password: z.string().min(1).optional(),
    /** A bcrypt hash (`$2b$10$…`, e.g. from `htpasswd -nbBC 10 user secret`). */
    passwordHash: z
      .string()
      .regex(/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/, 'expected a bcrypt hash such as $2b$10$…')
      .optional(),
    /** `device`: publishes only for its own devices; `service`: anything. */
    role: z.enum(['device', 'service']).default('device'),
    /** Device ids (or globs) this account publishes for; default: the username. */
    devices: z.array(z.string().min(1)).optional(),
    /** Topic filters a device account may subscribe to besides `devices/<own id>/#`. */
    subscribe: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((u, ctx) => {
    if ((u.password === undefined) === (u.passwordHash === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "password" or "passwordHash"' });
    }
  });

export type BrokerUser = z.output<typeof brokerUserSchema>;

/** Whether every topic `sub` can match is also matched by `allowed` (both MQTT topic filters). */
export function filterWithin(sub: string, allowed: string): boolean {
  const s = sub.split('/');
  const a = allowed.split('/');
  for (let i = 0; i < s.length; i++) {
    const al = a[i];
    if (al === '#') return true;
    if (al === undefined) return false;
    const sl = s[i] as string;
    if (sl === '#') return false;
    if (al === '+') continue;
    if (sl === '+' || sl !== al) return false;
  }
  return s.length === a.length || (a.length === s.length + 1 && a[s.length] === '#');
}

/** Account checks of the embedded broker. */
export class BrokerAuth {
  private readonly users = new Map<
    string,
    { user: BrokerUser; devices: (id: string) => boolean; filters: string[] }
  >();

  constructor(users: readonly BrokerUser[]) {
    for (const u of users) {
      const globs = u.devices ?? [u.username];
      this.users.set(u.username, {
        user: u,
        devices: picomatch(globs),
        // A device's own namespace, plus what the configuration adds. Globs in `devices` become `+`.
        filters: [...globs.map((g) => `devices/${/[*?[\]{}]/.test(g) ? '+' : g}/#`), ...u.subscribe],
      });
    }
  }

  get size(): number {
    return this.users.size;
  }

  /** The account for these credentials, or undefined. Constant-time for plain secrets. */
  async verify(username: string, password: Buffer | undefined): Promise<BrokerUser | undefined> {
    const entry = this.users.get(username);
    if (!entry || !password) return undefined;
    const { user } = entry;
    if (user.passwordHash)
      return (await bcrypt.compare(password.toString('utf8'), user.passwordHash)) ? user : undefined;
    const want = Buffer.from(user.password ?? '');
    return want.length === password.length && timingSafeEqual(want, password) ? user : undefined;
  }

  /** May this account publish readings for this device? */
  publishesFor(user: BrokerUser, deviceId: string): boolean {
    return user.role === 'service' || (this.users.get(user.username)?.devices(deviceId) ?? false);
  }

  /** May this account publish to a topic that is not a telemetry topic? Devices: their own namespace only. */
  mayPublishTopic(user: BrokerUser, topic: string): boolean {
    if (user.role === 'service') return true;
    const m = /^devices\/([^/]+)\//.exec(topic);
    return m !== null && this.publishesFor(user, m[1] as string);
  }

  maySubscribe(user: BrokerUser, filter: string): boolean {
    if (user.role === 'service') return true;
    const entry = this.users.get(user.username);
    if (!entry) return false;
    // `devices/+/#` from a glob is narrowed further: the filter's device level must be one of its own.
    return entry.filters.some((allowed) => {
      if (!filterWithin(filter, allowed)) return false;
      const m = /^devices\/([^/]+)\//.exec(`${filter}/`);
      return (
        !allowed.startsWith('devices/+/') ||
        (m !== null && m[1] !== '+' && m[1] !== '#' && entry.devices(m[1] as string))
      );
    });
  }
}
