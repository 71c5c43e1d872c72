import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYamlScalar, visit } from 'yaml';
import { z } from 'zod';
import { brokerExposure } from '../../adapters/mqtt/config.js';
import { postgresSchema } from '../../ingest/config.js';
import { packageRoot } from '../../lib/package-root.js';
import { formatPath, readYamlSource, type SourceIssue, type YamlSource } from '../../lib/source-errors.js';
import '../../lib/zod-messages.js';
import { type Config, configSchema, crossCheck, logSchema } from './schema.js';

/** Values given on the command line or in `FAULTLINE_*` variables; they win over the file. */
export interface Overrides {
  dataDir?: string;
  apiPort?: number;
  apiHost?: string;
  /** `FAULTLINE_API_KEY`: an admin key. */
  apiKey?: string;
  mqttPort?: number;
  mqttHost?: string;
  logLevel?: string;
  /** `FAULTLINE_DATABASE_URL`: shared state in PostgreSQL. */
  databaseUrl?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or null for the built-in defaults. */
  file: string | null;
  issues: SourceIssue[];
  /**
   * With issues, `config` holds the defaults; these are the rule files and fault types the file
   * names as far as they can be read, so that `validate` checks the rules too (every error at once).
   */
  rulesHint?: { files: string[]; faultTypes?: string[] };
}

const strings = (x: unknown): string[] | undefined =>
  Array.isArray(x) && x.every((v) => typeof v === 'string') ? (x as string[]) : undefined;

/** The rule files and fault types a (possibly invalid) raw configuration names. */
function rulesHintOf(raw: unknown, file: string | null): LoadedConfig['rulesHint'] {
  const rules = raw && typeof raw === 'object' ? (raw as { rules?: unknown }).rules : undefined;
  const r = rules && typeof rules === 'object' ? (rules as { files?: unknown; faultTypes?: unknown }) : {};
  const base = file === null ? process.cwd() : dirname(resolve(file));
  const files = (strings(r.files) ?? []).map((g) => (isAbsolute(g) ? g : join(base, g)));
  const faultTypes = strings(r.faultTypes);
  return faultTypes ? { files, faultTypes } : { files };
}

const ENV_REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * `${VAR}` and `${VAR:-default}` in string values are replaced from the environment; `$$` is a
 * literal `$`. A value that is one reference only takes the type of what it expands to, so that
 * `port: ${MQTT_PORT}` is a number.
 */
function substituteEnv(src: YamlSource, env: NodeJS.ProcessEnv): SourceIssue[] {
  const issues: SourceIssue[] = [];
  visit(src.doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('$')) return;
      const text = node.value;
      let whole = false;
      const out = text.replace(
        ENV_REF,
        (m, name: string | undefined, fallback: string | undefined, offset: number) => {
          if (m === '$$') return '$';
          const value = env[name as string] ?? fallback;
          if (value === undefined) {
            const at = node.range ? src.positionOf(node.range[0]) : { line: 1, col: 1 };
            issues.push({
              file: src.file,
              ...at,
              path: '',
              message: `environment variable ${name} is not set`,
            });
            return '';
          }
          whole = offset === 0 && m.length === text.length;
          return value;
        },
      );
      node.value = whole ? coerceScalar(out) : out;
    },
  });
  return issues;
}

function coerceScalar(text: string): unknown {
  try {
    const v = parseYamlScalar(text) as unknown;
    return typeof v === 'number' || typeof v === 'boolean' ? v : text;
  } catch {
    return text;
  }
}

/** Built-in defaults: the embedded broker, SQLite under ./data, the example rules and SLA policy. */
export function defaultConfigInput(): Record<string, unknown> {
  return { rules: { files: [join(packageRoot(), 'examples', 'rules', '*.yaml')] } };
}

/**
 * Reads and validates a configuration file (or the built-in defaults when `file` is null), then
 * applies overrides. Every problem is returned at once, located as `file:line:col`.
 */
export async function loadConfig(
  file: string | null,
  overrides: Overrides = {},
  env = process.env,
): Promise<LoadedConfig> {
  let raw: unknown;
  let issues: SourceIssue[] = [];
  let src: YamlSource | undefined;
  if (file === null) {
    raw = defaultConfigInput();
  } else {
    const read = await readYamlSource(file);
    if (!read.src) return { config: configSchema.parse({}), file, issues: read.issues };
    src = read.src;
    issues = substituteEnv(src, env);
    raw = src.toJS() ?? {};
  }

  const parsed = configSchema.safeParse(raw);
  const where = (path: (string | number)[]) => (src ? src.locate(path) : { line: 1, col: 1 });
  for (const x of crossCheck(raw)) {
    issues.push({
      file: file ?? '<defaults>',
      ...where(x.path),
      path: formatPath(x.path),
      message: x.message,
    });
  }
  if (!parsed.success) {
    issues.push(
      ...(src
        ? src.zodIssues(parsed.error)
        : parsed.error.issues.map((i) => ({
            file: '<defaults>',
            line: 1,
            col: 1,
            path: i.path.join('.'),
            message: i.message,
          }))),
    );
  }
  if (issues.length || !parsed.success) {
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    return { config: configSchema.parse({}), file, issues, rulesHint: rulesHintOf(raw, file) };
  }
  const config = parsed.data;
  const base = file === null ? process.cwd() : dirname(resolve(file));
  if (file !== null) {
    config.rules.files = config.rules.files.map((g) => (isAbsolute(g) ? g : join(base, g)));
    config.storage.dataDir = resolve(base, config.storage.dataDir);
  } else {
    config.storage.dataDir = resolve(config.storage.dataDir);
  }
  const overrideIssues = applyOverrides(config, overrides);
  const embedded = config.mqtt.embedded;
  const exposure = brokerExposure(embedded);
  if (embedded.enabled && exposure.problem !== null) {
    const fromFile = overrides.mqttHost === undefined && src !== undefined;
    overrideIssues.push({
      file: fromFile ? (file ?? '<defaults>') : '<command line or environment>',
      ...(fromFile ? where(['mqtt', 'embedded', 'host']) : { line: 1, col: 1 }),
      path: 'mqtt.embedded.host',
      message: exposure.problem,
    });
  }
  return { config, file, issues: overrideIssues };
}

const port = z.number().int().min(0).max(65535);

function applyOverrides(c: Config, o: Overrides): SourceIssue[] {
  const issues: SourceIssue[] = [];
  const bad = (what: string, message: string) =>
    issues.push({ file: '<command line or environment>', line: 1, col: 1, path: what, message });
  if (o.dataDir !== undefined) c.storage.dataDir = resolve(o.dataDir);
  if (o.apiHost !== undefined) c.api.host = o.apiHost;
  if (o.apiKey !== undefined) {
    if (o.apiKey.length >= 16) c.api.adminKey = o.apiKey;
    else bad('FAULTLINE_API_KEY', 'an API key must be at least 16 characters');
  }
  if (o.mqttHost !== undefined) c.mqtt.embedded.host = o.mqttHost;
  if (o.apiPort !== undefined) {
    if (port.safeParse(o.apiPort).success) c.api.port = o.apiPort;
    else bad('api.port', `expected a port 0-65535, got ${o.apiPort}`);
  }
  if (o.mqttPort !== undefined) {
    if (port.safeParse(o.mqttPort).success) c.mqtt.embedded.port = o.mqttPort;
    else bad('mqtt.embedded.port', `expected a port 0-65535, got ${o.mqttPort}`);
  }
  if (o.databaseUrl !== undefined) {
    // The file's pool and TLS settings stay; the URL is the variable's.
    const r = postgresSchema.safeParse({ url: o.databaseUrl });
    if (r.success) c.storage.postgres = { ...r.data, ...c.storage.postgres, url: r.data.url };
    else bad('FAULTLINE_DATABASE_URL', 'expected a URL postgres://user:password@host:port/database');
  }
  if (o.logLevel !== undefined) {
    const r = logSchema.safeParse({ level: o.logLevel });
    if (r.success) c.log.level = r.data.level;
    else bad('log.level', `unknown log level "${o.logLevel}"`);
  }
  return issues;
}
