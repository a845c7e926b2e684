/**
 * Users in the ban store's SQLite file (a `users` table next to `bans`), managed with
 * `sipwarden users add|remove|list` while sipwarden runs. sipwarden opens its own connection
 * (WAL, like the ban store), holds every user in memory and re-reads the table when another
 * connection commits (`PRAGMA data_version` polling), so the hot path never queries SQLite.
 * The table holds HA1 values only, for MD5 and SHA-256; never a password.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { UserDirectory, UserRecord } from './users.js';
import { userKey } from './users.js';
import type { AuthLogger } from './users-file.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  username   TEXT NOT NULL,
  realm      TEXT NOT NULL,
  ha1_md5    TEXT,
  ha1_sha256 TEXT,
  created    INTEGER NOT NULL,
  PRIMARY KEY (username, realm)
) WITHOUT ROWID;
`;

export interface StoredUser {
  username: string;
  realm: string;
  md5: boolean;
  sha256: boolean;
  created: number;
}

/** Opens the file's database with the users table in place (WAL journal). */
export function openUsersDatabase(file: string, options: { create: boolean; busyTimeout: number }): Database.Database {
  const path = resolve(file);
  if (options.create) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  else if (!existsSync(path)) throw new Error(`${path}: no such file`);
  const db = new Database(path, { fileMustExist: !options.create, timeout: options.busyTimeout });
  try {
    const journal = db.pragma('journal_mode = WAL', { simple: true });
    if (journal !== 'wal') throw new Error(`cannot use the WAL journal (journal mode ${String(journal)})`);
    db.pragma('synchronous = NORMAL');
    const columns = (db.pragma('table_info(users)') as Array<{ name: string }>).map((c) => c.name).join(',');
    if (columns !== '' && columns !== 'username,realm,ha1_md5,ha1_sha256,created') {
      throw new Error(`its users table is not sipwarden's (columns ${columns})`);
    }
    db.exec(SCHEMA);
  } catch (err) {
    db.close();
    throw new Error(`${path}: cannot open the users table: ${(err as Error).message}`, { cause: err });
  }
  return db;
}

/** Adds or replaces a user's HA1 values. */
export function putUser(db: Database.Database, username: string, realm: string, md5: string, sha256: string): void {
  db.prepare(
    `INSERT INTO users (username, realm, ha1_md5, ha1_sha256, created) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (username, realm) DO UPDATE SET ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256`,
  ).run(username, realm, md5, sha256, Date.now());
}

export function deleteUser(db: Database.Database, username: string, realm: string): boolean {
  return db.prepare('DELETE FROM users WHERE username = ? AND realm = ?').run(username, realm).changes > 0;
}

export function listUsers(db: Database.Database): StoredUser[] {
  const rows = db
    .prepare('SELECT username, realm, ha1_md5, ha1_sha256, created FROM users ORDER BY realm, username')
    .all() as Array<{ username: string; realm: string; ha1_md5: unknown; ha1_sha256: unknown; created: number }>;
  return rows.map((r) => ({
    username: r.username,
    realm: r.realm,
    md5: typeof r.ha1_md5 === 'string',
    sha256: typeof r.ha1_sha256 === 'string',
    created: r.created,
  }));
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export class StoreUserDirectory implements UserDirectory {
  private users = new Map<string, UserRecord>();
  private readonly db: Database.Database;
  private readonly dataVersion: Database.Statement<[], number>;
  private version = -1;
  private readonly timer: NodeJS.Timeout;
  private failing = false;

  constructor(
    readonly file: string,
    private readonly log: AuthLogger,
    pollInterval = 250,
  ) {
    this.db = openUsersDatabase(file, { create: true, busyTimeout: 250 });
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck() as Database.Statement<[], number>;
    this.reload();
    this.timer = setInterval(() => this.poll(), pollInterval);
    this.timer.unref();
  }

  get size(): number {
    return this.users.size;
  }

  find(username: string, realm: string): UserRecord | undefined {
    return this.users.get(userKey(username, realm));
  }

  private poll(): void {
    try {
      if (this.dataVersion.get() !== this.version) this.reload();
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ event: 'auth-users-store', file: this.file }, (err as Error).message);
      this.failing = true;
    }
  }

  private reload(): void {
    this.version = this.dataVersion.get() ?? 0;
    const rows = this.db.prepare('SELECT username, realm, ha1_md5, ha1_sha256 FROM users').all() as Array<{
      username: unknown;
      realm: unknown;
      ha1_md5: unknown;
      ha1_sha256: unknown;
    }>;
    const users = new Map<string, UserRecord>();
    let bad = 0;
    for (const r of rows) {
      const md5 = typeof r.ha1_md5 === 'string' && HEX32.test(r.ha1_md5) ? r.ha1_md5 : undefined;
      const sha256 = typeof r.ha1_sha256 === 'string' && HEX64.test(r.ha1_sha256) ? r.ha1_sha256 : undefined;
      if (
        typeof r.username !== 'string' ||
        typeof r.realm !== 'string' ||
        (md5 === undefined && sha256 === undefined)
      ) {
        bad++;
        continue;
      }
      users.set(userKey(r.username, r.realm), { md5, sha256 });
    }
    if (bad > 0) this.log.warn({ event: 'auth-users-store', file: this.file, bad }, 'skipped rows that are not users');
    this.users = users;
    this.log.info({ event: 'auth-users-loaded', file: this.file, users: users.size }, 'users loaded');
  }

  close(): void {
    clearInterval(this.timer);
    this.db.close();
  }
}
