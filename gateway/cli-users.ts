import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { ROLES, type Role } from '../api/auth.js';
import { generatedPassword, type User, Users } from '../api/users.js';
import { isFaultlineError } from '../lib/errors.js';
import { openDatabase, type SqliteDatabase } from '../lib/sqlite.js';
import { firstWarningAt } from '../tickets/sla-policy.js';
import type { Config } from './config/schema.js';
import { openSharedStores } from './stores.js';

/** What `faultline users …` needs from cli.ts: its common options and configuration loading. */
export interface UsersCli<O> {
  withCommonOptions(cmd: Command): Command;
  load(o: O): Promise<Config>;
}

/** Reads a password from standard input (the first line), for `--password-stdin`. */
async function passwordFromStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.split(/\r?\n/)[0] ?? '';
}

/**
 * Runs `f` with the users of the configured store (state.db in the data directory, or
 * PostgreSQL), closed afterwards; a coded error is printed as `faultline users: …` with exit 1.
 */
async function withUsers(config: Config, f: (users: Users) => Promise<void>): Promise<void> {
  let db: SqliteDatabase | undefined;
  const stores = await openSharedStores({
    postgres: config.storage.postgres,
    deadLetters: config.storage.deadLetters.maxEntries,
    warnAtOf: (c) => firstWarningAt(config.sla, c),
    stateDb: () => {
      mkdirSync(config.storage.dataDir, { recursive: true });
      db = openDatabase(join(config.storage.dataDir, 'state.db'));
      return db;
    },
  });
  try {
    await f(new Users(stores.users, Date.now, stores.sessions));
  } catch (err) {
    if (!isFaultlineError(err)) throw err;
    process.stderr.write(`faultline users: ${err.message} (${err.code})\n`);
    process.exitCode = 1;
  } finally {
    await stores.close();
    (db as SqliteDatabase | undefined)?.close();
  }
}

const line = (u: User) =>
  [
    u.username.padEnd(20),
    u.role.padEnd(11),
    (u.disabledAt === null ? 'active' : 'disabled').padEnd(9),
    u.displayName,
    u.sites ? `sites: ${u.sites.join(',')}` : '',
    u.technician ? `technician: ${u.technician}` : '',
    u.customer ? `customer: ${u.customer}` : '',
  ]
    .filter(Boolean)
    .join('  ');

/**
 * `faultline users add | list | passwd | disable | enable` (issue 21): console accounts, made by an
 * administrator on the gateway's host. A password comes from standard input (`--password-stdin`),
 * or is generated and shown once.
 */
export function registerUserCommands<O extends object>(program: Command, cli: UsersCli<O>): void {
  const users = program.command('users').description('console user accounts (sign-in names and passwords)');
  const password = new Option(
    '--password-stdin',
    'read the password from standard input (else one is generated and shown once)',
  );
  cli
    .withCommonOptions(users.command('add').argument('<username>').description('make a user'))
    .addOption(new Option('--role <role>', 'what the user may do').choices(ROLES).makeOptionMandatory())
    .option('--name <display name>', 'the name shown in the console')
    .option('--sites <ids>', 'limit the user to these sites (comma-separated)')
    .option('--technician <id>', 'the technician (assignee id) this user is')
    .option('--customer <id>', 'the customer a customer user belongs to')
    .addOption(password)
    .action(
      async (
        username: string,
        o: O & {
          role: Role;
          name?: string;
          sites?: string;
          technician?: string;
          customer?: string;
          passwordStdin?: boolean;
        },
      ) => {
        const config = await cli.load(o);
        const secret = o.passwordStdin ? await passwordFromStdin() : generatedPassword();
        await withUsers(config, async (u) => {
          const made = await u.create(
            {
              username,
              ...(o.name ? { displayName: o.name } : {}),
              role: o.role,
              sites: o.sites
                ? o.sites
                    .split(',')
                    .map((s) => s.trim())
                    .filter(Boolean)
                : null,
              technician: o.technician ?? null,
              customer: o.customer ?? null,
              createdBy: 'cli',
            },
            secret,
          );
          process.stdout.write(`user ${made.username} (${made.id}) added: ${made.role}\n`);
          if (!o.passwordStdin) process.stdout.write(`password (shown once): ${secret}\n`);
        });
      },
    );
  cli
    .withCommonOptions(users.command('list').description('list the users'))
    .option('--json', 'as JSON')
    .action(async (o: O & { json?: boolean }) => {
      await withUsers(await cli.load(o), async (u) => {
        const all = await u.list();
        if (o.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        else for (const x of all) process.stdout.write(`${line(x)}\n`);
        if (!o.json && all.length === 0)
          process.stdout.write('no users yet: faultline users add <name> --role <role>\n');
      });
    });
  cli
    .withCommonOptions(users.command('passwd').argument('<username>').description("set a user's password"))
    .addOption(
      new Option(
        '--password-stdin',
        'read the password from standard input (else one is generated and shown once)',
      ),
    )
    .action(async (username: string, o: O & { passwordStdin?: boolean }) => {
      const config = await cli.load(o);
      const secret = o.passwordStdin ? await passwordFromStdin() : generatedPassword();
      await withUsers(config, async (u) => {
        await u.setPassword((await u.byUsername(username)).id, secret);
        process.stdout.write(`password of ${username} changed\n`);
        if (!o.passwordStdin) process.stdout.write(`password (shown once): ${secret}\n`);
      });
    });
  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const)
    cli
      .withCommonOptions(
        users
          .command(name)
          .argument('<username>')
          .description(
            disabled
              ? 'stop a user from signing in (kept for the record)'
              : 'let a disabled user sign in again',
          ),
      )
      .action(async (username: string, o: O) => {
        await withUsers(await cli.load(o), async (u) => {
          await u.setDisabled((await u.byUsername(username)).id, disabled);
          process.stdout.write(`${username} ${disabled ? 'disabled' : 'enabled'}\n`);
        });
      });
}
