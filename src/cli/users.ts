/**
 * `sipwarden users`: the users edge authentication accepts with `guards.auth.source: store`,
 * in the `users` table of the ban store's SQLite file. Works while sipwarden runs: the running
 * instance sees a change within a second. Passwords are read from standard input, never from
 * the command line (argv shows in `ps` and shell history), and only HA1 values are stored.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_AUTH_REALM } from '../auth/config.js';
import { computeHa1 } from '../auth/digest.js';
import { nameProblem } from '../auth/users.js';
import { deleteUser, listUsers, openUsersDatabase, putUser } from '../auth/users-store.js';
import { ConfigError, DEFAULT_DATA_DIR, loadConfig } from '../config/index.js';
import { ensurePrivateDir, prepareSqliteFiles } from '../config/private-file.js';
import { sanitize } from '../log/sanitize.js';
import { DEFAULT_STORE_FILE } from '../store/config.js';
import { FAILED, OK, parseCommandLine, reportFailure, UsageError } from './common.js';

export const USERS_USAGE = `Usage: sipwarden users <command> [--config FILE | --db FILE] [options]

Manages the users of edge authentication (guards.auth.source: store) in the
ban database file. A running sipwarden on the same file sees every change
within a second. Only HA1 values (MD5 and SHA-256) are stored, never a password.

Commands:
  add USER [--realm REALM] [--password-stdin]
                         add USER or set its password: the password is the
                         first line of standard input
  remove USER [--realm REALM]
                         remove USER from REALM
  list [--json]          users and the HA1 values they have
  ha1 USER [--realm REALM]
                         print users-file lines (MD5 and SHA-256) for USER,
                         password from standard input; nothing is stored

Options:
  --config FILE      use this configuration's database and guards.auth.realm
  --db FILE          use this database file (default: ./data/sipwarden.db)
  --realm REALM      realm (default: guards.auth.realm of the configuration, else sipwarden)
  --password-stdin   read the password from standard input (the default; for scripts)
  --json             'list' as JSON

Exit status: 0 done, 1 not found or failed, 2 usage error.`;

const COMMANDS: Record<string, { options: readonly string[]; user: boolean }> = {
  add: { options: ['realm', 'password-stdin'], user: true },
  remove: { options: ['realm'], user: true },
  list: { options: ['json'], user: false },
  ha1: { options: ['realm', 'password-stdin'], user: true },
};

/**
 * The users' table lives in the ban store's file, which holds HA1 values: it is made private
 * (0600, in a directory others cannot write, never through a link) before SQLite opens it.
 */
function prepareDatabase(path: string, create: boolean): void {
  const file = resolve(path);
  try {
    if (create) ensurePrivateDir(dirname(file));
    else if (!existsSync(file)) return; // opening it says "no such file"
    prepareSqliteFiles(file, create);
  } catch (err) {
    // Not a mistake in the command line: exit 1, with the file and the fix.
    if (err instanceof ConfigError) throw new Error(err.message, { cause: err });
    throw err;
  }
}

/** Reads the password: the first line of standard input (at most 1 KiB). */
export type PasswordReader = () => Promise<string>;

export async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (the input is shown; pipe it to hide it): ');
  let text = '';
  for await (const chunk of process.stdin) {
    text += chunk.toString('utf8');
    if (text.includes('\n') || text.length > 1024) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** Runs `sipwarden users ...`; returns the exit code. */
export async function usersCommand(
  argv: string[],
  out: (line: string) => void,
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  readPassword: PasswordReader = readPasswordFromStdin,
): Promise<number> {
  const parsed = parseCommandLine('users', argv, USERS_USAGE, OPTIONS, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  try {
    if (command === undefined) throw new UsageError('which command: add, remove, list or ha1?');
    const spec = COMMANDS[command];
    if (spec === undefined) throw new UsageError(`unknown command '${sanitize(command, 40)}'`);
    for (const name of ['realm', 'password-stdin', 'json'] as const) {
      if (values[name] !== undefined && !spec.options.includes(name)) {
        throw new UsageError(`--${name} does not go with '${command}'`);
      }
    }
    // Never echo extra arguments: one of them may be a password given by mistake.
    if (args.length > (spec.user ? 1 : 0)) throw new UsageError(`too many arguments for '${command}'`);
    const user = args[0];
    if (spec.user) {
      if (user === undefined) throw new UsageError(`${command} needs a USER`);
      const bad = nameProblem('username', user);
      if (bad !== undefined) throw new UsageError(bad);
    }
    const target = database(values.config, values.db);
    const realm = values.realm ?? target.realm;
    const badRealm = nameProblem('realm', realm);
    if (badRealm !== undefined) throw new UsageError(badRealm);

    if (command === 'ha1' || command === 'add') {
      const password = await readPassword();
      if (password === '') throw new UsageError('empty password (give it on standard input)');
      const md5 = computeHa1('md5', user!, realm, password);
      const sha256 = computeHa1('sha256', user!, realm, password);
      if (command === 'ha1') {
        out(`${user}:${realm}:${md5}`);
        out(`${user}:${realm}:${sha256}`);
        return OK;
      }
      prepareDatabase(target.path, true);
      const db = openUsersDatabase(target.path, { create: true, busyTimeout: 5000 });
      try {
        putUser(db, user!, realm, md5, sha256);
      } finally {
        db.close();
      }
      out(`stored ${user} in realm ${realm} (HA1 for MD5 and SHA-256)`);
      return OK;
    }
    prepareDatabase(target.path, false);
    const db = openUsersDatabase(target.path, { create: false, busyTimeout: 5000 });
    try {
      if (command === 'remove') {
        if (deleteUser(db, user!, realm)) {
          out(`removed ${user} from realm ${realm}`);
          return OK;
        }
        err(`sipwarden users: no user ${user} in realm ${realm}`);
        return FAILED;
      }
      const users = listUsers(db);
      if (values.json === true) {
        out(
          JSON.stringify(
            users.map((u) => ({
              username: u.username,
              realm: u.realm,
              algorithms: [...(u.sha256 ? ['SHA-256'] : []), ...(u.md5 ? ['MD5'] : [])],
              created: new Date(u.created).toISOString(),
            })),
            null,
            2,
          ),
        );
      } else if (users.length === 0) {
        out('no users');
      } else {
        const rows = users.map((u) => [
          sanitize(u.username, 64),
          sanitize(u.realm, 64),
          [u.sha256 ? 'SHA-256' : '', u.md5 ? 'MD5' : ''].filter((a) => a !== '').join(','),
        ]);
        const widths = [0, 1, 2].map((c) =>
          Math.max(['USER', 'REALM', 'ALGORITHMS'][c]!.length, ...rows.map((r) => r[c]!.length)),
        );
        const line = (cells: string[]) =>
          cells
            .map((cell, c) => cell.padEnd(widths[c]!))
            .join('  ')
            .trimEnd();
        out([line(['USER', 'REALM', 'ALGORITHMS']), ...rows.map(line)].join('\n'));
      }
      return OK;
    } finally {
      db.close();
    }
  } catch (e) {
    return reportFailure('users', e, err);
  }
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  db: { type: 'string' },
  realm: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function database(config: string | undefined, db: string | undefined): { path: string; realm: string } {
  const realm = DEFAULT_AUTH_REALM;
  if (config !== undefined && db !== undefined) throw new UsageError('give --config or --db, not both');
  if (db !== undefined) {
    if (db === '') throw new UsageError('--db needs a file name');
    return { path: resolve(db), realm };
  }
  if (config === undefined) return { path: resolve(DEFAULT_DATA_DIR, DEFAULT_STORE_FILE), realm };
  const c = loadConfig({ file: config });
  if (c.store.type !== 'sqlite')
    throw new Error(`${config}: store.type is ${c.store.type}: users need the sqlite store`);
  return { path: c.store.path, realm: c.guards.auth.realm };
}
