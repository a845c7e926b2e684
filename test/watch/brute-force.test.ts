import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startKamailio } from '../helpers/kamailio.js';
import { start, waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { banLines, injectionFile, listBans, receivedStatusLines, runSipp } from './helpers.js';

/**
 * Password guessing through sipwarden against a real registrar (Kamailio with auth_db) that
 * checks the passwords. The guessers are sipp and SIPVicious svcrack; the real phone (sipp
 * with the right password) registers from another address all along.
 */
describe('brute_force: password guessing against a real Kamailio registrar', () => {
  it('bans a sipp guesser after max_failures; the real phone keeps registering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-bf-'));
    const kam = await startKamailio({
      ip: '127.22.0.1',
      port: 18600,
      users: [{ username: 'alice', password: 'alice-secret-1' }],
    });
    const sw = await startSipwarden(
      'listen: [udp://127.22.0.2:18601]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.22.0.1:18600]\n    ping: false\n' +
        'store: {type: sqlite}\n',
      { listeners: 1 },
    );
    try {
      const users = injectionFile(dir, 'users.csv', [['alice']]);
      const phone = runSipp({
        scenario: 'uac-register-auth-user.xml',
        ip: '127.22.0.10',
        port: 18610,
        remote: '127.22.0.2:18601',
        calls: 20,
        rate: 4,
        timeoutSec: 30,
        extra: ['-inf', users, '-au', 'alice', '-ap', 'alice-secret-1', '-l', '1'],
      });
      const attacker = await runSipp(
        {
          scenario: 'uac-register-guess.xml',
          ip: '127.22.0.20',
          port: 18620,
          remote: '127.22.0.2:18601',
          calls: 8,
          rate: 5,
          timeoutSec: 30,
          extra: ['-inf', users, '-au', 'alice', '-ap', 'guess-1234', '-l', '1', '-recv_timeout', '1500'],
        },
        join(dir, 'attacker-messages.log'),
      );
      const real = await phone;

      // Three guesses answered (the third with 403 Try later), then nothing: banned.
      assert.equal(attacker.successful, 3, attacker.output);
      assert.equal(attacker.failed, 5, attacker.output);
      const statuses = receivedStatusLines(attacker.messages);
      assert.equal(statuses.filter((s) => s === '403 Try later').length, 1, statuses.join('\n'));
      assert.equal(statuses.filter((s) => s.startsWith('401')).length, 3 + 2, statuses.join('\n'));

      assert.equal(real.failed, 0, real.output);
      assert.equal(real.successful, 20, real.output);

      assert.deepEqual(banLines(sw), ['Blocking traffic from 127.22.0.20 guard=brute-force rule=failures for 3600s']);
      const bans = listBans(sw);
      assert.deepEqual(
        bans.map((b) => [b.target, b.guard, b.reason]),
        [['127.22.0.20', 'brute-force', 'repeated authentication failures']],
      );
    } finally {
      await sw.stop();
      await kam.stop();
    }
  });

  it('stops SIPVicious svcrack after max_failures, before it reaches the password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-bf-'));
    const kam = await startKamailio({
      ip: '127.22.0.1',
      port: 18640,
      users: [{ username: 'alice', password: 'alice-secret-1' }],
    });
    // svcrack 0.3.3 is stopped sooner by default: the scanner guard knows its User-Agent and
    // sanity refuses its credentials (qop without cnonce). Both are out of the way here, so
    // brute_force alone is measured, as against a tool that hides better.
    const sw = await startSipwarden(
      'listen: [udp://127.22.0.2:18641]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.22.0.1:18640]\n    ping: false\n' +
        'admin: { enabled: false }\nguards:\n  chain: [acl, bans, flood, sanity, brute_force, dial_scan, fraud]\n' +
        '  sanity:\n    checks: [required_headers, request_uri, via, cseq, content_length, max_forwards]\n',
      { listeners: 1 },
    );
    try {
      const dictionary = join(dir, 'passwords.txt');
      const words = ['123456', 'password', 'alice', 'qwerty', '1234', 'letmein', 'secret', 'alice1'];
      writeFileSync(dictionary, [...words, 'alice-secret-1', 'x'].join('\n'));
      const users = injectionFile(dir, 'users.csv', [['alice']]);
      const phone = runSipp({
        scenario: 'uac-register-auth-user.xml',
        ip: '127.22.0.11',
        port: 18642,
        remote: '127.22.0.2:18641',
        calls: 12,
        rate: 4,
        timeoutSec: 30,
        extra: ['-inf', users, '-au', 'alice', '-ap', 'alice-secret-1', '-l', '1'],
      });
      // svcrack sends from 127.0.0.1 whatever it binds: not trusted by default.
      const crack = start('timeout', [
        '30',
        'svcrack',
        '-u',
        'alice',
        '-d',
        dictionary,
        '-P',
        '18643',
        '-vv',
        'udp://127.22.0.2:18641',
      ]);
      await waitFor(() => banLines(sw).length > 0, 'the ban', 15_000);
      // svcrack waits 10 s for an answer that never comes: give it a moment, then end it.
      await new Promise((r) => setTimeout(r, 1500));
      crack.signal('SIGTERM');
      await crack.exited;
      const real = await phone;

      // svcrack asks for a fresh challenge whenever 5 ms pass without an answer, and guesses with
      // each challenge it holds: on a loaded machine a guess or two are already on their way when
      // the third failure's answer bans it. Those are all it gets; the password stays out of reach.
      const tried = [...crack.output().matchAll(/ASipOfRedWine:trying (?!to get )(\S+)/g)].map((m) => m[1]);
      assert.deepEqual(tried.slice(0, 3), ['123456', 'password', 'alice'], crack.output());
      assert.ok(tried.length <= 5, crack.output());
      assert.doesNotMatch(crack.output(), /alice-secret-1|password for alice/);
      assert.deepEqual(banLines(sw), ['Blocking traffic from 127.0.0.1 guard=brute-force rule=failures for 3600s']);
      assert.deepEqual(
        listBans(sw).map((b) => b.target),
        ['127.0.0.1'],
      );
      assert.equal(real.failed, 0, real.output);
      assert.equal(real.successful, 12, real.output);
    } finally {
      await sw.stop();
      await kam.stop();
    }
  });

  it('distributed guessing raises the alert and locks the username, but not for the real phone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-bf-'));
    const kam = await startKamailio({
      ip: '127.22.0.1',
      port: 18660,
      users: [{ username: 'alice', password: 'alice-secret-1' }],
    });
    const sw = await startSipwarden(
      'listen: [udp://127.22.0.2:18661]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.22.0.1:18660]\n    ping: false\n' +
        'log: {level: debug}\n' +
        'guards:\n  brute_force:\n    distributed: {sources: 10, lock: true, lock_duration: 10m}\n',
      { listeners: 1 },
    );
    const users = injectionFile(dir, 'users.csv', [['alice']]);
    const register = (ip: string, password: string, scenario: string, messages?: string) =>
      runSipp(
        {
          scenario,
          ip,
          port: 18662,
          remote: '127.22.0.2:18661',
          calls: 1,
          timeoutSec: 10,
          extra: ['-inf', users, '-au', 'alice', '-ap', password, '-recv_timeout', '2000'],
        },
        messages,
      );
    try {
      // The real phone registers first: its address is known good for alice.
      assert.equal((await register('127.22.1.100', 'alice-secret-1', 'uac-register-auth-user.xml')).successful, 1);
      // Ten addresses guess one password each: none reaches max_failures, together they are 10 sources.
      for (let i = 1; i <= 10; i++) {
        const r = await register(`127.22.1.${i}`, `guess-${i}`, 'uac-register-guess.xml', join(dir, `g${i}.log`));
        assert.equal(r.successful, 1, r.output);
        assert.ok(
          receivedStatusLines(r.messages).every((s) => s.startsWith('401')),
          r.messages,
        );
      }
      const alerts = sw.logs().filter((l) => l.event === 'alert' && l.rule === 'distributed');
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]!.user, 'alice');
      assert.equal(alerts[0]!.sources, 10);
      assert.equal(alerts[0]!.locked, 'yes');
      assert.deepEqual(banLines(sw), [], 'one failure per address bans nobody');

      // An eleventh guesser is refused at once (403, no registrar involved).
      const eleventh = await register('127.22.1.11', 'guess-11', 'uac-register-guess.xml', join(dir, 'g11.log'));
      assert.deepEqual(receivedStatusLines(eleventh.messages), ['401 Unauthorized', '403 Forbidden']);
      // The real phone keeps working; a new address, even with the right password, is locked out.
      assert.equal((await register('127.22.1.100', 'alice-secret-1', 'uac-register-auth-user.xml')).successful, 1);
      const moved = await register('127.22.1.50', 'alice-secret-1', 'uac-register-guess.xml', join(dir, 'm.log'));
      assert.deepEqual(receivedStatusLines(moved.messages), ['401 Unauthorized', '403 Forbidden']);
      const refusals = sw.logs().filter((l) => l.guard === 'brute-force' && l.rule === 'distributed-lock');
      assert.equal(refusals.length, 2);
    } finally {
      await sw.stop();
      await kam.stop();
    }
  });
});
