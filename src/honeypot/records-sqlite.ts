/**
 * Attack records in an SQLite file of their own (`<data_dir>/attacks.db`), so writing them
 * never disturbs the ban store (which polls its file for other writers). Observations are
 * gathered in memory and written in one transaction per second (and on close), never one
 * per packet; each flush merges them into the rows and drops the oldest last-seen rows
 * beyond `maxRecords`.
 */
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../config/errors.js';
import { ensurePrivateDir, prepareSqliteFiles } from '../config/private-file.js';
import {
  type AttackRecord,
  type AttackStore,
  copyRecord,
  emptyRecord,
  merge,
  type Observation,
  observe,
} from './records.js';

export const ATTACKS_FILE = 'attacks.db';
const FLUSH_MS = 1000;
/** Sources gathered between flushes; beyond it the batch is written at once. */
const MAX_PENDING = 4096;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS attacks (
  address     TEXT PRIMARY KEY NOT NULL,
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  requests    INTEGER NOT NULL,
  user_agents TEXT NOT NULL,
  methods     TEXT NOT NULL,
  usernames   TEXT NOT NULL,
  numbers     TEXT NOT NULL,
  reasons     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attacks_by_last_seen ON attacks (last_seen);
`;

type Row = {
  address: string;
  first_seen: number;
  last_seen: number;
  requests: number;
  user_agents: string;
  methods: string;
  usernames: string;
  numbers: string;
  reasons: string;
};

function fromRow(r: Row): AttackRecord {
  const list = (text: string): string[] => {
    try {
      const v = JSON.parse(text) as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  };
  let methods: Record<string, number> = {};
  try {
    const m = JSON.parse(r.methods) as unknown;
    if (m !== null && typeof m === 'object') methods = m as Record<string, number>;
  } catch {}
  return {
    address: r.address,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    requests: r.requests,
    userAgents: list(r.user_agents),
    methods,
    usernames: list(r.usernames),
    numbers: list(r.numbers),
    reasons: list(r.reasons),
  };
}

export interface SqliteAttackStoreOptions {
  maxRecords: number;
  /** Create the file when missing (default true; the CLI only reads). */
  create?: boolean;
  readonly?: boolean;
  onError?: (err: Error) => void;
}

export class SqliteAttackStore implements AttackStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly pending = new Map<string, AttackRecord>();
  private readonly maxRecords: number;
  private timer: NodeJS.Timeout | undefined;
  private count: number;
  private readonly onError: (err: Error) => void;
  private readonly sql: {
    get: Database.Statement<[string], Row>;
    upsert: Database.Statement<[string, number, number, number, string, string, string, string, string]>;
    all: Database.Statement<[], Row>;
    trim: Database.Statement<[number]>;
    count: Database.Statement<[], number>;
  };
  private readonly writeBatch: (batch: AttackRecord[]) => void;

  constructor(file: string, options: SqliteAttackStoreOptions) {
    this.file = resolve(file);
    this.maxRecords = options.maxRecords;
    this.onError = options.onError ?? (() => {});
    const create = options.create ?? true;
    try {
      if (create) ensurePrivateDir(dirname(this.file));
      prepareSqliteFiles(this.file, create);
      this.db = new Database(this.file, { fileMustExist: !create, readonly: options.readonly === true, timeout: 250 });
      if (options.readonly !== true) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
        this.db.exec(SCHEMA);
      }
    } catch (err) {
      // A file refused as not private: its issue says why, and the fix (another path is named).
      const reason =
        err instanceof ConfigError && err.file === this.file ? err.issues[0]!.message : (err as Error).message;
      throw new Error(`cannot open the attack records ${this.file}: ${reason}`, { cause: err });
    }
    this.sql = {
      get: this.db.prepare('SELECT * FROM attacks WHERE address = ?'),
      upsert: this.db.prepare(
        `INSERT OR REPLACE INTO attacks
           (address, first_seen, last_seen, requests, user_agents, methods, usernames, numbers, reasons)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      all: this.db.prepare('SELECT * FROM attacks ORDER BY last_seen DESC'),
      trim: this.db.prepare(
        'DELETE FROM attacks WHERE address IN (SELECT address FROM attacks ORDER BY last_seen ASC LIMIT ?)',
      ),
      count: this.db.prepare('SELECT count(*) FROM attacks').pluck(),
    } as unknown as SqliteAttackStore['sql'];
    this.count = this.sql.count.get() ?? 0;
    this.writeBatch = this.db.transaction((batch: AttackRecord[]) => {
      for (const delta of batch) {
        const row = this.sql.get.get(delta.address);
        let r = delta;
        if (row === undefined) this.count++;
        else {
          r = fromRow(row);
          merge(r, delta);
        }
        this.sql.upsert.run(
          r.address,
          r.firstSeen,
          r.lastSeen,
          r.requests,
          JSON.stringify(r.userAgents),
          JSON.stringify(r.methods),
          JSON.stringify(r.usernames),
          JSON.stringify(r.numbers),
          JSON.stringify(r.reasons),
        );
      }
      if (this.count > this.maxRecords) {
        this.sql.trim.run(this.count - this.maxRecords);
        this.count = this.maxRecords;
      }
    });
  }

  note(o: Observation): void {
    let r = this.pending.get(o.address);
    if (r === undefined) {
      if (this.pending.size >= MAX_PENDING) this.flush();
      r = emptyRecord(o.address, o.time);
      this.pending.set(o.address, r);
    }
    observe(r, o);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes the pending observations in one transaction. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    try {
      this.writeBatch(batch);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  list(): AttackRecord[] {
    this.flushIfWritable();
    return this.sql.all.all().map(fromRow);
  }

  get(address: string): AttackRecord | undefined {
    this.flushIfWritable();
    const row = this.sql.get.get(address);
    return row === undefined ? undefined : copyRecord(fromRow(row));
  }

  private flushIfWritable(): void {
    if (!this.db.readonly) this.flush();
  }

  close(): void {
    this.flushIfWritable();
    this.db.close();
  }
}
