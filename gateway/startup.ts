import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ApiKeys } from '../api/auth.js';
import type { DeviceRegistry } from '../ingest/devices.js';
import { FaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { RuleEngine } from '../rules/engine.js';
import type { AlertStore } from '../rules/store.js';
import type { Config } from './config/schema.js';

/** Start-up steps of the composition root (gateway.ts) that stand on their own. */

/**
 * The data directory must be writable before anything is accepted: a spool that cannot write would
 * refuse every reading anyway, and a read-only state.db would lose tickets. Refuse to start, and
 * say why.
 */
export function assertWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    // mkdir under a read-only mount says ENOENT: ask the nearest existing folder what is wrong.
    let at = dir;
    while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
    let code = (err as NodeJS.ErrnoException).code;
    try {
      accessSync(at, constants.W_OK);
    } catch (inner) {
      code = (inner as NodeJS.ErrnoException).code ?? code;
    }
    const why =
      code === 'EROFS'
        ? 'read-only file system'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : (err as Error).message;
    throw new FaultlineError(
      'FL_ERR_DATA_DIR',
      `data directory ${dir} is not writable (${why}): not starting, since readings could not be kept`,
      { cause: err },
    );
  }
}

/** The URL of a listener as bound: `http://0.0.0.0:8080` when it serves every interface (issue 18). */
export function displayUrl(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Devices that configured adapters read (Modbus units, OPC UA items): known without `devices`. */
export function adapterDeviceIds(config: Config): Set<string> {
  const ids = new Set<string>();
  for (const a of config.adapters) {
    if (a.protocol === 'modbus') for (const d of a.devices) ids.add(d.id);
    if (a.protocol === 'opcua') for (const item of a.items) ids.add(item.device);
  }
  return ids;
}

/** Seeds the rule engine with the alerts that were pending or firing when the gateway last stopped. */
export async function restoreAlerts(
  store: AlertStore,
  engine: RuleEngine,
  registry: DeviceRegistry,
): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await store.list({ state: ['firing', 'pending'] }, 500, cursor);
    for (const a of page.items) engine.restore(a, registry.resolve(a.deviceId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/**
 * API keys: FAULTLINE_API_KEY (or api.adminKey) is an admin key; with none at all, the first start
 * makes one and prints it once on stderr (only its hash is stored).
 */
export async function ensureAdminKey(
  keys: ApiKeys,
  adminKey: string | undefined,
  logger: Logger,
): Promise<void> {
  if (adminKey) {
    await keys.ensureEnvKey(adminKey);
    return;
  }
  if ((await keys.activeCount()) > 0) return;
  const { key } = await keys.create({ name: 'first admin key', role: 'admin', createdBy: 'first start' });
  process.stderr.write(
    `\nFaultline made an admin API key (shown this once; only its hash is stored):\n\n  ${key}\n\n` +
      'Send it as "Authorization: Bearer <key>"; make other keys with POST /api/v1/keys.\n\n',
  );
  logger.warn('no API key existed: an admin key was made and printed once on stderr');
}
