/**
 * `sipwarden bans`: list and edit the bans. Through the running sipwarden's admin API when one
 * answers (`instance.ts` says which), else on the ban database file: a running instance on
 * the same file sees the change within a second (it polls the file).
 */
import { resolve } from 'node:path';
import { formatDuration } from '../config/duration.js';
import { DEFAULT_DATA_DIR, loadConfig, parseDuration } from '../config/index.js';
import { bansSchema } from '../guards/bans/config.js';
import { sanitize } from '../log/sanitize.js';
import { parseCidr } from '../net/cidr.js';
import { DEFAULT_STORE_FILE } from '../store/config.js';
import { ADMIN_GUARD, cleanReason } from '../store/reason.js';
import type { Ban } from '../store/types.js';
import { type BanBook, fileBanBook, onlineBanBook } from './ban-books.js';
import { FAILED, OK, parseCommandLine, reportFailure, UsageError } from './common.js';
import { reachInstance } from './instance.js';

export { ADMIN_GUARD, cleanReason, MAX_REASON_LENGTH } from '../store/reason.js';

export const BANS_USAGE = `Usage: sipwarden bans <command> [--config FILE] [--url URL] [--token TOKEN] [options]
       sipwarden bans <command> --db FILE [options]

Lists and edits the bans of the running sipwarden through its admin API; when none
answers (and --url was not given), the bans in the ban database file, which a running
sipwarden on the same file sees within a second.

Commands:
  list [--json]                          bans in force, soonest expiry first
  add TARGET [--for TIME] [--reason TEXT]
                                         ban an address or network (192.0.2.7,
                                         198.51.100.0/24, 2001:db8:1:2::/64); a ban
                                         that already lasts longer is kept
  remove TARGET                          lift the ban of exactly TARGET
  flush                                  lift every ban

Options:
  --config FILE   the sipwarden of this configuration: its admin API (admin.listen, the
                  token in data_dir) or its ban database (store.file in data_dir)
  --url URL       the admin API (default: admin.listen of --config, else
                  http://127.0.0.1:5080); no falling back to a file
  --token TOKEN   the admin token (default: $SIPWARDEN_ADMIN_TOKEN, else admin.token of
                  --config, else <data_dir>/admin-token)
  --db FILE       this ban database file, never the admin API (default when no
                  sipwarden answers: ./data/sipwarden.db)
  --for TIME      length of the ban: 90s, 30m, 12h, 7d (default: guards.bans.default_duration
                  of the configuration, else 1h; at most 365d)
  --reason TEXT   why, shown by 'list' (default: "banned by an operator")
  --json          'list' as JSON

Exit status: 0 done, 1 not found, failed or the token refused, 2 usage error.`;

/** Longest ban the CLI adds. */
export const MAX_CLI_BAN_MS = 365 * 86_400_000;
const DEFAULT_REASON = 'banned by an operator';

/** `2026-11-01T12:00:00Z`: ISO 8601, UTC, whole seconds. */
function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `1d 2h`, `5m 30s`, `45s`: the two largest units of a remaining time. */
export function formatRemaining(ms: number): string {
  let s = Math.max(0, Math.ceil(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (s >= size || (unit === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, col) => Math.max(cell.length, ...rows.map((row) => row[col]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, col) => cell.padEnd(widths[col]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function listTable(bans: Ban[], now: number): string {
  const rows = bans.map((b) => [
    b.target,
    sanitize(b.guard, 32),
    sanitize(b.reason, 80),
    isoTime(b.created),
    isoTime(b.expires),
    formatRemaining(b.expires - now),
  ]);
  return table(['ADDRESS', 'GUARD', 'REASON', 'SINCE', 'EXPIRES', 'LEFT'], rows);
}

function listJson(bans: Ban[], now: number): string {
  return JSON.stringify(
    bans.map((b) => ({
      target: b.target,
      guard: b.guard,
      reason: b.reason,
      created: new Date(b.created).toISOString(),
      expires: new Date(b.expires).toISOString(),
      remainingMs: Math.max(0, b.expires - now),
    })),
    null,
    2,
  );
}

interface Database {
  /** The file, or why there is none (a store that lives only inside the running sipwarden). */
  path: string | Error;
  maxBans: number;
  defaultDuration: number;
}

/** The file and limits to use, from --config or --db (or the default data directory). */
function database(config: string | undefined, db: string | undefined): Database {
  const bansDefaults = bansSchema.parse({});
  if (config !== undefined && db !== undefined) throw new UsageError('give --config or --db, not both');
  if (db !== undefined) {
    if (db === '') throw new UsageError('--db needs a file name');
    return { path: resolve(db), maxBans: bansDefaults.maxBans, defaultDuration: bansDefaults.defaultDuration };
  }
  if (config === undefined) {
    return {
      path: resolve(DEFAULT_DATA_DIR, DEFAULT_STORE_FILE),
      maxBans: bansDefaults.maxBans,
      defaultDuration: bansDefaults.defaultDuration,
    };
  }
  const c = loadConfig({ file: config });
  const path =
    c.store.type === 'sqlite'
      ? c.store.path
      : new Error(`${config}: store.type is ${c.store.type}: bans live only inside the running sipwarden`);
  return { path, maxBans: c.guards.bans.maxBans, defaultDuration: c.guards.bans.defaultDuration };
}

function canonicalTarget(text: string | undefined, command: string): string {
  if (text === undefined) throw new UsageError(`${command} needs a TARGET (an address or network)`);
  try {
    return parseCidr(text).text;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function banLength(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  const quoted = JSON.stringify(sanitize(text, 40));
  if (ms === undefined) throw new UsageError(`--for ${quoted} is not a duration (e.g. 90s, 30m, 12h, 7d)`);
  if (ms < 1000) throw new UsageError(`--for ${quoted}: a ban lasts at least 1s`);
  if (ms > MAX_CLI_BAN_MS) throw new UsageError(`--for ${quoted}: a ban lasts at most 365d`);
  return ms;
}

/** Options each command accepts besides --config, --db and --help. */
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  list: ['json'],
  add: ['for', 'reason'],
  remove: [],
  flush: [],
};
const COMMAND_ARGS: Record<string, number> = { list: 0, add: 1, remove: 1, flush: 0 };

/** Runs `sipwarden bans ...`; resolves with the exit code. */
export async function bansCommand(
  argv: string[],
  out: (line: string) => void,
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const parsed = parseCommandLine('bans', argv, BANS_USAGE, OPTIONS, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  try {
    if (command === undefined) throw new UsageError('which command: list, add, remove or flush?');
    if (!(command in COMMAND_OPTIONS)) throw new UsageError(`unknown command '${sanitize(command, 40)}'`);
    for (const name of ['json', 'for', 'reason'] as const) {
      if (values[name] !== undefined && !COMMAND_OPTIONS[command]!.includes(name)) {
        throw new UsageError(`--${name} does not go with '${command}'`);
      }
    }
    if (args.length > COMMAND_ARGS[command]!) {
      throw new UsageError(`too many arguments for '${command}': ${sanitize(args.join(' '), 60)}`);
    }
    const target = COMMAND_ARGS[command] === 1 ? canonicalTarget(args[0], command) : undefined;
    const db = database(values.config, values.db);
    const length = command === 'add' ? banLength(values.for, db.defaultDuration) : 0;
    const reason = values.reason === undefined ? DEFAULT_REASON : cleanReason(values.reason);
    if (command === 'add' && reason === '')
      throw new UsageError('--reason is empty once control characters are removed');
    const instance = await reachInstance(values);
    let book: BanBook;
    if (instance !== undefined) book = onlineBanBook(instance);
    else if (db.path instanceof Error) throw db.path;
    // Only 'add' creates the file; the others need one to be there.
    else book = fileBanBook(db.path, db.maxBans, command === 'add');
    try {
      return await run(command, target, book, { length, reason, json: values.json === true }, out, err);
    } finally {
      book.close();
    }
  } catch (e) {
    return reportFailure('bans', e, err);
  }
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  db: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  for: { type: 'string' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface RunOptions {
  length: number;
  reason: string;
  json: boolean;
}

async function run(
  command: string,
  target: string | undefined,
  book: BanBook,
  opts: RunOptions,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const now = Date.now();
  switch (command) {
    case 'list': {
      const bans = await book.list(now);
      if (opts.json) out(listJson(bans, now));
      else out(bans.length === 0 ? 'no bans' : listTable(bans, now));
      return OK;
    }
    case 'add': {
      const requested: Ban = {
        target: target!,
        guard: ADMIN_GUARD,
        reason: opts.reason,
        created: now,
        expires: now + opts.length,
      };
      const held = await book.add(requested);
      if (held === undefined) {
        err(`sipwarden bans: the ban of ${target} was not kept`);
        return FAILED;
      }
      // The ban just made lasts exactly the length asked for (a running instance dates it by
      // its own clock); one that lasts longer was there before and is kept.
      if (held.expires - held.created > opts.length) {
        out(
          `${target} stays banned until ${isoTime(held.expires)} (${formatRemaining(held.expires - now)} left, ` +
            `longer than ${formatDuration(opts.length)}) by ${sanitize(held.guard, 32)}: ${sanitize(held.reason, 80)}`,
        );
      } else {
        out(`banned ${target} until ${isoTime(held.expires)} (${formatDuration(opts.length)})`);
      }
      return OK;
    }
    case 'remove': {
      if (await book.remove(target!)) {
        out(`lifted the ban of ${target}`);
        return OK;
      }
      const covering = target!.includes('/') ? undefined : await book.covering(target!, now);
      const hint = covering === undefined ? '' : ` (it is inside the ban of ${covering.target})`;
      err(`sipwarden bans: no ban of ${target}${hint}`);
      return FAILED;
    }
    default: {
      const count = await book.flush();
      out(`lifted ${count} ban${count === 1 ? '' : 's'}`);
      return OK;
    }
  }
}
