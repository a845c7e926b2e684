/**
 * Bans in an embedded SQLite file (better-sqlite3): they survive restarts and `kill -9`, and
 * `sipwarden bans` edits the same file while the proxy runs.
 *
 * - Lookups are served from the in-memory index; the file is written on every change, one
 *   transaction each, committed before the call returns.
 * - WAL journal with `synchronous=NORMAL`: a commit is in the WAL (the operating system's page
 *   cache) when it returns, so a crash or `kill -9` of the process loses nothing; only a power
 *   loss or kernel crash may lose the last commits since the last checkpoint. `synchronous:
 *   'full'` fsyncs every commit instead (a few ms per ban on a disk) for power-loss durability.
 * - Changes by other processes are seen by polling `PRAGMA data_version` (a counter that moves
 *   only when another connection commits): on a change the bans are read again, compared with
 *   memory, and the differences emitted as `external` changes.
 * - Opening drops expired rows. A `meta` table counts flushes, so that a flush by another
 *   process is reported as one `flushed` change rather than one removal per ban.
 */
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../config/errors.js';
import { ensurePrivateDir, prepareSqliteFiles } from '../config/private-file.js';
import { parseCidr } from '../net/cidr.js';
import { type BanStoreOptions, IndexedBanStore } from './indexed-store.js';
import type { Ban } from './types.js';

export interface SqliteBanStoreOptions extends BanStoreOptions {
  /** How often to look for changes made by other processes, in ms; 0 never looks. Default 250. */
  pollInterval?: number;
  /** `normal` (default): survives a process crash; `full`: also survives power loss, slower. */
  synchronous?: 'normal' | 'full';
  /** Create the file (and its directory, mode 0700) when missing. Default true. */
  create?: boolean;
  /**
   * How long a write waits for another process's write to finish (SQLite's busy timeout), in
   * ms. Writes block the event loop while they wait, so the proxy keeps it short; the CLI can
   * afford to wait longer. Default 250.
   */
  busyTimeout?: number;
}

/** Version of the file's tables (`PRAGMA user_version`). */
const SCHEMA_VERSION = 1;
export const DEFAULT_BUSY_TIMEOUT_MS = 250;
export const DEFAULT_POLL_INTERVAL_MS = 250;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bans (
  target  TEXT PRIMARY KEY NOT NULL,
  guard   TEXT NOT NULL,
  reason  TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bans_by_expiry ON bans (expires);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('flushes', 0);
`;

type Row = [target: unknown, guard: unknown, reason: unknown, created: unknown, expires: unknown];

interface Statements {
  upsert: Database.Statement<[string, string, string, number, number]>;
  remove: Database.Statement<[string]>;
  removeExpired: Database.Statement<[string, number]>;
  removeAllExpired: Database.Statement<[number]>;
  removeAll: Database.Statement<[]>;
  countFlush: Database.Statement<[]>;
  flushes: Database.Statement<[], number>;
  active: Database.Statement<[number], Row>;
  dataVersion: Database.Statement<[], number>;
}

function reasonOf(err: unknown, file?: string): string {
  // The file refused as not private: its issue says why, and the fix (another path is named).
  if (err instanceof ConfigError && err.file === file) return err.issues[0]!.message;
  return err instanceof Error ? err.message : String(err);
}

export class SqliteBanStore extends IndexedBanStore {
  /** Absolute path of the file. */
  readonly file: string;
  private readonly db: Database.Database;
  private readonly sql: Statements;
  private readonly writeAdd: (ban: Ban, evicted: Ban | undefined) => void;
  private readonly writeExpire: (bans: readonly Ban[]) => void;
  private readonly writeFlush: () => number;
  private readonly readAll: (now: number) => { rows: Row[]; flushes: number };
  /** `PRAGMA data_version` when the file was last read. */
  private dataVersion = 0;
  /** Flush count when the file was last read or flushed here. */
  private flushes = 0;
  private pollTimer: NodeJS.Timeout | undefined = undefined;
  /** True while polls fail: the first failure is reported, not every retry. */
  private pollFailing = false;

  /**
   * Opens (or creates) the file and loads the bans in force. Throws an Error naming the file
   * when it cannot be opened, is not a SQLite database, or holds other tables under our names.
   */
  constructor(file: string, options: SqliteBanStoreOptions = {}) {
    super(options);
    this.file = resolve(file);
    const create = options.create ?? true;
    const pollInterval = options.pollInterval ?? DEFAULT_POLL_INTERVAL_MS;
    if (!Number.isFinite(pollInterval) || pollInterval < 0) {
      throw new RangeError(`pollInterval must be a number of milliseconds, got ${String(pollInterval)}`);
    }
    let db: Database.Database | undefined;
    try {
      // 0600 in a directory others cannot write, never through a link: the file holds HA1s.
      if (create) ensurePrivateDir(dirname(this.file));
      prepareSqliteFiles(this.file, create);
      db = new Database(this.file, { fileMustExist: !create, timeout: options.busyTimeout ?? DEFAULT_BUSY_TIMEOUT_MS });
      // Check before changing anything, so that a wrong file (another program's database) is left as it was.
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(`written by a newer sipwarden (schema ${version}; this one reads ${SCHEMA_VERSION})`);
      }
      checkBansTable(db);
      const journal = db.pragma('journal_mode = WAL', { simple: true });
      if (journal !== 'wal') throw new Error(`cannot use the WAL journal (journal mode ${String(journal)})`);
      db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.transaction(() => {
        db!.exec(SCHEMA);
        if (version < SCHEMA_VERSION) db!.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
      this.sql = prepare(db);
    } catch (err) {
      db?.close();
      throw new Error(`${this.file}: cannot open the ban database: ${reasonOf(err, this.file)}`, { cause: err });
    }
    this.db = db;
    const sql = this.sql;
    this.writeAdd = db.transaction((ban: Ban, evicted: Ban | undefined) => {
      if (evicted !== undefined) sql.remove.run(evicted.target);
      sql.upsert.run(ban.target, ban.guard, ban.reason, ban.created, ban.expires);
    });
    this.writeExpire = db.transaction((bans: readonly Ban[]) => {
      for (const ban of bans) sql.removeExpired.run(ban.target, ban.expires);
    });
    this.writeFlush = db.transaction(() => {
      const deleted = sql.removeAll.run().changes;
      sql.countFlush.run();
      this.flushes = sql.flushes.get() ?? 0;
      return deleted;
    });
    this.readAll = db.transaction((now: number) => ({ rows: sql.active.all(now), flushes: sql.flushes.get() ?? 0 }));

    try {
      this.load();
    } catch (err) {
      db.close();
      throw new Error(`${this.file}: cannot read the bans: ${reasonOf(err)}`, { cause: err });
    }
    if (pollInterval > 0) {
      this.pollTimer = setInterval(this.poll, pollInterval);
      this.pollTimer.unref();
    }
  }

  /** First read: drop what expired while nothing was running, then hold the rest. */
  private load(): void {
    const now = Date.now();
    this.sql.removeAllExpired.run(now);
    this.dataVersion = this.sql.dataVersion.get() ?? 0;
    const { rows, flushes } = this.readAll(now);
    this.flushes = flushes;
    for (const ban of this.validRows(rows)) this.index.set(ban);
    this.enforceCap();
    this.schedule();
  }

  /** Rows that are bans; others (written by hand?) are skipped and reported once per read. */
  private validRows(rows: Row[]): Ban[] {
    const bans: Ban[] = [];
    let bad = 0;
    for (const [target, guard, reason, created, expires] of rows) {
      if (
        typeof target !== 'string' ||
        typeof guard !== 'string' ||
        typeof reason !== 'string' ||
        typeof created !== 'number' ||
        typeof expires !== 'number'
      ) {
        bad++;
        continue;
      }
      let canonical: string;
      try {
        canonical = parseCidr(target).text;
      } catch {
        bad++;
        continue;
      }
      if (canonical !== target) {
        bad++;
        continue;
      }
      bans.push(Object.freeze({ target, guard, reason, created, expires }));
    }
    if (bad > 0) this.reportError(new Error(`${this.file}: skipped ${bad} row(s) of the bans table that are not bans`));
    return bans;
  }

  /** Looks for commits by other processes; never throws (the next poll retries). */
  private readonly poll = (): void => {
    if (this.closed) return;
    try {
      const version = this.sql.dataVersion.get() ?? 0;
      if (version !== this.dataVersion) {
        const now = Date.now();
        const { rows, flushes } = this.readAll(now);
        this.dataVersion = version;
        const flushed = flushes !== this.flushes;
        this.flushes = flushes;
        this.reconcile(this.validRows(rows), flushed, now);
      }
      this.pollFailing = false;
    } catch (err) {
      if (!this.pollFailing) {
        this.pollFailing = true;
        this.reportError(new Error(`${this.file}: cannot read changes to the bans (retrying): ${reasonOf(err)}`));
      }
    }
  };

  /** Reads changes made by other processes now rather than at the next poll. */
  sync(): void {
    this.assertOpen();
    this.poll();
  }

  protected persistAdd(ban: Ban, evicted: Ban | undefined): void {
    this.write('add the ban of', ban.target, () => this.writeAdd(ban, evicted));
  }

  protected persistRemove(target: string): boolean {
    return this.write('remove the ban of', target, () => this.sql.remove.run(target).changes > 0);
  }

  protected persistExpire(bans: readonly Ban[]): void {
    this.write('remove expired bans, e.g.', bans[0]!.target, () => this.writeExpire(bans));
  }

  protected persistFlush(): number {
    return this.write('flush', 'the bans', () => this.writeFlush());
  }

  private write<T>(what: string, target: string, fn: () => T): T {
    if (this.closed) throw new Error('the ban store is closed');
    try {
      return fn();
    } catch (err) {
      throw new Error(`${this.file}: cannot ${what} ${target}: ${reasonOf(err)}`, { cause: err });
    }
  }

  override close(): void {
    if (this.closed) return;
    super.close();
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.db.close();
  }
}

const BAN_COLUMNS = 'target,guard,reason,created,expires';

/** Throws when the file has a `bans` table that is not ours. */
function checkBansTable(db: Database.Database): void {
  const columns = (db.pragma('table_info(bans)') as Array<{ name: string }>).map((c) => c.name).join(',');
  if (columns !== '' && columns !== BAN_COLUMNS) {
    throw new Error(`its bans table is not sipwarden's (columns ${columns})`);
  }
}

function prepare(db: Database.Database): Statements {
  return {
    upsert: db.prepare(
      `INSERT INTO bans (target, guard, reason, created, expires) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (target) DO UPDATE SET guard = excluded.guard, reason = excluded.reason,
         created = excluded.created, expires = excluded.expires
       WHERE excluded.expires > bans.expires`,
    ),
    remove: db.prepare('DELETE FROM bans WHERE target = ?'),
    // Only if not extended meanwhile (by another process).
    removeExpired: db.prepare('DELETE FROM bans WHERE target = ? AND expires <= ?'),
    removeAllExpired: db.prepare('DELETE FROM bans WHERE expires <= ?'),
    removeAll: db.prepare('DELETE FROM bans'),
    countFlush: db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'flushes'`),
    flushes: db.prepare<[], number>(`SELECT value FROM meta WHERE key = 'flushes'`).pluck(),
    active: db
      .prepare<[number], Row>('SELECT target, guard, reason, created, expires FROM bans WHERE expires > ?')
      .raw(),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
  };
}
