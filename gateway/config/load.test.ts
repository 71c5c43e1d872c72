import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';
import { formatIssue } from '../../lib/source-errors.js';
import { tempDir, writeFiles } from '../../test/helpers.js';
import { loadConfig } from './load.js';

describe('configuration loading', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const file = (name: string, text: string) => {
    writeFiles(tmp.dir, { [name]: text });
    return join(tmp.dir, name);
  };

  it('built-in defaults: embedded broker on 1883, API on 8080, ./data, the example rules', async () => {
    const { config, issues } = await loadConfig(null, {}, {});
    expect(issues).toEqual([]);
    expect(config.mqtt.embedded).toMatchObject({ enabled: true, port: 1883 });
    expect(config.api.port).toBe(8080);
    expect(config.storage.dataDir).toBe(join(process.cwd(), 'data'));
    expect(config.rules.files[0]).toMatch(/examples[/\\]rules[/\\]\*\.yaml$/);
    expect(config.sla.emergency.response).toBe(3_600_000);
  });

  it('an unknown key says which known key was probably meant', async () => {
    const f = file('typo.yaml', 'mqtt:\n  embedded:\n    hots: 0.0.0.0\napi: { prot: 8080, zzzzzz: 1 }\n');
    const { issues } = await loadConfig(f, {}, {});
    expect(issues.map(formatIssue)).toEqual([
      expect.stringMatching(/typo\.yaml:3:5: mqtt\.embedded\.hots: unknown key \(did you mean "host"\?\)$/),
      expect.stringMatching(/typo\.yaml:4:8: api\.prot: unknown key \(did you mean "port"\?\)$/),
      expect.stringMatching(/typo\.yaml:4:20: api\.zzzzzz: unknown key$/),
    ]);
  });

  it('the embedded broker serves the network only with credentials or an explicit anonymous switch (issue 18)', async () => {
    const open = file('open.yaml', 'mqtt:\n  embedded:\n    host: 0.0.0.0\n');
    const refused = await loadConfig(open, {}, {});
    expect(refused.issues.map(formatIssue)).toEqual([
      expect.stringMatching(
        /open\.yaml:3:11: mqtt\.embedded\.host: the embedded broker would accept anyone on 0\.0\.0\.0: configure device credentials/,
      ),
    ]);
    // The same from the environment, located there.
    const env = await loadConfig(null, { mqttHost: '0.0.0.0' }, {});
    expect(env.issues[0]).toMatchObject({
      file: '<command line or environment>',
      path: 'mqtt.embedded.host',
    });
    const explicit = file('anon.yaml', 'mqtt:\n  embedded: { host: 0.0.0.0, allowAnonymous: true }\n');
    expect((await loadConfig(explicit, {}, {})).issues).toEqual([]);
    const users = file(
      'users.yaml',
      'mqtt:\n  embedded:\n    users: [{ username: press-7, password: s3cret-pw }]\n',
    );
    const withUsers = await loadConfig(users, {}, {});
    expect(withUsers.issues).toEqual([]);
    expect(withUsers.config.mqtt.embedded.host).toBeUndefined(); // bound to 0.0.0.0 at start (brokerExposure)
  });

  it('the Docker image: its config serves the network with a device account; nothing overrides a mounted file', async () => {
    const file = join(packageRoot(), 'docker', 'faultline.yaml');
    const ok = await loadConfig(file, {}, { MQTT_DEVICE_PASSWORD: 'a-device-secret' });
    expect(ok.issues).toEqual([]);
    expect(ok.config.api.host).toBe('0.0.0.0');
    expect(ok.config.mqtt.embedded).toMatchObject({ host: '0.0.0.0', users: [{ username: 'device' }] });
    const missing = await loadConfig(file, {}, {});
    expect(missing.issues.map(formatIssue)[0]).toMatch(
      /faultline\.yaml:\d+:\d+: environment variable MQTT_DEVICE_PASSWORD is not set/,
    );
    const dockerfile = readFileSync(join(packageRoot(), 'Dockerfile'), 'utf8');
    expect(dockerfile).not.toMatch(/FAULTLINE_(API_HOST|MQTT_HOST|API_PORT|MQTT_PORT|DATA_DIR)=/);
    expect(dockerfile).toContain('COPY docker/faultline.yaml /etc/faultline/faultline.yaml');
    expect(dockerfile).toContain('COPY simulators/scenarios ./simulators/scenarios');
  });

  it('paths in the file are relative to the file', async () => {
    const f = file('paths.yaml', 'storage: { dataDir: state }\nrules: { files: [rules/*.yaml] }\n');
    const { config } = await loadConfig(f, {}, {});
    expect(config.storage.dataDir).toBe(join(tmp.dir, 'state'));
    expect(config.rules.files).toEqual([join(tmp.dir, 'rules/*.yaml')]);
  });

  it('substitutes ${VAR} and ${VAR:-default}; a whole-value reference keeps its type; $$ is a dollar', async () => {
    const f = file(
      'env.yaml',
      'api:\n  port: ${API_PORT}\n  host: ${HOST:-127.0.0.1}\nsites: [{ id: s1, name: "cost $$5 ${NAME}" }]\n',
    );
    const { config, issues } = await loadConfig(f, {}, { API_PORT: '9090', NAME: 'north' });
    expect(issues).toEqual([]);
    expect(config.api).toMatchObject({ port: 9090, host: '127.0.0.1' });
    expect(config.sites[0]?.name).toBe('cost $5 north');
  });

  it('reports every problem at once with file:line:col and path', async () => {
    const f = file(
      'bad.yaml',
      [
        'api:',
        '  port: "eighty"',
        'sites:',
        '  - { id: a, area: nearby }',
        'devices:',
        '  - { id: d, site: b }',
        '  - { id: d }',
        'token: ${MISSING}',
        'maintenance:',
        '  - { id: w, sites: [z], every: "0 25 * * *", duration: 1h, reason: r }',
        '',
      ].join('\n'),
    );
    const { issues } = await loadConfig(f, {}, {});
    expect(issues.map(formatIssue).map((l) => l.replace(`${tmp.dir}/`, ''))).toEqual([
      'bad.yaml:2:9: api.port: expected number, got "eighty"',
      'bad.yaml:4:20: sites[0].area: expected one of "local", "remote", got "nearby"',
      'bad.yaml:6:20: devices[0].site: unknown site "b" (sites: default, a)',
      'bad.yaml:7:11: devices[1].id: duplicate device id "d"',
      'bad.yaml:8:1: token: unknown key',
      'bad.yaml:8:8: environment variable MISSING is not set',
      'bad.yaml:10:22: maintenance[0].sites[0]: unknown site "z" (sites: default, a)',
      'bad.yaml:10:33: maintenance[0].every: not a cron expression: Constraint error, got value 25 expected range 0-23',
    ]);
  });

  it('rules.stateSaveInterval: at least a second, located', async () => {
    const f = file('save.yaml', 'rules:\n  stateSaveInterval: 0s\n');
    const { issues } = await loadConfig(f, {}, {});
    expect(issues.map(formatIssue).map((l) => l.replace(`${tmp.dir}/`, ''))).toEqual([
      'save.yaml:2:22: rules.stateSaveInterval: at least 1s',
    ]);
    expect((await loadConfig(null, {}, {})).config.rules.stateSaveInterval).toBe(10_000);
  });

  it('customers: contacts need a way to reach them; sites and devices name known customers', async () => {
    const f = file(
      'customers.yaml',
      [
        'customers:',
        '  - id: acme',
        '    name: ACME',
        '    contacts:',
        '      - { name: Jane }',
        '      - { name: Bob, phone: "+49 30 1", sites: [mars], notify: [everything] }',
        'sites:',
        '  - { id: north, customer: globex }',
        'devices:',
        '  - { id: d1, site: north, customer: acme }',
        'sla:',
        '  pause: { parts: [resolution, lunch] }',
        '',
      ].join('\n'),
    );
    const { issues } = await loadConfig(f, {}, {});
    expect(issues.map(formatIssue).map((l) => l.replace(`${tmp.dir}/`, ''))).toEqual([
      'customers.yaml:5:9: customers[0].contacts[0].email: a contact needs an email or a phone',
      'customers.yaml:6:49: customers[0].contacts[1].sites[0]: unknown site "mars" (sites: default, north)',
      'customers.yaml:6:65: customers[0].contacts[1].notify[0]: expected one of "received", "visit", "resolved", "closed", got "everything"',
      'customers.yaml:8:28: sites[0].customer: unknown customer "globex" (customers: acme)',
      'customers.yaml:12:32: sla.pause.parts[1]: expected one of "response", "remoteFix", "onsite", "resolution", "visit", got "lunch"',
    ]);
  });

  it('flags and FAULTLINE_* overrides win over the file, and are validated', async () => {
    const f = file('ports.yaml', 'api: { port: 1 }\nmqtt: { embedded: { port: 2 } }\n');
    const { config } = await loadConfig(f, { apiPort: 0, mqttPort: 0, dataDir: 'x' }, {});
    expect(config.api.port).toBe(0);
    expect(config.mqtt.embedded.port).toBe(0);
    expect(config.storage.dataDir).toBe(join(process.cwd(), 'x'));
    const bad = await loadConfig(f, { apiPort: 70_000, logLevel: 'loud' }, {});
    expect(bad.issues.map((i) => i.path)).toEqual(['api.port', 'log.level']);
  });

  it('an unreadable file is an error, not a crash', async () => {
    const { issues } = await loadConfig(join(tmp.dir, 'nope.yaml'), {}, {});
    expect(issues[0]?.message).toBe('cannot read: ENOENT');
  });
});
