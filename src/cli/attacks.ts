/**
 * `sipwarden attacks`: what sources in the honeypot tried (the attack records). From the
 * running sipwarden's admin API when one answers (`instance.ts` says which), else from the
 * records file, which a running sipwarden writes new observations to within a second.
 */
import { resolve } from 'node:path';
import { DEFAULT_DATA_DIR, loadConfig } from '../config/index.js';
import { recordJson, recordsCsv, recordsJson } from '../honeypot/export.js';
import { attacksFile } from '../honeypot/open.js';
import type { AttackRecord } from '../honeypot/records.js';
import { ATTACKS_FILE } from '../honeypot/records-sqlite.js';
import { sanitize } from '../log/sanitize.js';
import { normalizeIp } from '../net/cidr.js';
import { type AttackBook, fileAttackBook, onlineAttackBook } from './attack-books.js';
import { FAILED, OK, parseCommandLine, reportFailure, UsageError } from './common.js';
import { reachInstance } from './instance.js';

export const ATTACKS_USAGE = `Usage: sipwarden attacks <command> [--config FILE] [--url URL] [--token TOKEN] [options]
       sipwarden attacks <command> --db FILE [options]

Shows what sources sent to the honeypot tried: User-Agents, methods, usernames and
numbers dialled, one record per source address. From the running sipwarden through its
admin API; when none answers (and --url was not given), from the records file.

Commands:
  list [--json]                   every record, most recently seen first
  show ADDRESS                    one record in full
  export --format json|csv        every record, for other tools

Options:
  --config FILE   the sipwarden of this configuration: its admin API (admin.listen, the
                  token in data_dir) or its records (attacks.db next to store.file)
  --url URL       the admin API (default: admin.listen of --config, else
                  http://127.0.0.1:5080); no falling back to a file
  --token TOKEN   the admin token (default: $SIPWARDEN_ADMIN_TOKEN, else admin.token of
                  --config, else <data_dir>/admin-token)
  --db FILE       this records file, never the admin API (default when no sipwarden
                  answers: ./data/${ATTACKS_FILE})
  --json          'list' as JSON
  --format F      'export' format: json or csv (default json)

Exit status: 0 done, 1 not found, failed or the token refused, 2 usage error.`;

/** The records file, or why there is none (records that live only inside the running sipwarden). */
function file(config: string | undefined, db: string | undefined): string | Error {
  if (config !== undefined && db !== undefined) throw new UsageError('give --config or --db, not both');
  if (db !== undefined) {
    if (db === '') throw new UsageError('--db needs a file name');
    return resolve(db);
  }
  if (config === undefined) return resolve(DEFAULT_DATA_DIR, ATTACKS_FILE);
  const c = loadConfig({ file: config });
  if (c.store.type !== 'sqlite') {
    return new Error(`${config}: store.type is ${c.store.type}: attack records live only inside the running sipwarden`);
  }
  return attacksFile(c);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function listTable(records: AttackRecord[]): string {
  const rows = records.map((r) => [
    r.address,
    iso(r.firstSeen),
    iso(r.lastSeen),
    String(r.requests),
    sanitize(
      Object.entries(r.methods)
        .map(([m, n]) => `${m}:${n}`)
        .join(' '),
      60,
    ),
    sanitize(r.userAgents[0] ?? '', 40),
  ]);
  const header = ['ADDRESS', 'FIRST SEEN', 'LAST SEEN', 'REQUESTS', 'METHODS', 'USER-AGENT'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function showText(r: AttackRecord): string {
  const list = (values: string[]) => (values.length === 0 ? '-' : values.map((v) => sanitize(v, 128)).join(', '));
  return [
    `address:     ${r.address}`,
    `first seen:  ${iso(r.firstSeen)}`,
    `last seen:   ${iso(r.lastSeen)}`,
    `requests:    ${r.requests}`,
    `methods:     ${Object.entries(r.methods)
      .map(([m, n]) => `${sanitize(m, 16)} ${n}`)
      .join(', ')}`,
    `user agents: ${list(r.userAgents)}`,
    `usernames:   ${list(r.usernames)}`,
    `numbers:     ${list(r.numbers)}`,
    `sent by:     ${list(r.reasons)}`,
  ].join('\n');
}

/** Runs `sipwarden attacks ...`; resolves with the exit code. */
export async function attacksCommand(
  argv: string[],
  out: (text: string) => void,
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const parsed = parseCommandLine('attacks', argv, ATTACKS_USAGE, OPTIONS, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  try {
    if (command === undefined) throw new UsageError('which command: list, show or export?');
    if (command !== 'list' && command !== 'show' && command !== 'export') {
      throw new UsageError(`unknown command '${sanitize(command, 40)}'`);
    }
    if (values.json !== undefined && command !== 'list') throw new UsageError(`--json does not go with '${command}'`);
    if (values.format !== undefined && command !== 'export') {
      throw new UsageError(`--format does not go with '${command}'`);
    }
    const format = values.format ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new UsageError('--format is json or csv');
    if (args.length > (command === 'show' ? 1 : 0)) {
      throw new UsageError(`too many arguments for '${command}': ${sanitize(args.join(' '), 60)}`);
    }
    let address: string | undefined;
    if (command === 'show') {
      if (args[0] === undefined) throw new UsageError('show needs an ADDRESS');
      try {
        address = normalizeIp(args[0]);
      } catch {
        throw new UsageError(`${JSON.stringify(sanitize(args[0], 60))} is not an IP address`);
      }
    }
    const path = file(values.config, values.db);
    const instance = await reachInstance(values);
    let book: AttackBook;
    if (instance !== undefined) book = onlineAttackBook(instance);
    else if (path instanceof Error) throw path;
    else book = fileAttackBook(path);
    try {
      if (command === 'show') {
        const r = await book.get(address!);
        if (r === undefined) {
          err(`sipwarden attacks: no record of ${address}`);
          return FAILED;
        }
        out(showText(r));
        return OK;
      }
      const records = await book.list();
      if (command === 'export') out(format === 'csv' ? recordsCsv(records) : recordsJson(records));
      else if (values.json === true) out(JSON.stringify(records.map(recordJson), null, 2));
      else out(records.length === 0 ? 'no attack records' : listTable(records));
      return OK;
    } finally {
      book.close();
    }
  } catch (e) {
    return reportFailure('attacks', e, err);
  }
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  db: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
