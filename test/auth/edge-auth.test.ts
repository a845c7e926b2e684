import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { start, waitFor } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { sleep, UdpPeer } from '../helpers/udp.js';
import { type Response, SipClient, Upstream } from './client.js';

/**
 * Edge authentication through the real sipwarden (bin/sipwarden run), with sipp and a Node
 * client on 127.21.x.y. The upstream is 127.21.0.1 on its own port (inside by address and
 * port); clients are other addresses, outside.
 */

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const REALM = 'sipwarden';
const PASSWORDS = ['wonderland', 'not-the-password', 'looking-glass', 'store-secret-9'];

/** Every sipwarden of this file, for the log scan at the end. */
const instances: SipwardenInstance[] = [];
after(() => {
  for (const sw of instances) if (sw.run.proc.exitCode === null) sw.run.signal('SIGKILL');
});

function config(listen: string, upstream: string, auth: string): string {
  return [
    'log:\n  level: debug',
    `listen: [udp://${listen}]`,
    `upstreams:\n  - name: pbx\n    targets: [udp://${upstream}]\n    ping: false`,
    'guards:',
    '  chain: [acl, bans, flood, scanner, sanity, auth]',
    '  auth:',
    ...auth
      .trim()
      .split('\n')
      .map((l) => `    ${l}`),
    '',
  ].join('\n');
}

async function sipwarden(yaml: string, files: Record<string, string> = {}): Promise<SipwardenInstance> {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-auth-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const sw = await startSipwarden(yaml.replaceAll('$DIR', dir), { listeners: 1, dir });
  instances.push(sw);
  return sw;
}

function usersFile(entries: Array<[string, string]>): string {
  const lines = ['# test users'];
  for (const [user, password] of entries) {
    lines.push(`${user}:${REALM}:${md5(`${user}:${REALM}:${password}`)}`);
    lines.push(`${user}:${REALM}:sha-256:${sha256(`${user}:${REALM}:${password}`)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The challenge with its nonces blanked: what must not differ between two answers. */
function shape(r: Response | undefined): string {
  assert.ok(r, 'an answer');
  return r.text
    .split('\r\n')
    .filter((l) => !/^(Via|From|To|Call-ID|CSeq):/i.test(l))
    .map((l) => l.replace(/nonce="[^"]*"/, 'nonce="N"'))
    .join('\n');
}

describe('edge auth: sipp through sipwarden (MD5)', () => {
  it('REGISTER and INVITE with the right password get through; a wrong one or an unknown user never do', async () => {
    const sw = await sipwarden(
      // sipp's call scenario writes `sipp` as the From user: an alias of alice (identity check).
      config(
        '127.21.0.1:18300',
        '127.21.0.1:18310',
        'users_file: users.txt\nalgorithms: [md5]\nidentity: { aliases: { alice: [sipp] } }',
      ),
      { 'users.txt': usersFile([['alice', 'wonderland']]) },
    );
    // REGISTER: the registrar insists on sipwarden's Path and must not see our credentials.
    const registrarLog = join(sw.dir, 'registrar.msg');
    const registrar = sipp({
      scenario: 'uas-registrar.xml',
      ip: '127.21.0.1',
      port: 18310,
      calls: 1,
      timeoutSec: 15,
      extra: ['-trace_msg', '-message_file', registrarLog],
    });
    await sleep(200);
    const phone = sipp({
      scenario: 'uac-register-auth.xml',
      ip: '127.21.0.2',
      port: 18320,
      remote: '127.21.0.1:18300',
      calls: 1,
      timeoutSec: 15,
      extra: ['-s', 'alice', '-au', 'alice', '-ap', 'wonderland'],
    });
    const [p, r] = await Promise.all([phone.result, registrar.result]);
    assert.equal(p.successful, 1, `${p.code} ${p.output}`);
    assert.equal(r.successful, 1, r.output);
    const seen = readFileSync(registrarLog, 'utf8');
    assert.match(seen, /CSeq: 2 REGISTER/, 'the authenticated REGISTER reached the registrar');
    assert.doesNotMatch(seen, /CSeq: 1 REGISTER/, 'the unauthenticated one did not');
    assert.doesNotMatch(seen, /Authorization:/i, 'credentials were stripped');

    // INVITE: 407, ACK absorbed, INVITE with Proxy-Authorization, call, BYE.
    const uasLog = join(sw.dir, 'uas.msg');
    const uas = sipp({
      scenario: 'uas-call.xml',
      ip: '127.21.0.1',
      port: 18310,
      calls: 3,
      timeoutSec: 20,
      extra: ['-trace_msg', '-message_file', uasLog],
    });
    await sleep(200);
    const caller = sipp({
      scenario: 'uac-call-auth.xml',
      ip: '127.21.0.2',
      port: 18321,
      remote: '127.21.0.1:18300',
      calls: 3,
      rate: 10,
      timeoutSec: 20,
      // sipp's digest uri defaults to sip:remote_ip:remote_port; sipwarden wants the Request-URI.
      extra: ['-au', 'alice', '-ap', 'wonderland', '-auth_uri', 'service@127.21.0.1:18300'],
    });
    const [c, u] = await Promise.all([caller.result, uas.result]);
    assert.equal(c.failed, 0, c.output);
    assert.equal(c.successful, 3, c.output);
    assert.equal(u.successful, 3, u.output);
    const uasSeen = readFileSync(uasLog, 'utf8');
    assert.doesNotMatch(uasSeen, /CSeq: 1 (INVITE|ACK)/, 'neither the challenged INVITE nor its ACK went upstream');

    // Wrong password, then an unknown user: the upstream never sees a request.
    const upstream = await UdpPeer.bind('127.21.0.1', 18310);
    try {
      for (const [user, password, port] of [
        ['alice', 'not-the-password', 18322],
        ['mallory', 'looking-glass', 18323],
      ] as const) {
        const bad = sipp({
          scenario: 'uac-register-auth.xml',
          ip: '127.21.0.2',
          port,
          remote: '127.21.0.1:18300',
          calls: 1,
          timeoutSec: 10,
          extra: ['-s', user, '-au', user, '-ap', password, '-recv_timeout', '3000'],
        });
        const b = await bad.result;
        assert.equal(b.successful, 0, b.output);
        assert.equal(b.failed, 1, b.output);
      }
      assert.equal(upstream.received.length, 0, upstream.received.map((r) => r.data).join('\n----\n'));
    } finally {
      upstream.close();
    }
    assert.equal(await sw.stop(), 0);
  });
});

describe('edge auth: Node client', () => {
  it('wrong password and unknown user get the same answer; replays are refused, retransmissions pass', async () => {
    const sw = await sipwarden(config('127.21.1.1:18400', '127.21.1.1:18410', 'users_file: users.txt'), {
      'users.txt': usersFile([['alice', 'wonderland']]),
    });
    const upstream = await Upstream.open('127.21.1.1', 18410);
    const client = await SipClient.open('127.21.1.2', 18420, { address: '127.21.1.1', port: 18400 });
    try {
      const first = await client.send(
        client.request({ method: 'REGISTER', user: 'alice', callId: 'c1', cseq: 1, branch: 'a1' }),
      );
      assert.equal(first?.status, 401);
      assert.deepEqual(
        first.challenges.map((c) => [c.header, c.algorithm, c.realm, c.qop, c.stale]),
        [
          ['WWW-Authenticate', 'SHA-256', REALM, 'auth', false],
          ['WWW-Authenticate', 'MD5', REALM, 'auth', false],
        ],
        'SHA-256 first (RFC 8760), then MD5',
      );
      const challenge = first.challenges[1]!;

      // Wrong password and unknown user: the same answer, but for the nonce.
      const wrong = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'alice',
          callId: 'c1',
          cseq: 2,
          branch: 'a2',
          auth: client.credentials(challenge, {
            username: 'alice',
            password: 'not-the-password',
            method: 'REGISTER',
            nc: 1,
          }),
        }),
      );
      const unknown = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'alice',
          callId: 'c1',
          cseq: 3,
          branch: 'a3',
          auth: client.credentials(challenge, {
            username: 'mallory',
            password: 'looking-glass',
            method: 'REGISTER',
            nc: 1,
          }),
        }),
      );
      assert.equal(wrong?.status, 401);
      assert.equal(shape(wrong), shape(unknown));
      assert.equal(shape(wrong), shape(first), 'and the same as a first challenge');
      assert.equal(upstream.requests.length, 0);

      // The right password (SHA-256 computed here) passes, without our credentials.
      const sha = first.challenges[0]!;
      const good = client.request({
        method: 'REGISTER',
        user: 'alice',
        callId: 'c1',
        cseq: 4,
        branch: 'a4',
        auth: client.credentials(sha, {
          username: 'alice',
          password: 'wonderland',
          method: 'REGISTER',
          nc: 1,
          cnonce: 'cn1',
        }),
      });
      assert.equal((await client.send(good))?.status, 200);
      assert.equal(upstream.requests.length, 1);
      assert.doesNotMatch(upstream.requests[0]!, /Authorization/i, 'credentials stripped');

      // A UDP retransmission of the same request (same nonce, nc, Call-ID, CSeq, branch) passes.
      assert.equal((await client.send(good))?.status, 200);
      assert.equal(upstream.requests.length, 2);

      // The same nonce and nc on another request (another Call-ID and CSeq): a replay.
      const replay = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'alice',
          callId: 'c2',
          cseq: 1,
          branch: 'b1',
          auth: client.credentials(sha, {
            username: 'alice',
            password: 'wonderland',
            method: 'REGISTER',
            nc: 1,
            cnonce: 'cn1',
          }),
        }),
      );
      assert.equal(replay?.status, 401);
      assert.equal(replay.challenges[0]?.stale, false);
      assert.equal(upstream.requests.length, 2, 'the replay did not get through');

      // The next nc on the same nonce passes.
      const next = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'alice',
          callId: 'c2',
          cseq: 2,
          branch: 'b2',
          auth: client.credentials(sha, { username: 'alice', password: 'wonderland', method: 'REGISTER', nc: 2 }),
        }),
      );
      assert.equal(next?.status, 200);

      // An INVITE gets a 407 with Proxy-Authenticate; MD5 credentials pass.
      const inv = await client.send(
        client.request({ method: 'INVITE', user: 'alice', callId: 'c3', cseq: 1, branch: 'i1' }),
      );
      assert.equal(inv?.status, 407);
      assert.equal(inv.challenges[0]?.header, 'Proxy-Authenticate');
      const ok = await client.send(
        client.request({
          method: 'INVITE',
          user: 'alice',
          callId: 'c3',
          cseq: 2,
          branch: 'i2',
          auth: client.credentials(inv.challenges[1]!, {
            username: 'alice',
            password: 'wonderland',
            method: 'INVITE',
            nc: 1,
          }),
        }),
      );
      assert.equal(ok?.status, 200);

      // Failures became security events (rule = reason) naming the user, never credentials.
      await waitFor(() => sw.logs().some((l) => l.guard === 'auth' && l.rule === 'replay'), 'the replay event');
      const rules = sw
        .logs()
        .filter((l) => l.guard === 'auth')
        .map((l) => `${l.rule}:${l.detail ?? ''}`);
      for (const r of ['challenge:', 'wrong-password:alice', 'unknown-user:mallory', 'replay:alice']) {
        assert.ok(rules.includes(r), `event ${r} in ${rules.join(' ')}`);
      }
    } finally {
      client.close();
      upstream.close();
    }
    assert.equal(await sw.stop(), 0);
  });

  it('an expired nonce with the right password gets stale=true; the retry with the new nonce passes', async () => {
    const sw = await sipwarden(
      config('127.21.2.1:18430', '127.21.2.1:18440', 'users_file: users.txt\nnonce_lifetime: 1s'),
      { 'users.txt': usersFile([['alice', 'wonderland']]) },
    );
    const upstream = await Upstream.open('127.21.2.1', 18440);
    const client = await SipClient.open('127.21.2.2', 18450, { address: '127.21.2.1', port: 18430 });
    try {
      const first = await client.send(
        client.request({ method: 'REGISTER', user: 'alice', callId: 's1', cseq: 1, branch: 's1' }),
      );
      assert.equal(first?.status, 401);
      await sleep(1300);
      const creds = (c = first.challenges[0]!, n = 1) =>
        client.credentials(c, { username: 'alice', password: 'wonderland', method: 'REGISTER', nc: n });
      const stale = await client.send(
        client.request({ method: 'REGISTER', user: 'alice', callId: 's1', cseq: 2, branch: 's2', auth: creds() }),
      );
      assert.equal(stale?.status, 401);
      assert.ok(
        stale.challenges.every((c) => c.stale),
        'stale=true on every challenge',
      );
      assert.notEqual(stale.challenges[0]!.nonce, first.challenges[0]!.nonce);
      // A wrong password with the expired nonce: stale=false (nothing learnt about the password).
      const wrongStale = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'alice',
          callId: 's1',
          cseq: 3,
          branch: 's3',
          auth: client.credentials(first.challenges[0]!, {
            username: 'alice',
            password: 'nope',
            method: 'REGISTER',
            nc: 1,
          }),
        }),
      );
      assert.equal(wrongStale?.status, 401);
      assert.ok(wrongStale.challenges.every((c) => !c.stale));
      const retry = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'alice',
          callId: 's1',
          cseq: 4,
          branch: 's4',
          auth: creds(stale.challenges[0]!),
        }),
      );
      assert.equal(retry?.status, 200);
      assert.equal(upstream.requests.length, 1);
    } finally {
      client.close();
      upstream.close();
    }
    assert.equal(await sw.stop(), 0);
  });

  it('a users file rewritten while running takes effect', async () => {
    const sw = await sipwarden(config('127.21.3.1:18460', '127.21.3.1:18470', 'users_file: users.txt'), {
      'users.txt': usersFile([['alice', 'wonderland']]),
    });
    const upstream = await Upstream.open('127.21.3.1', 18470);
    const client = await SipClient.open('127.21.3.2', 18480, { address: '127.21.3.1', port: 18460 });
    let seq = 1;
    const attempt = async (user: string, password: string): Promise<number | undefined> => {
      const callId = `f${seq}`;
      const c = await client.send(client.request({ method: 'REGISTER', user, callId, cseq: seq++, branch: `f${seq}` }));
      const r = await client.send(
        client.request({
          method: 'REGISTER',
          user,
          callId,
          cseq: seq++,
          branch: `f${seq}`,
          auth: client.credentials(c!.challenges[0]!, { username: user, password, method: 'REGISTER', nc: 1 }),
        }),
      );
      return r?.status;
    };
    try {
      assert.equal(await attempt('bob', 'looking-glass'), 401);
      writeFileSync(join(sw.dir, 'users.txt'), `${usersFile([['bob', 'looking-glass']])}bad line here\n`);
      await waitFor(
        () => sw.logs().some((l) => l.event === 'auth-users-file' && l.line === 4),
        'the bad line reported',
      );
      assert.equal(await attempt('bob', 'looking-glass'), 200);
      assert.equal(await attempt('alice', 'wonderland'), 401, 'alice is gone');
    } finally {
      client.close();
      upstream.close();
    }
    assert.equal(await sw.stop(), 0);
  });

  it('sipwarden users add|remove|list on the store while running takes effect', async () => {
    const sw = await sipwarden(config('127.21.4.1:18490', '127.21.4.1:18500', 'source: store'));
    const upstream = await Upstream.open('127.21.4.1', 18500);
    const client = await SipClient.open('127.21.4.2', 18510, { address: '127.21.4.1', port: 18490 });
    const cli = async (args: string[], input?: string) => {
      const run = start(
        'sh',
        [
          '-c',
          `${input === undefined ? '' : `printf '%s\\n' "$PW" | `}"${process.execPath}" "${join(PROJECT_ROOT, 'bin/sipwarden')}" users "$@"`,
          'sh',
          ...args,
          '--config',
          sw.configFile,
        ],
        { env: { ...process.env, PW: input ?? '' } },
      );
      const code = await run.exited;
      return { code, output: run.output() };
    };
    let seq = 1;
    const attempt = async (): Promise<number | undefined> => {
      const callId = `d${seq}`;
      const c = await client.send(
        client.request({ method: 'REGISTER', user: 'carol', callId, cseq: seq++, branch: `d${seq}` }),
      );
      const r = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'carol',
          callId,
          cseq: seq++,
          branch: `d${seq}`,
          auth: client.credentials(c!.challenges[0]!, {
            username: 'carol',
            password: 'store-secret-9',
            method: 'REGISTER',
            nc: 1,
          }),
        }),
      );
      return r?.status;
    };
    try {
      assert.equal(await attempt(), 401);
      const add = await cli(['add', 'carol', '--password-stdin'], 'store-secret-9');
      assert.equal(add.code, 0, add.output);
      assert.doesNotMatch(add.output, /store-secret-9/);
      const list = await cli(['list']);
      assert.match(list.output, /carol\s+sipwarden\s+SHA-256,MD5/);
      await sleep(600);
      assert.equal(await attempt(), 200);
      const dbText = readFileSync(join(sw.dir, 'data/sipwarden.db')).toString('latin1');
      assert.ok(!dbText.includes('store-secret-9'), 'no password in the database');
      assert.equal((await cli(['remove', 'carol'])).code, 0);
      await sleep(600);
      assert.equal(await attempt(), 401);
      assert.equal((await cli(['remove', 'carol'])).code, 1, 'removing twice fails');
      assert.ok(existsSync(join(sw.dir, 'data/sipwarden.db')));
    } finally {
      client.close();
      upstream.close();
    }
    assert.equal(await sw.stop(), 0);
  });

  it('wrong passwords at the edge count for brute_force: the third gets 403 Try later and a ban, the phone goes on', async () => {
    const yaml = config('127.21.9.1:18520', '127.21.9.1:18530', 'users_file: users.txt').replace(
      'chain: [acl, bans, flood, scanner, sanity, auth]',
      'chain: [acl, bans, flood, scanner, sanity, brute_force, auth]',
    );
    const sw = await sipwarden(yaml, { 'users.txt': usersFile([['alice', 'wonderland']]) });
    const upstream = await Upstream.open('127.21.9.1', 18530);
    const guesser = await SipClient.open('127.21.9.66', 18540, { address: '127.21.9.1', port: 18520 });
    const phone = await SipClient.open('127.21.9.2', 18541, { address: '127.21.9.1', port: 18520 });
    let seq = 1;
    const attempt = async (client: SipClient, password: string): Promise<number | undefined> => {
      const callId = `bf${seq}`;
      const c = await client.send(
        client.request({ method: 'REGISTER', user: 'alice', callId, cseq: seq++, branch: `bf${seq}` }),
      );
      if (c === undefined) return undefined;
      const r = await client.send(
        client.request({
          method: 'REGISTER',
          user: 'alice',
          callId,
          cseq: seq++,
          branch: `bf${seq}`,
          auth: client.credentials(c.challenges[0]!, { username: 'alice', password, method: 'REGISTER', nc: 1 }),
        }),
        1000,
      );
      return r?.status ?? 0;
    };
    try {
      assert.equal(await attempt(phone, 'wonderland'), 200);
      assert.equal(await attempt(guesser, 'password1'), 401);
      assert.equal(await attempt(guesser, 'password2'), 401);
      assert.equal(await attempt(guesser, 'password3'), 403, 'the third failure is answered 403 Try later');
      await waitFor(() => sw.logs().some((l) => l.event === 'ban' && l.source === '127.21.9.66'), 'the ban line');
      assert.equal(await attempt(guesser, 'wonderland'), undefined, 'banned: not even challenged');
      assert.equal(await attempt(phone, 'wonderland'), 200, 'the phone is not locked out');
      const ban = sw.logs().find((l) => l.event === 'ban' && l.source === '127.21.9.66')!;
      assert.match(String(ban.msg), /^Blocking traffic from 127\.21\.9\.66 guard=brute-force rule=failures for 3600s$/);
    } finally {
      guesser.close();
      phone.close();
      upstream.close();
    }
    assert.equal(await sw.stop(), 0);
  });

  it('no password, HA1 or response ever appears in the logs', () => {
    assert.ok(instances.length >= 4);
    const all = instances.map((sw) => sw.run.output()).join('\n');
    assert.match(all, /"guard":"auth"/, 'the logs hold auth events (the scan has something to look at)');
    for (const p of PASSWORDS) assert.ok(!all.includes(p), `password ${p} not logged`);
    for (const user of ['alice', 'bob', 'mallory', 'carol']) {
      for (const p of PASSWORDS) {
        assert.ok(!all.includes(md5(`${user}:${REALM}:${p}`)), 'no MD5 HA1 logged');
        assert.ok(!all.includes(sha256(`${user}:${REALM}:${p}`)), 'no SHA-256 HA1 logged');
      }
    }
    assert.doesNotMatch(all, /response=|Authorization:/i, 'no credentials logged');
  });
});
