import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { type Running, start, waitFor } from '../helpers/process.js';

/**
 * The files sipwarden keeps in data_dir (and its log file), as the real `sipwarden run` and
 * CLI commands make them, started from a shell whose umask is 022.
 */
const BIN = join(PROJECT_ROOT, 'bin/sipwarden');

/** Runs `sipwarden ARGS` under `umask 022`, optionally with standard input. */
function sipwarden(args: string[], input?: string): Running {
  const script = input === undefined ? 'umask 022 && exec "$@"' : `umask 022 && printf '%s\\n' '${input}' | exec "$@"`;
  return start('sh', ['-c', script, 'sh', process.execPath, BIN, ...args]);
}

async function exitOf(r: Running, ms = 15_000): Promise<number> {
  const code = await Promise.race([r.exited, new Promise<number>((done) => setTimeout(() => done(-1), ms))]);
  if (code === -1) r.signal('SIGKILL');
  return code;
}

const mode = (path: string) => (lstatSync(path).mode & 0o777).toString(8);

/** A fresh installation: `dir/sipwarden.yaml` with data_dir `dir/data` and the log in `dir/logs`. */
function installation(extra = ''): { dir: string; data: string; log: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-files-'));
  const data = join(dir, 'data');
  const log = join(dir, 'logs', 'sipwarden.log');
  const config = join(dir, 'sipwarden.yaml');
  writeFileSync(
    config,
    `data_dir: ${data}\n` +
      'listen: [udp://127.104.10.2:33401]\n' +
      'upstreams:\n  - name: pbx\n    targets: [udp://127.104.10.1:33400]\n    ping: false\n' +
      `log: {file: ${log}}\n` +
      extra,
  );
  return { dir, data, log, config };
}

describe('files in data_dir', () => {
  it('are 0600 in 0700 directories whatever the umask, also when data_dir exists as 0755', async () => {
    const { data, log, config } = installation();
    mkdirSync(data);
    chmodSync(data, 0o755);
    // A ban file left 0644 by an earlier version is made private too (an empty file is an empty database).
    writeFileSync(join(data, 'sipwarden.db'), '');
    chmodSync(join(data, 'sipwarden.db'), 0o644);
    const sw = sipwarden(['run', '--config', config]);
    try {
      await waitFor(() => sw.output().includes('"event":"listening"'), 'sipwarden to listen');
      const files = ['sipwarden.db', 'sipwarden.db-wal', 'sipwarden.db-shm', 'attacks.db', 'secret', 'topology.key'];
      for (const f of files) assert.equal(mode(join(data, f)), '600', f);
      assert.equal(mode(log), '600', 'the log file');
      assert.equal(mode(dirname(log)), '700', 'the log directory sipwarden made');
      assert.equal(mode(data), '755', 'an existing data_dir not writable by others is left as it is');
    } finally {
      sw.signal('SIGTERM');
      await exitOf(sw);
    }

    // The CLI on a new installation: `bans add` and `users add` make the directory and the file.
    for (const [args, input] of [
      [['bans', 'add', '192.0.2.7', '--config'], undefined],
      [['users', 'add', 'alice', '--config'], 'pass-word-1'],
    ] as const) {
      const fresh = installation();
      const r = sipwarden([...args, fresh.config], input);
      assert.equal(await exitOf(r), 0, r.output());
      assert.equal(mode(fresh.data), '700', `${args[0]}: data_dir`);
      assert.equal(mode(join(fresh.data, 'sipwarden.db')), '600', `${args[0]}: sipwarden.db`);
    }
  });

  it('refuses to start, or to run a command, when data_dir is writable by group or others', async () => {
    for (const [bits, who] of [
      [0o777, 'group and others'],
      [0o775, 'group'],
      [0o757, 'others'],
    ] as const) {
      const { data, config } = installation();
      mkdirSync(data);
      chmodSync(data, bits);
      const r = sipwarden(['run', '--config', config]);
      assert.equal(await exitOf(r), 1, r.output());
      assert.match(r.output(), new RegExp(`${data}: data_dir is writable by ${who} \\(mode 0${bits.toString(8)}\\)`));
      assert.match(r.output(), new RegExp(`run chmod 700 ${data}`));
      assert.ok(!existsSync(join(data, 'sipwarden.db')) && !existsSync(join(data, 'secret')), 'nothing created');
    }
    const { data, config } = installation();
    mkdirSync(data);
    chmodSync(data, 0o777);
    const cli = sipwarden(['bans', 'add', '192.0.2.7', '--config', config]);
    assert.equal(await exitOf(cli), 1, cli.output());
    assert.match(cli.output(), /is writable by group and others/);
    assert.ok(!existsSync(join(data, 'sipwarden.db')));
  });

  it('never follows a link planted where it keeps a file', async () => {
    const cases = [
      { name: 'sipwarden.db', at: (i: ReturnType<typeof installation>) => join(i.data, 'sipwarden.db') },
      { name: 'sipwarden.db-wal', at: (i: ReturnType<typeof installation>) => join(i.data, 'sipwarden.db-wal') },
      { name: 'attacks.db', at: (i: ReturnType<typeof installation>) => join(i.data, 'attacks.db') },
      { name: 'secret', at: (i: ReturnType<typeof installation>) => join(i.data, 'secret') },
      { name: 'the log file', at: (i: ReturnType<typeof installation>) => i.log },
    ];
    for (const c of cases) {
      for (const existing of [false, true]) {
        const inst = installation();
        mkdirSync(inst.data, { mode: 0o700 });
        mkdirSync(join(inst.dir, 'logs'), { mode: 0o700 });
        const victim = join(inst.dir, 'victim');
        if (existing) writeFileSync(victim, 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
        const link = c.at(inst);
        symlinkSync(victim, link);
        const r = sipwarden(['run', '--config', inst.config]);
        assert.equal(await exitOf(r), 1, `${c.name}: ${r.output()}`);
        assert.match(r.output(), /is a symbolic link: sipwarden never follows a link at a file it keeps/, c.name);
        assert.ok(r.output().includes(link), `${c.name}: the error names ${link}`);
        if (existing) {
          assert.equal(readFileSync(victim, 'utf8'), 'root:x:0:0::/root:/bin/sh\n', `${c.name}: target untouched`);
          assert.equal((statSync(victim).mode & 0o777).toString(8), '644', `${c.name}: target mode untouched`);
        } else {
          assert.ok(!existsSync(victim), `${c.name}: no file created at the link's target`);
        }
      }
    }
    // The CLI commands that open the database: bans (add, list) and users (add).
    for (const [args, input] of [
      [['bans', 'add', '192.0.2.7', '--config'], undefined],
      [['bans', 'list', '--config'], undefined],
      [['users', 'add', 'alice', '--config'], 'pass-word-1'],
    ] as const) {
      const inst = installation();
      mkdirSync(inst.data, { mode: 0o700 });
      const victim = join(inst.dir, 'victim');
      symlinkSync(victim, join(inst.data, 'sipwarden.db'));
      const r = sipwarden([...args, inst.config], input);
      assert.equal(await exitOf(r), 1, r.output());
      assert.match(r.output(), /is a symbolic link/, args.join(' '));
      assert.ok(!existsSync(victim), `${args.join(' ')}: no file created at the link's target`);
    }
  });
});
