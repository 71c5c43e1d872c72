import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/package-root.js';
import { openDatabase } from '../lib/sqlite.js';
import { auth, startCli, TEST_API_KEY, tempDir, waitFor, writeFiles } from './helpers.js';

const CLI = join(packageRoot(), 'dist', 'gateway', 'cli.js');

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
}

/** Reads JSON log lines from a child until one has `msg: listening`. */
function listeningLine(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no listening line; got: ${buf}`)), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${buf}`)));
  });
}

describe('faultline CLI (built)', () => {
  const tmp = tempDir();
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  });
  afterAll(() => tmp.cleanup());

  it('rules check and rules test: the shipped examples pass; a deliberately broken rule fails the tests', () => {
    const examples = join(packageRoot(), 'examples', 'rules');
    const check = cli(['rules', 'check', join(examples, '*.yaml')], tmp.dir);
    expect(check.stdout).toMatch(/^ok: \d+ rule\(s\) in 2 file\(s\), 2 test file\(s\)/);
    expect(check.status).toBe(0);
    const good = cli(['rules', 'test', join(examples, '*.test.yaml')], tmp.dir);
    expect(good.stdout).toMatch(/\n\d+ passed, 0 failed\n$/);
    expect(good.status).toBe(0);

    // The same tests against a copy of the rules with the overheat limit raised by mistake.
    writeFiles(tmp.dir, {
      'broken/machines.yaml': readFileSync(join(examples, 'machines.yaml'), 'utf8').replace(
        'threshold: { above: 90, for: 10s, clear: 85 }',
        'threshold: { above: 190, for: 10s, clear: 85 }',
      ),
      'broken/machines.test.yaml': readFileSync(join(examples, 'machines.test.yaml'), 'utf8'),
    });
    const bad = cli(['rules', 'test', 'broken/machines.test.yaml'], tmp.dir);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('FAIL broken/machines.test.yaml:5:5: overheat fires after 10 s');
    expect(bad.stdout).toContain('at 15s: firing: expected [overheat@cnc-02], got []');
    expect(bad.stdout).toMatch(/\d+ passed, [1-9] failed\n$/);
    // The broken rule is valid — only its behaviour is wrong, which is what the tests are for.
    expect(cli(['rules', 'check', 'broken/machines.yaml'], tmp.dir).status).toBe(0);
  });

  it('validate: prints every error as file:line:col and exits 1', () => {
    writeFiles(tmp.dir, {
      'broken.yaml': [
        'rules:',
        '  - id: hot',
        '    match: { metric: temperature }',
        '    threshold: { above: 90, for: soon }',
        '    ticket: { priority: urgent }',
        '',
      ].join('\n'),
    });
    const r = cli(['validate', 'broken.yaml'], tmp.dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('broken.yaml:4:34: rule "hot": threshold.for: expected a duration');
    expect(r.stdout).toContain(
      'broken.yaml:5:25: rule "hot": ticket.priority: expected one of "emergency", "general", got "urgent"',
    );
  });

  it('rules check: a pattern that matches no file is an error, not "0 rules, all fine" (issue 18)', () => {
    const r = cli(
      ['rules', 'check', 'rules/*.yaml', join(packageRoot(), 'examples', 'rules', '*.yaml')],
      tmp.dir,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`no rule file matches rules/*.yaml (in ${tmp.dir})`);
    expect(r.stdout).not.toContain('ok:');
  });

  it('validate: config, rule schema, fault type and template errors of every file in one run, sorted (issue 18)', () => {
    writeFiles(tmp.dir, {
      'all/faultline.yaml': 'api:\n  prot: 8080\nrules:\n  files: [b.yaml, a.yaml]\n',
      'all/a.yaml': [
        'rules:',
        '  - id: hot',
        '    match: { metric: temperature }',
        '    threshold: { above: 90, for: soon }',
        '    ticket: { priority: general, faultType: plumbing, title: "{{device.nmae}} hot" }',
        '',
      ].join('\n'),
      'all/b.yaml':
        'rules:\n  - id: cold\n    match: { metric: t }\n    threshold: { below: 1 }\n    ticket: { priority: urgent }\n',
    });
    const r = cli(['validate', '--config', 'all/faultline.yaml'], tmp.dir);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/all\/a\.yaml:4:34: rule "hot": threshold\.for: expected a duration/),
      expect.stringMatching(
        /all\/a\.yaml:5:\d+: rule "hot": ticket\.faultType: unknown fault type "plumbing"/,
      ),
      expect.stringMatching(
        /all\/a\.yaml:5:\d+: rule "hot": ticket\.title: unknown template variable "\{\{device\.nmae\}\}"/,
      ),
      expect.stringMatching(/all\/b\.yaml:5:25: rule "cold": ticket\.priority: expected one of/),
      expect.stringMatching(/all\/faultline\.yaml:2:3: api\.prot: unknown key \(did you mean "port"\?\)/),
      '5 error(s)',
    ]);
  });

  it('start: anonymous on the network only when asked for, with a warning; the listening line names the bind address', async () => {
    writeFiles(tmp.dir, {
      'anon.yaml': 'mqtt: { embedded: { host: 0.0.0.0, allowAnonymous: true } }\nrules: { files: [] }\n',
    });
    const gw = await startCli([
      '--config',
      join(tmp.dir, 'anon.yaml'),
      '--data-dir',
      join(tmp.dir, 'anon-data'),
    ]);
    expect(gw.mqttUrl).toMatch(/^mqtt:\/\/0\.0\.0\.0:\d+$/);
    expect(gw.output()).toContain('accepts anonymous clients on a network interface');
    expect(await gw.stop()).toBe(0);
    writeFiles(tmp.dir, { 'open.yaml': 'mqtt: { embedded: { host: 0.0.0.0 } }\nrules: { files: [] }\n' });
    const refused = cli(['start', '--config', 'open.yaml', '--data-dir', 'open-data'], tmp.dir);
    expect(refused.status).toBe(1);
    expect(refused.stderr + refused.stdout).toMatch(
      /open\.yaml:1:27: mqtt\.embedded\.host: the embedded broker would accept anyone/,
    );
  });

  it('validate: a config error names file, line, column and path', () => {
    writeFiles(tmp.dir, { 'bad-config.yaml': 'api:\n  port: 70000\nmqtt:\n  embeded: {}\n' });
    const r = cli(['validate', '--config', 'bad-config.yaml'], tmp.dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('bad-config.yaml:2:9: api.port: expected at most 65535, got 70000');
    expect(r.stdout).toContain('bad-config.yaml:4:3: mqtt.embeded: unknown key');
  });

  it('validate: the shipped examples are valid', () => {
    for (const [file, rules] of [
      ['faultline.yaml', /^ok: .* 13 rule\(s\) in 2 file\(s\)/],
      ['demo.yaml', /^ok: .* 5 rule\(s\) in 1 file\(s\)/],
    ] as const) {
      const r = cli(['validate', '--config', join(packageRoot(), 'examples', file)], tmp.dir);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(rules);
    }
  });

  it('start: runs on built-in defaults, prints a first admin key once, logs the listening line, stops cleanly on SIGINT', async () => {
    const { FAULTLINE_API_KEY: _none, ...env } = process.env;
    const start = () =>
      spawn(
        process.execPath,
        [CLI, 'start', '--api-port', '0', '--mqtt-port', '0', '--data-dir', join(tmp.dir, 'data')],
        {
          cwd: tmp.dir,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    const child = start();
    let stdout = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const line = await listeningLine(child);
    expect(line.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // No device credentials: the broker serves loopback only, and says so (issue 18).
    expect(line.mqtt).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(stdout).toContain('the embedded broker listens on loopback only');
    const health = await fetch(`${line.api}/health`);
    expect(health.status).toBe(200);
    // No key was configured: one admin key is made and printed on stderr; only its hash is stored.
    const key = /\n {2}(flk_[A-Za-z0-9_-]{43})\n/.exec(stderr)?.[1];
    expect(key).toBeDefined();
    expect((await fetch(`${line.api}/api/v1/rules`)).status).toBe(401);
    expect((await fetch(`${line.api}/api/v1/rules`, { headers: auth(key) })).status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(join(tmp.dir, 'data', 'state.db'))).toBe(true);
    const db = openDatabase(join(tmp.dir, 'data', 'state.db'));
    const stored = db.prepare('SELECT hash FROM api_keys').all() as { hash: string }[];
    db.close();
    expect(stored).toEqual([
      {
        hash: createHash('sha256')
          .update(key as string)
          .digest('hex'),
      },
    ]);
    // A second start prints no key: one exists.
    const again = start();
    let second = '';
    again.stderr?.on('data', (c: Buffer) => {
      second += c.toString();
    });
    await listeningLine(again);
    const done = new Promise((r) => again.once('exit', r));
    again.kill('SIGINT');
    await done;
    expect(second).not.toContain('flk_');
  });

  it('start: SIGTERM stops within the shutdown timeout with a live stream open and a webhook in flight', async () => {
    // A receiver that takes the request and never answers.
    const held: IncomingMessage[] = [];
    const receiver = createServer((req) => {
      held.push(req);
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const dir = join(tmp.dir, 'sigterm');
    writeFiles(dir, {
      'faultline.yaml':
        'shutdown: { timeout: 5s }\nrules: { files: [] }\nnotifications: { webhooks: { egress: { allow: [127.0.0.1] } } }\n',
    });
    const child = spawn(
      process.execPath,
      [CLI, 'start', '--api-port', '0', '--mqtt-port', '0', '--config', join(dir, 'faultline.yaml')],
      {
        cwd: dir,
        env: { ...process.env, FAULTLINE_API_KEY: TEST_API_KEY, FAULTLINE_MQTT_HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const line = await listeningLine(child);
      const api = (p: string) => `${line.api}/api/v1${p}`;
      const post = (p: string, body: object) =>
        fetch(api(p), {
          method: 'POST',
          headers: { ...auth(), 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await post('/webhooks', { url: hook, types: ['ticket.*'] })).status).toBe(201);
      const stream = await fetch(api('/events'), { headers: auth() });
      expect(stream.status).toBe(200);
      const filed = await post('/tickets', {
        title: 'Leak',
        priority: 'general',
        source: 'phone',
        reporter: { name: 'Operator' },
        faultType: 'mechanical',
      });
      expect(filed.status).toBe(201);
      await waitFor(async () => (held.length ? true : undefined), 5_000, 'the webhook request');
      const t0 = Date.now();
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(3_000);
      await stream.body?.cancel().catch(() => undefined);
      // The delivery cut off by the stop is still pending: it goes out again at the next start.
      const db = openDatabase(join(dir, 'data', 'state.db'));
      const rows = db.prepare('SELECT state, attempts FROM deliveries').all();
      db.close();
      expect(rows).toEqual([{ state: 'pending', attempts: 0 }]);
    } finally {
      child.kill('SIGKILL');
      for (const r of held) r.socket.destroy();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  it('start: SIGHUP reloads the rule files', async () => {
    writeFiles(tmp.dir, {
      'hup/faultline.yaml': 'rules:\n  files: [rules.yaml]\n  watch: false\n',
      'hup/rules.yaml': 'rules:\n  - id: a\n    errorCode: [E1]\n    ticket: { priority: general }\n',
    });
    const child = spawn(
      process.execPath,
      [
        CLI,
        'start',
        '--config',
        'hup/faultline.yaml',
        '--api-port',
        '0',
        '--mqtt-port',
        '0',
        '--data-dir',
        join(tmp.dir, 'hup-data'),
      ],
      {
        cwd: tmp.dir,
        env: { ...process.env, FAULTLINE_API_KEY: TEST_API_KEY, FAULTLINE_MQTT_HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const line = await listeningLine(child);
      const ids = async () =>
        (
          (await (await fetch(`${line.api}/api/v1/rules`, { headers: auth() })).json()) as {
            items: { id: string }[];
          }
        ).items.map((r) => r.id);
      expect(await ids()).toEqual(['a']);
      writeFiles(tmp.dir, {
        'hup/rules.yaml': 'rules:\n  - id: b\n    errorCode: [E2]\n    ticket: { priority: general }\n',
      });
      child.kill('SIGHUP');
      await waitFor(
        async () => ((await ids()).includes('b') ? true : undefined),
        10_000,
        'rule b after SIGHUP',
      );
      expect(await ids()).toEqual(['b']);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
  });

  it('sim: runs the shipped scenario against a gateway; a bad scenario is refused with file:line:col', async () => {
    const gw = spawn(
      process.execPath,
      [CLI, 'start', '--api-port', '0', '--mqtt-port', '0', '--data-dir', join(tmp.dir, 'sim-data')],
      {
        cwd: tmp.dir,
        env: { ...process.env, FAULTLINE_API_KEY: TEST_API_KEY, FAULTLINE_MQTT_HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const line = await listeningLine(gw);
    try {
      const r = spawnSync(process.execPath, [CLI, 'sim', '--url', String(line.mqtt), '--duration', '3s'], {
        cwd: tmp.dir,
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('[sim] 11 devices (');
      expect(r.stderr).toMatch(/\[sim\] meter-1: Modbus TCP at modbus:\/\/127\.0\.0\.1:\d+, unit 1/);
      expect(r.stderr).toMatch(
        /\[sim\] oven-2: OPC UA at opc\.tcp:\/\/127\.0\.0\.1:\d+, variables ns=1;s=oven-2\.<metric>/,
      );
      const devices = (await (await fetch(`${line.api}/api/v1/devices`, { headers: auth() })).json()) as {
        items: { id: string; connectivity: { state: string } }[];
      };
      expect(devices.items.map((d) => d.id)).toEqual(
        expect.arrayContaining(['cnc-01', 'cnc-04', 'pump-2', 'edge-1', 'edge-1.tank-2']),
      );
    } finally {
      const exited = new Promise((r) => gw.once('exit', r));
      gw.kill('SIGINT');
      await exited;
    }
    writeFiles(tmp.dir, { 'scenario.yaml': 'devices: []\n' });
    const bad = cli(['sim', '--scenario', 'scenario.yaml'], tmp.dir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('scenario.yaml:1:10: devices: expected at least 1 items');
  });

  it('npm run demo: built only when sources changed; --reset starts afresh and says where the state lives (issue 18)', async () => {
    const data = join(tmp.dir, 'demo-state');
    writeFiles(data, { 'leftover.txt': 'from an earlier run' });
    const child = spawn(
      process.execPath,
      [
        join(packageRoot(), 'scripts', 'run-built.mjs'),
        'demo',
        '--reset',
        '--api-port',
        '0',
        '--mqtt-port',
        '0',
        '--data-dir',
        data,
      ],
      { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    await listeningLine(child);
    await waitFor(async () => (err.includes('[demo] console: ') ? true : undefined), 20_000);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT'); // as Ctrl-C: the script passes it to the gateway once
    expect(await exited).toBe(0);
    // npm test built dist/ just before: nothing to build.
    expect(err).not.toContain('[faultline] building');
    expect(err).toContain(`[demo] reset: deleted ${data}`);
    expect(err).toContain(`[demo] state in ${data}`);
    expect(existsSync(join(data, 'leftover.txt'))).toBe(false);
    expect(existsSync(join(data, 'state.db'))).toBe(true);
    // The console's address and a demo user to sign in with (issue 21).
    expect(err).toMatch(
      /\[demo\] console: http:\/\/127\.0\.0\.1:\d+\/ {2}— sign in as "demo" with password [\w-]{20} /,
    );
  }, 60_000);

  it('--help works for every command', () => {
    for (const cmd of ['start', 'demo', 'validate', 'sim']) {
      const r = cli([cmd, '--help'], tmp.dir);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/--config <file>|--scenario <file>/);
    }
  });
});
