/**
 * The SQLite store's own promises: durability across kill -9 and restarts, changes made by
 * another process seen within a second, and clear errors for files that are not ban databases.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteBanStore } from '../../src/store/sqlite.js';
import type { Ban, BanChange } from '../../src/store/types.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { start, waitFor } from '../helpers/process.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipwarden-sqlite-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
const newFile = () => join(dir, `bans-${++fileCount}.db`);
const opened: SqliteBanStore[] = [];
function open(file: string, options: ConstructorParameters<typeof SqliteBanStore>[1] = {}): SqliteBanStore {
  const s = new SqliteBanStore(file, options);
  opened.push(s);
  return s;
}
after(() => {
  for (const s of opened) s.close();
});

function ban(target: string, expires: number, extra: Partial<Ban> = {}): Ban {
  return { target, guard: 'flood', reason: 'too many messages', created: Date.now(), expires, ...extra };
}
const hour = () => Date.now() + 3_600_000;

/** Rows in the file, read with a separate connection. */
function rows(file: string): Array<{ target: string; expires: number }> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT target, expires FROM bans ORDER BY target').all() as Array<{
      target: string;
      expires: number;
    }>;
  } finally {
    db.close();
  }
}

const storeModule = pathToFileURL(join(PROJECT_ROOT, 'dist/src/store/sqlite.js')).href;
const memoryModule = pathToFileURL(join(PROJECT_ROOT, 'dist/src/store/memory.js')).href;

describe('SqliteBanStore: durability', () => {
  it('every ban reported added before a kill -9 is in the file', async () => {
    const file = newFile();
    const script = join(dir, 'adder.mjs');
    writeFileSync(
      script,
      `import { SqliteBanStore } from ${JSON.stringify(storeModule)};
const store = new SqliteBanStore(process.argv[2]);
const now = Date.now();
for (let i = 0; i < 100000; i++) {
  store.add({ target: '10.' + ((i >> 16) & 255) + '.' + ((i >> 8) & 255) + '.' + (i & 255),
    guard: 'flood', reason: 'test', created: now, expires: now + 3600000 });
  process.stdout.write('added ' + i + '\\n');
  // Let stdout reach the parent between adds, so that it can kill mid-stream.
  if (i % 20 === 19) await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, 60000));
`,
    );
    const child = start(process.execPath, [script, file]);
    await waitFor(() => /added 150\n/.test(child.output()), 'the child to add 150 bans', 20_000);
    child.signal('SIGKILL');
    const code = await child.exited;
    assert.equal(code, 137);
    const reported = [...child.output().matchAll(/added (\d+)\n/g)].map((m) => Number(m[1]));
    const last = Math.max(...reported);
    assert.ok(last >= 150);

    const store = open(file);
    for (let i = 0; i <= last; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      assert.ok(store.find(address, Date.now()), `ban ${i} of ${last} reported before the kill is kept`);
    }
    assert.ok(store.size >= last + 1);
  });

  it('a restart keeps the bans in force and drops the expired ones from memory and the file', async () => {
    const file = newFile();
    const first = open(file);
    first.add(ban('192.0.2.1', Date.now() + 200, { reason: 'short' }));
    first.add(ban('2001:db8:1:2::/64', hour(), { reason: 'long', guard: 'scanner' }));
    first.add(ban('198.51.100.0/24', hour()));
    first.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rows(file).length, 3, 'nothing was running to expire the short ban');

    const second = open(file);
    assert.equal(second.size, 2);
    assert.equal(second.find('192.0.2.1', Date.now()), undefined);
    const v6 = second.find('2001:db8:1:2::abc', Date.now());
    assert.equal(v6?.target, '2001:db8:1:2::/64');
    assert.equal(v6?.guard, 'scanner');
    assert.equal(v6?.reason, 'long');
    assert.ok(second.find('198.51.100.200', Date.now()));
    assert.deepEqual(
      rows(file).map((r) => r.target),
      ['198.51.100.0/24', '2001:db8:1:2::/64'],
    );
  });

  it('an expiry in a running store removes the row from the file', async () => {
    const file = newFile();
    const store = open(file);
    store.add(ban('192.0.2.9', Date.now() + 100));
    store.add(ban('192.0.2.10', hour()));
    assert.equal(rows(file).length, 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      rows(file).map((r) => r.target),
      ['192.0.2.10'],
    );
  });

  it('the file is in WAL mode, and its directory is created (mode 0700)', () => {
    const nested = join(dir, 'data', 'deeper');
    const file = join(nested, 'sipwarden.db');
    const store = open(file);
    store.add(ban('192.0.2.1', hour()));
    assert.equal(statSync(nested).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'data')).mode & 0o777, 0o700);
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('loading more bans than maxBans keeps the ones that last longest', () => {
    const file = newFile();
    const first = open(file);
    const now = Date.now();
    for (let i = 1; i <= 5; i++) first.add(ban(`192.0.2.${i}`, now + i * 60_000));
    first.close();
    const capped = open(file, { maxBans: 2 });
    assert.deepEqual(
      capped.list(now).map((b) => b.target),
      ['192.0.2.4', '192.0.2.5'],
    );
    assert.equal(rows(file).length, 2);
  });

  it('timers do not keep a process alive', async () => {
    const file = newFile();
    const script = join(dir, 'idle.mjs');
    writeFileSync(
      script,
      `import { SqliteBanStore } from ${JSON.stringify(storeModule)};
import { MemoryBanStore } from ${JSON.stringify(memoryModule)};
const ban = { target: '192.0.2.1', guard: 'flood', reason: 'test', created: Date.now(), expires: Date.now() + 3600000 };
new SqliteBanStore(process.argv[2]).add(ban);
new MemoryBanStore().add(ban);
process.stdout.write('holding\\n');
`,
    );
    const started = Date.now();
    const child = start(process.execPath, [script, file]);
    const code = await Promise.race([child.exited, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    assert.equal(code, 0, child.output());
    assert.match(child.output(), /holding/);
    assert.ok(Date.now() - started < 5000);
  });
});

describe('SqliteBanStore: another process on the same file', () => {
  /** Waits for a change matching `match`, at most `ms`; returns how long it took. */
  async function changeWithin(changes: BanChange[], match: (c: BanChange) => boolean, what: string, ms = 1000) {
    const started = Date.now();
    await waitFor(() => changes.some(match), what, ms);
    return Date.now() - started;
  }

  it('sees bans added, extended, removed and flushed elsewhere within a second', async () => {
    const file = newFile();
    const writer = open(file, { pollInterval: 0 });
    const reader = open(file);
    const changes: BanChange[] = [];
    reader.subscribe((c) => changes.push(c));

    const now = Date.now();
    writer.add(ban('203.0.113.7', now + 60_000, { guard: 'admin', reason: 'by hand' }));
    await changeWithin(
      changes,
      (c) => c.kind === 'added' && c.external && c.ban.target === '203.0.113.7',
      'the added ban',
    );
    assert.equal(reader.find('203.0.113.7', Date.now())?.reason, 'by hand');

    writer.add(ban('203.0.113.7', now + 120_000, { reason: 'longer' }));
    await changeWithin(
      changes,
      (c) => c.kind === 'added' && c.external && c.ban.reason === 'longer',
      'the extended ban',
    );
    assert.equal(reader.find('203.0.113.7', Date.now())?.expires, now + 120_000);

    writer.add(ban('2001:db8:5::/48', hour()));
    await changeWithin(changes, (c) => c.kind === 'added' && c.ban.target === '2001:db8:5::/48', 'the network ban');
    assert.ok(reader.find('2001:db8:5:1::1', Date.now()));

    assert.equal(writer.remove('203.0.113.7'), true);
    await changeWithin(changes, (c) => c.kind === 'removed' && c.external && c.target === '203.0.113.7', 'the removal');
    assert.equal(reader.find('203.0.113.7', Date.now()), undefined);
    assert.ok(reader.find('2001:db8:5:1::1', Date.now()));

    writer.add(ban('192.0.2.33', hour()));
    await changeWithin(changes, (c) => c.kind === 'added' && c.ban.target === '192.0.2.33', 'the third ban');
    assert.equal(writer.flush(), 2);
    await changeWithin(changes, (c) => c.kind === 'flushed' && c.external, 'the flush');
    assert.deepEqual(
      changes.find((c) => c.kind === 'flushed'),
      { kind: 'flushed', count: 2, external: true },
    );
    assert.equal(reader.size, 0);
    assert.equal(reader.find('2001:db8:5:1::1', Date.now()), undefined);
    assert.equal(reader.find('192.0.2.33', Date.now()), undefined);
  });

  it('an expiry seen by both stores is an expiry for both, not a removal', async () => {
    const file = newFile();
    const a = open(file, { pollInterval: 20 });
    const b = open(file, { pollInterval: 20 });
    const changesB: BanChange[] = [];
    b.subscribe((c) => changesB.push(c));
    a.add(ban('192.0.2.44', Date.now() + 300));
    await waitFor(() => b.size === 1, 'b to see the ban', 1000);
    await waitFor(() => changesB.some((c) => c.kind === 'expired'), 'the expiry in b', 1000);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      changesB.map((c) => c.kind),
      ['added', 'expired'],
    );
    assert.equal(a.size, 0);
    assert.equal(b.size, 0);
  });

  it('a write that cannot get the file still bans from memory, and the error names the file', () => {
    const file = newFile();
    const store = open(file, { busyTimeout: 20 });
    const other = new Database(file);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      assert.throws(
        () => store.add(ban('192.0.2.66', hour())),
        (err: Error) =>
          err.message.includes(file) && /cannot add the ban of 192\.0\.2\.66: database is locked/.test(err.message),
      );
      assert.ok(store.find('192.0.2.66', Date.now()), 'enforced from memory');
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    store.add(ban('192.0.2.67', hour()));
    assert.deepEqual(
      rows(file).map((r) => r.target),
      ['192.0.2.67'],
    );
  });

  it('a failing poll is reported once, retried, and recovers', async () => {
    const file = newFile();
    const errors: Error[] = [];
    const store = open(file, { pollInterval: 20, onError: (e) => errors.push(e) });
    const changes: BanChange[] = [];
    store.subscribe((c) => changes.push(c));
    const other = new Database(file);
    other.exec('ALTER TABLE bans RENAME TO bans_away');
    await waitFor(() => errors.length > 0, 'the poll error', 1000);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(errors.length, 1, 'reported once, not at every retry');
    assert.ok(errors[0]!.message.includes(file));
    assert.match(errors[0]!.message, /cannot read changes to the bans \(retrying\): no such table: bans/);
    const now = Date.now();
    other.exec(
      `ALTER TABLE bans_away RENAME TO bans;
       INSERT INTO bans VALUES ('192.0.2.77', 'admin', 'back', ${now}, ${now + 60_000})`,
    );
    other.close();
    await waitFor(() => store.find('192.0.2.77', Date.now()) !== undefined, 'the recovery', 1000);
    assert.ok(changes.some((c) => c.kind === 'added' && c.external));
  });

  it('rows that are not bans are skipped and reported', async () => {
    const file = newFile();
    const errors: Error[] = [];
    const store = open(file, { pollInterval: 20, onError: (e) => errors.push(e) });
    const other = new Database(file);
    const now = Date.now();
    other.exec(
      `INSERT INTO bans VALUES ('not-an-ip', 'admin', 'x', ${now}, ${now + 60_000});
       INSERT INTO bans VALUES ('2001:DB8::1', 'admin', 'x', ${now}, ${now + 60_000});
       INSERT INTO bans VALUES ('192.0.2.88', 'admin', 'fine', ${now}, ${now + 60_000});`,
    );
    other.close();
    await waitFor(() => store.find('192.0.2.88', Date.now()) !== undefined, 'the good row', 1000);
    assert.equal(store.size, 1);
    assert.match(errors[0]!.message, /skipped 2 row\(s\) of the bans table that are not bans/);
  });
});

describe('SqliteBanStore: files that are not ban databases', () => {
  it('a corrupt file is a clear error naming it', () => {
    const file = join(dir, 'corrupt.db');
    writeFileSync(file, Buffer.alloc(8192, 0x41));
    assert.throws(
      () => new SqliteBanStore(file),
      (err: Error) =>
        err.message === `${file}: cannot open the ban database: file is not a database` && err.cause !== undefined,
    );
  });

  it('a SQLite file with another bans table is a clear error naming it', () => {
    const file = join(dir, 'other.db');
    const db = new Database(file);
    db.exec('CREATE TABLE bans (id INTEGER PRIMARY KEY, who TEXT)');
    db.close();
    assert.throws(
      () => new SqliteBanStore(file),
      (err: Error) =>
        err.message === `${file}: cannot open the ban database: its bans table is not sipwarden's (columns id,who)`,
    );
    const after = new Database(file, { readonly: true });
    assert.equal(after.pragma('journal_mode', { simple: true }), 'delete', 'the file is left as it was');
    after.close();
  });

  it('a file from a newer version is refused', () => {
    const file = join(dir, 'newer.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(
      () => new SqliteBanStore(file),
      /newer\.db: cannot open the ban database: written by a newer sipwarden/,
    );
  });

  it('a missing file is an error when it must exist, and nothing is created', () => {
    const file = join(dir, 'missing', 'none.db');
    assert.throws(
      () => new SqliteBanStore(file, { create: false }),
      (err: Error) => err.message === `${file}: cannot open the ban database: no such file`,
    );
    assert.throws(() => statSync(join(dir, 'missing')), /ENOENT/);
  });

  it('a directory where the file should be is a clear error', () => {
    const file = join(dir, 'a-directory.db');
    mkdirSync(file);
    assert.throws(
      () => new SqliteBanStore(file),
      (err: Error) => err.message.startsWith(`${file}: cannot open`),
    );
  });
});
