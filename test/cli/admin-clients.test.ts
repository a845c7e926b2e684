/**
 * `sipwarden bans` and `sipwarden attacks` as clients of a running sipwarden (bin/sipwarden run
 * as a process, its admin API on 127.115.1.1:41012): a ban added from the command line drops
 * the source's next SIP message, the lists and exports print what the files would, a refused
 * token is an error, and with no instance running the files are used.
 * Addresses 127.115.1.x, ports 41010-41019.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { waitFor } from '../helpers/process.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';

const SIP = { address: '127.115.1.1', port: 41010 };
const PBX = { address: '127.115.1.2', port: 41011 };
const ADMIN = 'http://127.115.1.1:41012';
/** Where nothing listens. */
const NOBODY = 'http://127.115.1.1:41019';

const YAML = `listen: [udp://${SIP.address}:${SIP.port}]
upstreams:
  - name: pbx
    targets: [udp://${PBX.address}:${PBX.port}]
    ping: false
guards:
  scanner:
    signals:
      user_agent: honeypot
admin:
  listen: ${ADMIN}
`;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the compiled bin (without waiting synchronously: this process receives the SIP traffic). */
async function sipwarden(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const clean = { ...process.env, ...env };
  if (env.SIPWARDEN_ADMIN_TOKEN === undefined) delete clean.SIPWARDEN_ADMIN_TOKEN;
  try {
    const r = await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'bin', 'sipwarden'), ...args], {
      cwd: PROJECT_ROOT,
      env: clean,
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const f = e as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof f.code === 'number' ? f.code : -1, stdout: f.stdout ?? '', stderr: f.stderr ?? '' };
  }
}

async function ok(args: string[]): Promise<string> {
  const r = await sipwarden(args);
  assert.equal(r.status, 0, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

let sw: SipwardenInstance;
let pbx: UdpPeer;
let config: string;
let data: string;

/** Sends an OPTIONS from `peer`; resolves true when the upstream got it within `ms`. */
async function forwarded(peer: UdpPeer, tag: string, ms = 1000): Promise<boolean> {
  await peer.send(options(peer.socket.address().address, peer.port, tag), SIP.port, SIP.address);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pbx.matching(tag).length > 0) return true;
    await sleep(20);
  }
  return false;
}

describe('bans and attacks through the admin API of a running sipwarden', () => {
  before(async () => {
    pbx = await UdpPeer.bind(PBX.address, PBX.port);
    sw = await startSipwarden(YAML, { listeners: 1 });
    config = sw.configFile;
    data = join(sw.dir, 'data');
    await waitFor(() => sw.logs().some((l) => l.event === 'admin-listening'), 'the admin API');
  });
  after(async () => {
    await sw?.stop();
    pbx?.close();
  });

  it('bans add drops the next SIP message, bans list shows it, bans remove lifts it', async () => {
    const phone = await UdpPeer.bind('127.115.1.5');
    try {
      assert.ok(await forwarded(phone, 'before-ban'), 'forwarded before the ban');
      const added = await ok([
        'bans',
        'add',
        '127.115.1.5',
        '--for',
        '2h',
        '--reason',
        'from the cli',
        '--config',
        config,
      ]);
      assert.match(added, /^banned 127\.115\.1\.5 until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(2h\)\n$/);
      // Through the API the ban is in force at once (no waiting for the file to be polled).
      assert.equal(await forwarded(phone, 'after-ban', 300), false, 'dropped after the ban');

      const table = (await ok(['bans', 'list', '--config', config])).trimEnd().split('\n');
      assert.match(table[0]!, /^ADDRESS +GUARD +REASON +SINCE +EXPIRES +LEFT$/);
      assert.match(table[1]!, /^127\.115\.1\.5 +admin +from the cli +\S+Z +\S+Z +(2h|1h 59m)$/);
      assert.equal(table.length, 2);
      const json = JSON.parse(await ok(['bans', 'list', '--json', '--url', ADMIN, '--config', config]));
      assert.equal(json.length, 1);
      assert.equal(json[0].target, '127.115.1.5');
      assert.equal(Date.parse(json[0].expires) - Date.parse(json[0].created), 7_200_000);

      const kept = await ok(['bans', 'add', '127.115.1.5', '--for', '10m', '--config', config]);
      assert.match(
        kept,
        /^127\.115\.1\.5 stays banned until \S+Z \((2h|1h 59m) left, longer than 10m\) by admin: from the cli\n$/,
      );

      // The same as the file would say (the instance keeps its bans in data/sipwarden.db).
      const file = JSON.parse(await ok(['bans', 'list', '--json', '--db', join(data, 'sipwarden.db')]));
      const stable = (list: { remainingMs?: number }[]) => list.map(({ remainingMs: _, ...rest }) => rest);
      assert.deepEqual(stable(file), stable(json));

      assert.equal(await ok(['bans', 'remove', '127.115.1.5', '--config', config]), 'lifted the ban of 127.115.1.5\n');
      assert.ok(await forwarded(phone, 'after-remove'), 'forwarded once the ban is lifted');
      let r = await sipwarden(['bans', 'remove', '127.115.1.5', '--config', config]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'sipwarden bans: no ban of 127.115.1.5\n');

      await ok(['bans', 'add', '127.115.7.0/24', '--config', config]);
      r = await sipwarden(['bans', 'remove', '127.115.7.9', '--config', config]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'sipwarden bans: no ban of 127.115.7.9 (it is inside the ban of 127.115.7.0/24)\n');
      assert.equal(await ok(['bans', 'flush', '--config', config]), 'lifted 1 ban\n');
      assert.equal(await ok(['bans', 'list', '--config', config]), 'no bans\n');
    } finally {
      phone.close();
    }
  });

  it('attacks list, show and export', async () => {
    const scanner = await UdpPeer.bind('127.115.1.9');
    try {
      await scanner.send(
        options('127.115.1.9', scanner.port, 'scan1', ['User-Agent: friendly-scanner']),
        SIP.port,
        SIP.address,
      );
      let list = '';
      for (let i = 0; i < 50 && !list.includes('127.115.1.9'); i++) {
        list = await ok(['attacks', 'list', '--config', config]);
        if (!list.includes('127.115.1.9')) await sleep(100);
      }
      const lines = list.trimEnd().split('\n');
      assert.match(lines[0]!, /^ADDRESS +FIRST SEEN +LAST SEEN +REQUESTS +METHODS +USER-AGENT$/);
      assert.match(lines[1]!, /^127\.115\.1\.9 +\S+Z +\S+Z +1 +OPTIONS:1 +friendly-scanner$/);
      const show = await ok(['attacks', 'show', '127.115.1.9', '--config', config]);
      assert.match(show, /^address: +127\.115\.1\.9\n/m);
      assert.match(show, /^user agents: friendly-scanner$/m);
      const r = await sipwarden(['attacks', 'show', '127.115.1.99', '--config', config]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'sipwarden attacks: no record of 127.115.1.99\n');

      // What the API gives is what the records file gives.
      const file = join(data, 'attacks.db');
      for (const args of [['list'], ['list', '--json'], ['export', '--format', 'csv'], ['export']]) {
        const online = await ok(['attacks', ...args, '--url', ADMIN, '--config', config]);
        assert.equal(online, await ok(['attacks', ...args, '--db', file]), args.join(' '));
      }
    } finally {
      scanner.close();
    }
  });

  it('a refused token is an error, never a silent fall back to the files', async () => {
    for (const [args, env] of [
      [['bans', 'list', '--config', config, '--token', 'not-the-token-of-this-instance'], {}],
      [['attacks', 'list', '--config', config], { SIPWARDEN_ADMIN_TOKEN: 'not-the-token-of-this-instance' }],
      [['bans', 'add', '192.0.2.1', '--url', ADMIN, '--token', 'not-the-token-of-this-instance'], {}],
    ] as const) {
      const r = await sipwarden([...args], env);
      assert.equal(r.status, 1, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /^sipwarden (bans|attacks): http:\/\/127\.115\.1\.1:41012: the token was refused \(give --token/,
      );
    }
    assert.equal(await ok(['bans', 'list', '--config', config]), 'no bans\n', 'nothing was added');
  });

  it('--url names the instance: no answer is an error; --db names the file', async () => {
    let r = await sipwarden(['bans', 'list', '--url', NOBODY, '--token', 'x'.repeat(20)]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `sipwarden bans: no sipwarden answers at ${NOBODY}\n`);
    r = await sipwarden(['attacks', 'list', '--url', NOBODY]);
    assert.equal(r.status, 1);
    r = await sipwarden(['bans', 'list', '--url', ADMIN, '--db', join(data, 'sipwarden.db')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /give --url or --db, not both/);
  });

  it('with no instance running, the files', async () => {
    await ok(['bans', 'add', '127.115.1.6', '--reason', 'while running', '--config', config]);
    const token = readFileSync(join(data, 'admin-token'), 'utf8');
    assert.ok(token.length > 16);
    assert.equal(await sw.stop(), 0);
    // The token file is there and admin.listen names the URL, but nobody answers.
    const table = await ok(['bans', 'list', '--config', config]);
    assert.match(table, /^127\.115\.1\.6 +admin +while running /m);
    assert.match(await ok(['bans', 'add', '127.115.1.7', '--config', config]), /^banned 127\.115\.1\.7 until /);
    assert.equal(await ok(['bans', 'remove', '127.115.1.6', '--config', config]), 'lifted the ban of 127.115.1.6\n');
    const json = JSON.parse(await ok(['bans', 'list', '--json', '--db', join(data, 'sipwarden.db')]));
    assert.deepEqual(
      json.map((b: { target: string }) => b.target),
      ['127.115.1.7'],
    );
    assert.match(await ok(['attacks', 'list', '--config', config]), /^127\.115\.1\.9 /m);
  });
});
