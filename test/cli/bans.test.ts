/**
 * `sipwarden bans` end to end: the compiled bin as a child process on a temporary file, and a
 * store in this process standing in for a running sipwarden on the same file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanReason, formatRemaining, MAX_REASON_LENGTH } from '../../src/cli/bans.js';
import { SqliteBanStore } from '../../src/store/sqlite.js';
import type { BanChange } from '../../src/store/types.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { waitFor } from '../helpers/process.js';

const BIN = join(PROJECT_ROOT, 'bin', 'sipwarden');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function sipwarden(args: string[], cwd = PROJECT_ROOT): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.error, undefined, String(r.error));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `sipwarden bans ARGS --db FILE` and checks the exit status. */
function bans(file: string, args: string[], status = 0): Run {
  const r = sipwarden(['bans', ...args, '--db', file]);
  assert.equal(r.status, status, `exit status of bans ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  return r;
}

interface JsonBan {
  target: string;
  guard: string;
  reason: string;
  created: string;
  expires: string;
  remainingMs: number;
}

function listJson(file: string): JsonBan[] {
  return JSON.parse(bans(file, ['list', '--json']).stdout) as JsonBan[];
}

let dir = '';
let fileCount = 0;
const newFile = () => join(dir, `cli-${++fileCount}.db`);
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipwarden-bans-cli-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sipwarden bans', () => {
  it('adds, lists, removes and flushes', () => {
    const file = newFile();
    const before = Date.now();
    let r = bans(file, ['add', '192.0.2.7', '--for', '2h', '--reason', 'probing extensions']);
    assert.match(r.stdout, /^banned 192\.0\.2\.7 until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(2h\)\n$/);
    bans(file, ['add', '2001:DB8:1:2:0:0:0:0/64', '--for', '30m']);
    bans(file, ['add', '::ffff:198.51.100.9']);

    const list = listJson(file);
    assert.deepEqual(
      list.map((b) => b.target),
      ['2001:db8:1:2::/64', '198.51.100.9', '192.0.2.7'],
      'soonest expiry first, canonical targets',
    );
    for (const b of list) assert.equal(b.guard, 'admin');
    assert.equal(list[2]!.reason, 'probing extensions');
    assert.equal(list[0]!.reason, 'banned by an operator');
    const expires = Date.parse(list[2]!.expires);
    assert.ok(expires >= before + 7_200_000 && expires <= Date.now() + 7_200_000);
    assert.ok(Math.abs(Date.parse(list[1]!.expires) - Date.parse(list[1]!.created) - 3_600_000) < 5, 'default 1h');

    r = bans(file, ['list']);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ADDRESS +GUARD +REASON +SINCE +EXPIRES +LEFT$/);
    assert.equal(lines.length, 4);
    assert.match(lines[1]!, /^2001:db8:1:2::\/64 +admin +banned by an operator +\S+Z +\S+Z +(30m|29m \d+s)$/);
    assert.match(lines[3]!, /^192\.0\.2\.7 +admin +probing extensions +\S+Z +\S+Z +(2h|1h 59m)$/);

    r = bans(file, ['remove', '::ffff:198.51.100.9']);
    assert.equal(r.stdout, 'lifted the ban of 198.51.100.9\n');
    r = bans(file, ['remove', '198.51.100.9'], 1);
    assert.equal(r.stderr, 'sipwarden bans: no ban of 198.51.100.9\n');
    r = bans(file, ['remove', '2001:db8:1:2::5'], 1);
    assert.match(r.stderr, /no ban of 2001:db8:1:2::5 \(it is inside the ban of 2001:db8:1:2::\/64\)/);

    r = bans(file, ['flush']);
    assert.equal(r.stdout, 'lifted 2 bans\n');
    assert.equal(bans(file, ['list']).stdout, 'no bans\n');
    assert.deepEqual(listJson(file), []);
  });

  it('keeps a longer ban and says so', () => {
    const file = newFile();
    bans(file, ['add', '203.0.113.1', '--for', '1d', '--reason', 'first']);
    const r = bans(file, ['add', '203.0.113.1', '--for', '10m', '--reason', 'second']);
    assert.match(
      r.stdout,
      /^203\.0\.113\.1 stays banned until \S+Z \((1d|23h 59m) left, longer than 10m\) by admin: first\n$/,
    );
    assert.equal(listJson(file)[0]!.reason, 'first');
  });

  it('strips control characters from a reason and bounds its length', () => {
    const file = newFile();
    bans(file, ['add', '192.0.2.1', '--reason', 'line one\nline two\r\n\u001b[31mred\u202e evil\u0085']);
    bans(file, ['add', '192.0.2.2', '--reason', 'x'.repeat(5000)]);
    const list = listJson(file);
    assert.equal(list.find((b) => b.target === '192.0.2.1')!.reason, 'line one line two [31mred evil');
    assert.equal(list.find((b) => b.target === '192.0.2.2')!.reason, 'x'.repeat(MAX_REASON_LENGTH));
  });

  it('refuses bad input with exit status 2 and a message naming it', () => {
    const file = newFile();
    let r = bans(file, ['add', '192.0.2.256'], 2);
    assert.match(r.stderr, /"192\.0\.2\.256" is not an IP address or network/);
    r = bans(file, ['add', '10.0.0.1/8'], 2);
    assert.match(r.stderr, /"10\.0\.0\.1\/8" has host bits set; the network is 10\.0\.0\.0\/8/);
    r = bans(file, ['remove', 'example.com'], 2);
    assert.match(r.stderr, /"example\.com" is not an IP address or network/);
    r = bans(file, ['add', '192.0.2.1', '--for', 'forever'], 2);
    assert.match(r.stderr, /--for "forever" is not a duration/);
    r = bans(file, ['add', '192.0.2.1', '--for', '400d'], 2);
    assert.match(r.stderr, /at most 365d/);
    r = bans(file, ['add', '192.0.2.1', '--for', '0'], 2);
    assert.match(r.stderr, /at least 1s/);
    r = bans(file, ['add', '192.0.2.1', '--reason', '\n\t'], 2);
    assert.match(r.stderr, /--reason is empty/);
    r = bans(file, ['add'], 2);
    assert.match(r.stderr, /add needs a TARGET/);
    r = bans(file, ['add', '192.0.2.1', '192.0.2.2'], 2);
    assert.match(r.stderr, /too many arguments for 'add'/);
    r = bans(file, ['list', '--for', '1h'], 2);
    assert.match(r.stderr, /--for does not go with 'list'/);
    r = bans(file, ['ban', '192.0.2.1'], 2);
    assert.match(r.stderr, /unknown command 'ban'/);
    r = bans(file, ['list', '--frobnicate'], 2);
    assert.match(r.stderr, /--frobnicate/);
    r = sipwarden(['bans', 'list', '--db', file, '--config', join(dir, 'x.yaml')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /give --config or --db, not both/);
    r = sipwarden(['bans']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /which command/);
    // Nothing was written by any of these.
    assert.throws(() => new SqliteBanStore(file, { create: false }), /no such file/);
  });

  it('fails with exit status 1 on a missing or corrupt file, naming it', () => {
    const missing = join(dir, 'nowhere.db');
    let r = bans(missing, ['list'], 1);
    assert.equal(r.stderr, `sipwarden bans: ${missing}: cannot open the ban database: no such file\n`);
    const corrupt = join(dir, 'corrupt.db');
    writeFileSync(corrupt, 'this is not a database, just text '.repeat(200));
    r = bans(corrupt, ['add', '192.0.2.1'], 1);
    assert.equal(r.stderr, `sipwarden bans: ${corrupt}: cannot open the ban database: file is not a database\n`);
  });

  it('prints help, and the main usage lists the command', () => {
    const r = sipwarden(['bans', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: sipwarden bans <command>/);
    assert.match(sipwarden(['help']).stdout, /bans COMMAND/);
  });

  it('with --config uses store.file in data_dir and guards.bans.default_duration', () => {
    const base = mkdtempSync(join(dir, 'conf-'));
    const config = join(base, 'sipwarden.yaml');
    writeFileSync(
      config,
      `listen: [udp://127.1.0.1:17001]
upstreams:
  - name: pbx
    targets: [udp://127.1.0.2:17002]
data_dir: ./state
store: { file: bans.db }
guards:
  bans: { default_duration: 10m }
`,
    );
    const r = sipwarden(['bans', 'add', '192.0.2.5', '--config', config]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\(10m\)\n$/);
    const store = new SqliteBanStore(join(base, 'state', 'bans.db'), { create: false, pollInterval: 0 });
    try {
      const b = store.find('192.0.2.5', Date.now())!;
      assert.equal(b.expires - b.created, 600_000);
      assert.equal(b.guard, 'admin');
    } finally {
      store.close();
    }
    const bad = join(base, 'bad.yaml');
    writeFileSync(bad, 'listen: nope\n');
    const e = sipwarden(['bans', 'list', '--config', bad]);
    assert.equal(e.status, 2);
    assert.match(e.stderr, /bad\.yaml/);
    const memory = join(base, 'memory.yaml');
    writeFileSync(
      memory,
      'listen: [udp://127.1.0.1:17001]\nupstreams: [{name: pbx, targets: [udp://127.1.0.2:17002]}]\nstore: {type: memory}\n',
    );
    const m = sipwarden(['bans', 'list', '--config', memory]);
    assert.equal(m.status, 1);
    assert.match(m.stderr, /store\.type is memory/);
  });

  it('a store running on the same file sees the changes within a second', async () => {
    const file = newFile();
    bans(file, ['add', '192.0.2.200']);
    const running = new SqliteBanStore(file);
    const changes: BanChange[] = [];
    running.subscribe((c) => changes.push(c));
    try {
      assert.ok(running.find('192.0.2.200', Date.now()));
      let t = Date.now();
      bans(file, ['add', '2001:db8:77::/48', '--reason', 'from the cli']);
      await waitFor(() => running.find('2001:db8:77:1::1', Date.now()) !== undefined, 'the added ban', 1000);
      const added = changes.find((c) => c.kind === 'added');
      assert.deepEqual(added && { ...added, ban: { ...added.ban, created: 0, expires: 0 } }, {
        kind: 'added',
        external: true,
        ban: { target: '2001:db8:77::/48', guard: 'admin', reason: 'from the cli', created: 0, expires: 0 },
      });
      assert.ok(Date.now() - t < 1000);

      t = Date.now();
      bans(file, ['remove', '192.0.2.200']);
      await waitFor(() => running.find('192.0.2.200', Date.now()) === undefined, 'the removal', 1000);
      assert.ok(changes.some((c) => c.kind === 'removed' && c.external && c.target === '192.0.2.200'));

      bans(file, ['flush']);
      await waitFor(() => running.size === 0, 'the flush', 1000);
      assert.deepEqual(changes.at(-1), { kind: 'flushed', count: 1, external: true });
    } finally {
      running.close();
    }
  });
});

describe('cleanReason and formatRemaining', () => {
  it('cleans operator text', () => {
    assert.equal(cleanReason('  a \t b  '), 'a b');
    assert.equal(cleanReason('\u2066hidden\u2069 \u2028next'), 'hidden next');
    assert.equal(cleanReason('\ud800lone'), 'lone');
    const emoji = '😀'.repeat(150);
    const cut = cleanReason(emoji);
    assert.ok(cut.length <= MAX_REASON_LENGTH);
    assert.equal(cut, '😀'.repeat(MAX_REASON_LENGTH / 2));
  });

  it('formats remaining time with two units', () => {
    assert.equal(formatRemaining(0), '0s');
    assert.equal(formatRemaining(999), '1s');
    assert.equal(formatRemaining(90_000), '1m 30s');
    assert.equal(formatRemaining(3_600_000), '1h');
    assert.equal(formatRemaining(90_061_000), '1d 1h');
  });
});
