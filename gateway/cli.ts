#!/usr/bin/env node
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatDuration, parseDuration } from '../lib/duration.js';
import { isFaultlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { packageRoot, packageVersion } from '../lib/package-root.js';
import { formatIssue } from '../lib/source-errors.js';
import { type LoadOptions, loadRuleFiles } from '../rules/load.js';
import { loadScenario, runScenario, type SimulationHandle } from '../simulators/mqtt/index.js';
import { registerUserCommands } from './cli-users.js';
import { loadConfig, type Overrides } from './config/load.js';
import type { Config } from './config/schema.js';
import { runDemo } from './demo.js';
import { type RunningGateway, startGateway } from './gateway.js';
import { limitHeapGrowth } from './heap.js';
import { createLogger } from './logger.js';

interface CommonOptions {
  config?: string;
  dataDir?: string;
  apiPort?: number;
  mqttPort?: number;
  logLevel?: string;
}

function portArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port 0-65535 (0 = any free port)');
  return n;
}

function withCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--config <file>',
        'configuration file (default: ./faultline.yaml if present, else built-in defaults)',
      ).env('FAULTLINE_CONFIG'),
    )
    .addOption(
      new Option('--data-dir <dir>', 'where SQLite state lives (default: ./data)').env('FAULTLINE_DATA_DIR'),
    )
    .addOption(
      new Option('--api-port <n>', 'HTTP API port, 0 = any free port (default: 8080)')
        .env('FAULTLINE_API_PORT')
        .argParser(portArg),
    )
    .addOption(
      new Option('--mqtt-port <n>', 'embedded MQTT broker port, 0 = any free port (default: 1883)')
        .env('FAULTLINE_MQTT_PORT')
        .argParser(portArg),
    )
    .addOption(
      new Option('--log-level <level>', 'trace | debug | info | warn | error').env('FAULTLINE_LOG_LEVEL'),
    );
}

/** flag > environment (commander reads FAULTLINE_*) > file > default. */
function overridesFrom(o: CommonOptions): Overrides {
  const out: Overrides = {};
  if (o.dataDir !== undefined) out.dataDir = o.dataDir;
  if (o.apiPort !== undefined) out.apiPort = o.apiPort;
  if (o.mqttPort !== undefined) out.mqttPort = o.mqttPort;
  if (o.logLevel !== undefined) out.logLevel = o.logLevel;
  if (process.env.FAULTLINE_API_HOST) out.apiHost = process.env.FAULTLINE_API_HOST;
  if (process.env.FAULTLINE_API_KEY) out.apiKey = process.env.FAULTLINE_API_KEY;
  if (process.env.FAULTLINE_MQTT_HOST) out.mqttHost = process.env.FAULTLINE_MQTT_HOST;
  if (process.env.FAULTLINE_DATABASE_URL) out.databaseUrl = process.env.FAULTLINE_DATABASE_URL;
  return out;
}

function configFile(o: CommonOptions, fallback: string | null): string | null {
  if (o.config) return o.config;
  if (existsSync('faultline.yaml')) return 'faultline.yaml';
  return fallback;
}

async function loadOrExit(file: string | null, o: CommonOptions): Promise<Config> {
  const loaded = await loadConfig(file, overridesFrom(o));
  if (loaded.issues.length) {
    for (const i of loaded.issues) process.stderr.write(`${formatIssue(i)}\n`);
    process.stderr.write(`faultline: configuration has ${loaded.issues.length} error(s)\n`);
    process.exit(1);
  }
  return loaded.config;
}

/**
 * Runs until SIGINT/SIGTERM, then stops cleanly: adapters stop reading, what was accepted is made
 * durable and acknowledged, the API, broker and stores close. Past `timeoutMs` the process exits
 * anyway (code 1); a second signal exits at once.
 */
function stopOnSignals(
  gw: RunningGateway,
  logger: Logger,
  timeoutMs: number,
  extra?: () => Promise<void>,
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    setTimeout(() => {
      logger.error({ timeoutMs }, 'stopping took longer than shutdown.timeout: exiting now');
      process.exit(1);
    }, timeoutMs).unref();
    void (async () => {
      try {
        if (extra) await extra();
        await gw.stop();
        process.exit(0);
      } catch (err) {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP reloads the rule files (kill -HUP <pid>); errors keep the running rules.
  process.on('SIGHUP', () => void gw.rules.reload('signal'));
}

async function run(file: string | null, o: CommonOptions, demo: boolean): Promise<void> {
  const config = await loadOrExit(file, o);
  const logger = createLogger(config.log.level);
  let gw: RunningGateway;
  try {
    gw = await startGateway(config, logger);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      logger.fatal(
        `address in use (${e.message}); choose other ports with --api-port / --mqtt-port (0 = any free port)`,
      );
    } else if (isFaultlineError(err)) {
      logger.fatal({ code: err.code }, err.message);
    } else {
      logger.fatal({ err }, 'gateway failed to start');
    }
    // Let the log drain before exiting.
    setTimeout(() => process.exit(1), 100);
    return;
  }
  if (!demo) {
    stopOnSignals(gw, logger, config.shutdown.timeout);
    return;
  }
  const sim = await runDemo(gw, logger);
  stopOnSignals(gw, logger, config.shutdown.timeout, () => sim.close());
}

async function runSim(o: { scenario?: string; url?: string; duration?: string }): Promise<void> {
  const file = o.scenario ?? join(packageRoot(), 'simulators', 'scenarios', 'plant.yaml');
  const durationMs = o.duration === undefined ? undefined : parseDuration(o.duration);
  if (o.duration !== undefined && durationMs === undefined) {
    process.stderr.write(
      `faultline sim: --duration expects a duration such as 30s or 10m, got "${o.duration}"\n`,
    );
    process.exit(1);
  }
  const { scenario, issues } = await loadScenario(file);
  if (!scenario) {
    for (const i of issues) process.stderr.write(`${formatIssue(i)}\n`);
    process.exit(1);
  }
  const say = (line: string) => process.stderr.write(`[sim] ${line}\n`);
  const url = o.url ?? scenario.broker;
  let sim: SimulationHandle;
  try {
    sim = await runScenario(scenario, {
      url,
      onEvent: (e) =>
        say(
          `${e.device}: ${e.fault}${e.metric ? ` ${e.metric}` : ''}${e.for !== undefined ? ` for ${e.for / 1000} s` : ''}`,
        ),
    });
  } catch (err) {
    process.stderr.write(`faultline sim: cannot reach ${url}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  say(`${sim.devices.length} devices (${url}): ${sim.devices.join(', ')}`);
  for (const e of sim.endpoints)
    say(
      'unit' in e
        ? `${e.id}: Modbus TCP at ${e.url}, unit ${e.unit}`
        : `${e.id}: OPC UA at ${e.url}, variables ${e.nodeIds}`,
    );
  const stop = async () => {
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (durationMs !== undefined) setTimeout(() => void stop(), durationMs);
}

async function validate(o: CommonOptions, ruleFiles: string[]): Promise<void> {
  const file = configFile(o, null);
  const loaded = await loadConfig(file, overridesFrom(o));
  const issues = [...loaded.issues];
  // A configuration with errors still names its rule files: they are checked in the same run.
  const hint = loaded.issues.length ? loaded.rulesHint : undefined;
  const patterns = ruleFiles.length ? ruleFiles : (hint?.files ?? loaded.config.rules.files);
  const faultTypes = hint?.faultTypes ?? loaded.config.rules.faultTypes;
  const rules = await loadRuleFiles(patterns, process.cwd(), { faultTypes });
  issues.push(...rules.issues);
  // By file, then line and column: a run reads like a compiler's.
  issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
  for (const i of issues) process.stdout.write(`${formatIssue(i)}\n`);
  if (issues.length) {
    process.stdout.write(`${issues.length} error(s)\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(
    `ok: ${file ?? 'built-in defaults'}; ${rules.rules.length} rule(s) in ${rules.files.length} file(s); ` +
      `${loaded.config.devices.length} device(s), ${loaded.config.sites.length} site(s)\n`,
  );
}

// A long-running gateway keeps its heap within twice what it holds (gateway/heap.ts).
limitHeapGrowth();

const program = new Command('faultline')
  .description('IoT telemetry ingestion and auto-ticketing gateway for equipment maintenance')
  .version(packageVersion())
  .showHelpAfterError();

withCommonOptions(
  program.command('start').description('run the gateway (embedded MQTT broker, rules, tickets, API)'),
).action(async (o: CommonOptions) => run(configFile(o, null), o, false));

withCommonOptions(
  program
    .command('demo')
    .description(
      'run the gateway with simulated equipment that develops faults; tickets appear within a minute',
    )
    .option('--reset', "start afresh: delete the demo's state (tickets, alerts, spool) first"),
).action(async (o: CommonOptions & { reset?: boolean }) => {
  const opts = { ...o };
  // The demo keeps its state apart from a real gateway's.
  opts.dataDir ??= join('data', 'demo');
  const dir = resolve(opts.dataDir);
  if (o.reset) {
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`[demo] reset: deleted ${dir}\n`);
  }
  process.stderr.write(
    `[demo] state in ${dir}${o.reset ? '' : ' (kept between runs; npm run demo -- --reset starts afresh)'}\n`,
  );
  await run(o.config ?? join(packageRoot(), 'examples', 'demo.yaml'), opts, true);
});

program
  .command('sim')
  .description(
    'run simulated equipment from a scenario file against an MQTT broker (a gateway, Mosquitto, …)',
  )
  .option('--scenario <file>', 'scenario file (default: the shipped plant scenario)')
  .option('--url <url>', "broker URL (default: the scenario's broker)")
  .option('--duration <duration>', 'stop after this long (default: run until Ctrl-C)')
  .action(async (o: { scenario?: string; url?: string; duration?: string }) => runSim(o));

withCommonOptions(
  program
    .command('validate')
    .description(
      'check the configuration and rule files; prints every error as file:line:col and exits 1 if any',
    )
    .argument('[rule-files...]', 'rule files to check instead of those the configuration names'),
).action(async (ruleFiles: string[], o: CommonOptions) => validate(o, ruleFiles));

const rulesCmd = program
  .command('rules')
  .description('check and test rule files (like promtool check rules / test rules)');

const configOption = () =>
  new Option(
    '--config <file>',
    'configuration whose rules.faultTypes apply (default: ./faultline.yaml if present)',
  ).env('FAULTLINE_CONFIG');

/** Rule loading options from the configuration, when there is one. */
async function ruleLoadOptions(o: { config?: string }): Promise<LoadOptions> {
  const file = configFile(o, null);
  if (!file) return {};
  return { faultTypes: (await loadOrExit(file, o)).rules.faultTypes };
}

rulesCmd
  .command('check')
  .description('validate rule files; prints every error as file:line:col: rule "id": message, exits 1 if any')
  .argument('<files...>', 'rule files or globs')
  .addOption(configOption())
  .action(async (files: string[], o: { config?: string }) => {
    const opts = await ruleLoadOptions(o);
    // Test files (*.test.yaml) beside the rules are checked as test files, not as rule files.
    const { glob } = await import('tinyglobby');
    const all = (await glob(files, { cwd: process.cwd(), onlyFiles: true })).sort();
    // A pattern that matches nothing is a mistake, not "0 rules, all fine" (issue 18).
    const unmatched: string[] = [];
    for (const f of files)
      if ((await glob([f], { cwd: process.cwd(), onlyFiles: true })).length === 0) unmatched.push(f);
    if (unmatched.length) {
      for (const f of unmatched) process.stderr.write(`no rule file matches ${f} (in ${process.cwd()})\n`);
      process.exitCode = 1;
      return;
    }
    const testFiles = all.filter((f) => /\.test\.ya?ml$/.test(f));
    const r = await loadRuleFiles(
      files.filter((f) => !/\.test\.ya?ml$/.test(f)),
      process.cwd(),
      opts,
    );
    if (testFiles.length) {
      const { checkTestFile } = await import('../rules/testing.js');
      for (const f of testFiles) r.issues.push(...(await checkTestFile(f, opts)));
    }
    for (const i of r.issues) process.stdout.write(`${formatIssue(i)}\n`);
    if (r.issues.length) {
      process.stdout.write(`${r.issues.length} error(s)\n`);
      process.exitCode = 1;
      return;
    }
    const kinds = new Map<string, number>();
    for (const rule of r.rules) kinds.set(rule.condition.kind, (kinds.get(rule.condition.kind) ?? 0) + 1);
    process.stdout.write(
      `ok: ${r.rules.length} rule(s) in ${r.files.length} file(s)` +
        (testFiles.length ? `, ${testFiles.length} test file(s)` : '') +
        (kinds.size ? ` (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})` : '') +
        '\n',
    );
  });

rulesCmd
  .command('test')
  .description(
    'run rule unit tests: input series and the alerts expected at given times; exits 1 if any test fails',
  )
  .argument('<files...>', 'test files (*.test.yaml)')
  .addOption(configOption())
  .action(async (files: string[], o: { config?: string }) => {
    const opts = await ruleLoadOptions(o);
    const { glob } = await import('tinyglobby');
    const { runTestFile } = await import('../rules/testing.js');
    const matched = (await glob(files, { cwd: process.cwd(), onlyFiles: true })).sort();
    if (matched.length === 0) {
      process.stderr.write(`faultline rules test: no test files match ${files.join(' ')}\n`);
      process.exitCode = 1;
      return;
    }
    let passed = 0;
    let failed = 0;
    let broken = 0;
    for (const file of matched) {
      const r = await runTestFile(file, opts);
      if (r.issues.length) {
        broken++;
        for (const i of r.issues) process.stdout.write(`${formatIssue(i)}\n`);
        process.stdout.write(`BROKEN ${file}: nothing ran\n`);
        continue;
      }
      for (const t of r.tests) {
        if (t.failures.length === 0) {
          passed++;
          process.stdout.write(`ok   ${t.source}: ${t.name}\n`);
          continue;
        }
        failed++;
        process.stdout.write(`FAIL ${t.source}: ${t.name}\n`);
        for (const f of t.failures) process.stdout.write(`       ${f}\n`);
      }
    }
    process.stdout.write(
      `${passed} passed, ${failed} failed${broken ? `, ${broken} file(s) could not run` : ''}\n`,
    );
    if (failed || broken) process.exitCode = 1;
  });

/** `2026-11-01T00:00:00Z`, epoch ms, or a duration meaning that long ago (`7d`). */
function timeArg(value: string): number {
  const ago = parseDuration(value);
  if (ago !== undefined) return Date.now() - ago;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(t))
    throw new InvalidArgumentError('expected an ISO 8601 time, epoch ms, or a duration ago (7d)');
  return t;
}

withStorageOptions(
  rulesCmd
    .command('backtest')
    .description(
      'replay recorded history (InfluxDB or the per-minute rollups) through rules; list the alerts they would have raised',
    )
    .requiredOption('--from <time>', 'start: ISO 8601, epoch ms, or a duration ago (7d)', timeArg)
    .option('--to <time>', 'end (default: now)', timeArg)
    .option('--rules <files...>', "rule files (default: the configuration's)")
    .option('--rule <ids...>', 'only these rules (default: all)')
    .option('--device <globs...>', 'only these devices (default: all with history)')
    .option('--source <source>', 'influxdb | rollups (default: influxdb when configured)')
    .option('--value <value>', 'rollups: the value of each minute: mean | min | max | last', 'mean')
    .option('--json', 'print the result as JSON'),
).action(
  async (
    o: StorageOptions & {
      from: number;
      to?: number;
      rules?: string[];
      rule?: string[];
      device?: string[];
      source?: string;
      value: string;
      json?: boolean;
    },
  ) => {
    const config = await loadOrExit(configFile(o, null), o);
    const fail = (msg: string) => {
      process.stderr.write(`faultline rules backtest: ${msg}\n`);
      process.exitCode = 1;
    };
    const loaded = await loadRuleFiles(o.rules ?? config.rules.files, process.cwd(), {
      faultTypes: config.rules.faultTypes,
    });
    if (loaded.issues.length) {
      for (const i of loaded.issues) process.stdout.write(`${formatIssue(i)}\n`);
      return fail(`${loaded.issues.length} error(s) in the rule files`);
    }
    const rules = o.rule ? loaded.rules.filter((r) => o.rule?.includes(r.id)) : loaded.rules;
    const missing = (o.rule ?? []).filter((id) => !loaded.rules.some((r) => r.id === id));
    if (missing.length) return fail(`no rule ${missing.map((m) => `"${m}"`).join(', ')} in the rule files`);
    const to = o.to ?? Date.now();
    if (to <= o.from) return fail('--to must be after --from');
    const sourceName = o.source ?? (config.influx ? 'influxdb' : 'rollups');
    if (!['influxdb', 'rollups'].includes(sourceName)) return fail('--source is influxdb or rollups');
    if (!['mean', 'min', 'max', 'last'].includes(o.value)) return fail('--value is mean, min, max or last');
    const { backtest, InfluxSource, RollupSource } = await import('../rules/backtest.js');
    let source: import('../rules/backtest.js').HistorySource;
    let close = () => {};
    if (sourceName === 'influxdb') {
      if (!config.influx) return fail('no influx section in the configuration: use --source rollups');
      source = new InfluxSource(config.influx);
    } else {
      const file = join(config.storage.dataDir, 'history.db');
      if (!existsSync(file)) return fail(`no rollups at ${file} (--data-dir?)`);
      const { openDatabase } = await import('../lib/sqlite.js');
      const { SqliteHistoryStore } = await import('../ingest/sqlite-history-store.js');
      const db = openDatabase(file);
      close = () => db.close();
      source = new RollupSource(new SqliteHistoryStore(db), o.value as 'mean');
    }
    const configured = new Map(config.devices.map((d) => [d.id, d]));
    const { newDevice } = await import('../ingest/devices.js');
    const device = (id: string) => {
      const d = configured.get(id);
      return newDevice(id, {
        configured: Boolean(d),
        name: d?.name ?? id,
        model: d?.model ?? null,
        site: d?.site ?? 'default',
        customer: d?.customer ?? null,
        tags: d?.tags ?? {},
      });
    };
    const picomatch = (await import('picomatch')).default;
    try {
      const r = await backtest(
        rules,
        source,
        { from: o.from, to },
        device,
        o.device ? picomatch(o.device) : undefined,
      );
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const iso = (t: number) => new Date(t).toISOString();
      for (const e of r.episodes) {
        const end = e.resolvedAt === null ? 'still firing' : `resolved ${iso(e.resolvedAt)}`;
        const dur = e.resolvedAt === null ? '' : ` (${formatDuration(e.resolvedAt - e.firedAt)})`;
        process.stdout.write(
          `${e.alertId}  ${e.priority}  fired ${iso(e.firedAt)}  ${end}${dur}  value ${e.value ?? '-'}` +
            `${e.peak !== null && e.peak !== e.value ? `  peak ${e.peak}` : ''}\n`,
        );
      }
      process.stdout.write(
        `${r.episodes.length} alert episode(s) from ${rules.length} rule(s); ${r.readings} reading(s) of ` +
          `${r.devices} device(s) from ${r.source}, ${iso(r.from)} .. ${iso(r.to)}\n`,
      );
    } catch (err) {
      fail((err as Error).message);
    } finally {
      close();
    }
  },
);

interface StorageOptions {
  config?: string;
  dataDir?: string;
}

function withStorageOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--config <file>', 'configuration file (default: ./faultline.yaml if present)').env(
        'FAULTLINE_CONFIG',
      ),
    )
    .addOption(
      new Option('--data-dir <dir>', 'data directory (default: from the configuration, else ./data)').env(
        'FAULTLINE_DATA_DIR',
      ),
    );
}

/** The OPC UA PKI folder of the configured data directory. */
async function opcuaPki(o: StorageOptions) {
  const config = await loadOrExit(configFile(o, null), o);
  const pki = await import('../adapters/opcua/pki.js'); // node-opcua: loaded only when needed
  return { root: pki.pkiRoot(config.storage.dataDir), ...pki };
}

const certs = program
  .command('opcua')
  .description('OPC UA tools')
  .command('certs')
  .description(
    'OPC UA server certificates: unknown ones are refused (rejected/) until an operator trusts them',
  );

withStorageOptions(
  certs.command('list').description('list refused and trusted server certificates').option('--json'),
).action(async (o: StorageOptions & { json?: boolean }) => {
  const { root, listCertificates } = await opcuaPki(o);
  const list = listCertificates(root);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return;
  }
  if (list.length === 0) {
    process.stdout.write(`no server certificates yet in ${root}\n`);
    return;
  }
  for (const c of list) {
    process.stdout.write(
      `${c.status.padEnd(8)}  ${c.thumbprint}  ${c.subject}  ${c.applicationUri ?? '-'}  ` +
        `valid ${c.notBefore.slice(0, 10)}..${c.notAfter.slice(0, 10)}  ${c.file}\n`,
    );
  }
});

for (const to of ['trusted', 'rejected'] as const) {
  withStorageOptions(
    certs
      .command(to === 'trusted' ? 'trust' : 'reject')
      .description(
        to === 'trusted'
          ? 'trust server certificates (by file name or thumbprint); a running gateway connects at its next attempt'
          : 'stop trusting server certificates (by file name or thumbprint)',
      )
      .argument('[certificates...]', 'file names or thumbprints (8+ leading hex digits)')
      .option('--all', to === 'trusted' ? 'every refused certificate' : 'every trusted certificate'),
  ).action(async (names: string[], o: StorageOptions & { all?: boolean }) => {
    if (!o.all && names.length === 0) {
      process.stderr.write('faultline opcua certs: name certificates or give --all\n');
      process.exitCode = 2;
      return;
    }
    const { root, setTrust } = await opcuaPki(o);
    try {
      const moved = await setTrust(root, o.all ? 'all' : names, to);
      for (const c of moved) process.stdout.write(`${to}: ${c.thumbprint}  ${c.subject}\n`);
      if (moved.length === 0) process.stdout.write(`nothing to change in ${root}\n`);
    } catch (err) {
      process.stderr.write(`faultline opcua certs: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  });
}

registerUserCommands<CommonOptions>(program, {
  withCommonOptions,
  load: (o) => loadOrExit(configFile(o, null), o),
});

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`faultline: ${(err as Error).message}\n`);
  process.exit(1);
});
