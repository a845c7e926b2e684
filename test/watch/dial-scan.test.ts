import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startKamailio } from '../helpers/kamailio.js';
import { start, waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { Phone } from './dialogs.js';
import { banLines, injectionFile, listBans, receivedStatusLines, runSipp } from './helpers.js';

/** Scanning for extensions and users through sipwarden, against a real Kamailio registrar. */
describe('dial_scan and username enumeration against a real Kamailio', () => {
  it('bans SIPVicious svwar (INVITE) after max_destinations refused extensions', async () => {
    const kam = await startKamailio({ ip: '127.22.0.1', port: 18700, users: [] });
    // The scanner guard would ban svwar by its User-Agent at once: out of the way here. So is
    // normalize_not_found, which stops svwar sooner (next test): here it sees the 404s.
    const sw = await startSipwarden(
      'listen: [udp://127.22.0.2:18701]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.22.0.1:18700]\n    ping: false\n' +
        'guards:\n  chain: [acl, bans, flood, sanity, brute_force, dial_scan, fraud]\n' +
        '  brute_force: {normalize_not_found: false}\n',
      { listeners: 1 },
    );
    try {
      // svwar sends from 127.0.0.1 whatever it binds.
      const war = start('timeout', [
        '30',
        'svwar',
        '-m',
        'INVITE',
        '-e',
        '100-160',
        '-P',
        '18702',
        '-vv',
        'udp://127.22.0.2:18701',
      ]);
      await waitFor(() => banLines(sw).length > 0, 'the ban', 20_000);
      await war.exited;
      assert.deepEqual(banLines(sw), ['Blocking traffic from 127.0.0.1 guard=dial-scan rule=destinations for 3600s']);
      const ban = sw.logs().find((l) => l.event === 'ban')!;
      // svwar's first INVITE probes a random extension; then 100, 101, ... : the eleventh refused one bans.
      assert.match(String(ban.detail), /^11 refused destinations within 60s, last \d+$/);
      assert.deepEqual(
        listBans(sw).map((b) => [b.target, b.guard]),
        [['127.0.0.1', 'dial-scan']],
      );
      assert.doesNotMatch(war.output(), /\| 1[0-9]{2} /, 'svwar reports no extension');
    } finally {
      await sw.stop();
      await kam.stop();
    }
  });

  it('SIPVicious svwar learns nothing when the 404s go out as 403: it gives up', async () => {
    const kam = await startKamailio({ ip: '127.104.8.1', port: 33200, users: [] });
    const sw = await startSipwarden(
      'listen: [udp://127.104.8.2:33201]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.104.8.1:33200]\n    ping: false\n' +
        'guards:\n  chain: [acl, bans, flood, sanity, brute_force, dial_scan, fraud]\n',
      { listeners: 1 },
    );
    try {
      const svwar = (...extra: string[]) =>
        start('timeout', [
          '30',
          'svwar',
          ...extra,
          '-m',
          'INVITE',
          '-e',
          '100-160',
          '-P',
          '33202',
          '-vv',
          'udp://127.104.8.2:33201',
        ]);
      // Its first probe, a random extension, is answered like a wrong password: it stops.
      const plain = svwar();
      await plain.exited;
      assert.match(plain.output(), /authentication request for an unknown extension/);
      // Forced on, it takes the next 403 for a response it does not know, and stops too.
      const forced = svwar('--force');
      await forced.exited;
      assert.match(forced.output(), /found nothing/);
      assert.doesNotMatch(forced.output(), /\| 1[0-9]{2} /, 'svwar reports no extension');
      assert.doesNotMatch(plain.output() + forced.output(), /404 Not Found/);
    } finally {
      await sw.stop();
      await kam.stop();
    }
  });

  it('answers a REGISTER for an unknown user as a wrong password (403), and counts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-enum-'));
    const kam = await startKamailio({
      ip: '127.22.0.1',
      port: 18720,
      users: [{ username: 'alice', password: 'alice-secret-1' }],
    });
    const sw = await startSipwarden(
      'listen: [udp://127.22.0.2:18721]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.22.0.1:18720]\n    ping: false\n',
      { listeners: 1 },
    );
    try {
      const users = injectionFile(dir, 'users.csv', [['mallory']]);
      const r = await runSipp(
        {
          scenario: 'uac-register-guess.xml',
          ip: '127.22.0.40',
          port: 18722,
          remote: '127.22.0.2:18721',
          calls: 3,
          timeoutSec: 15,
          extra: ['-inf', users, '-au', 'mallory', '-ap', 'wrong', '-l', '1', '-recv_timeout', '2000'],
        },
        join(dir, 'enum.log'),
      );
      // Kamailio answers 404 for mallory (no such subscriber): on the outside it is the 403
      // of a wrong password, and the third one bans like three wrong passwords.
      assert.deepEqual(receivedStatusLines(r.messages), [
        '401 Unauthorized',
        '403 Forbidden',
        '401 Unauthorized',
        '403 Forbidden',
        '401 Unauthorized',
        '403 Try later',
      ]);
      assert.equal(r.successful, 3, r.output);
      assert.deepEqual(banLines(sw), ['Blocking traffic from 127.22.0.40 guard=brute-force rule=failures for 3600s']);
    } finally {
      await sw.stop();
      await kam.stop();
    }
  });
});

/**
 * Username enumeration through every method that names a user, against a Kamailio that
 * answers those methods `401` for a subscriber and `404` for anyone else.
 */
describe('enumeration through SUBSCRIBE and the other methods that name a user', () => {
  const KAM = { ip: '127.104.7.1', port: 33100 };
  const PROXY = { ip: '127.104.7.2', port: 33101 };
  const setup = async () => {
    const kam = await startKamailio({
      ...KAM,
      users: [
        { username: 'alice', password: 'alice-secret-1' },
        { username: '105', password: 'secret-105' },
      ],
      userMethods: 'SUBSCRIBE|NOTIFY|PUBLISH|REFER|MESSAGE|OPTIONS|INVITE',
    });
    const sw = await startSipwarden(
      `listen: [udp://${PROXY.ip}:${PROXY.port}]\n` +
        `upstreams:\n  - name: pbx\n    targets: [udp://${KAM.ip}:${KAM.port}]\n    ping: false\n` +
        'log: {level: debug}\n',
      { listeners: 1 },
    ).catch(async (err) => {
      await kam.stop();
      throw err;
    });
    return { kam, sw };
  };
  const EXTRA: Record<string, string[]> = {
    SUBSCRIBE: ['Event: presence', 'Expires: 60'],
    NOTIFY: ['Event: presence', 'Subscription-State: active'],
    PUBLISH: ['Event: presence', 'Expires: 60'],
    REFER: ['Refer-To: <sip:5550001@sipwarden.test>'],
  };
  /** One probe per user; the answers' status lines (`-` for no answer: after one, wait less). */
  const probe = async (phone: Phone, method: string, users: string[], ms = 2000) => {
    const answers: string[] = [];
    let wait = ms;
    for (const [i, user] of users.entries()) {
      const a = await phone.request({
        method,
        uri: `sip:${user}@sipwarden.test`,
        callId: `${method}-${phone.port}-${i}`,
        fromTag: `p${i}`,
        cseq: 1,
        extra: EXTRA[method],
        ms: wait,
      });
      if (a === undefined) wait = Math.min(wait, 250);
      answers.push(a === undefined ? '-' : `${a.status} ${a.reason}`);
    }
    return answers;
  };

  it('SUBSCRIBE probes: no 404 gets out, and the prober is banned', async () => {
    const { kam, sw } = await setup();
    const phone = await Phone.start('127.104.7.10', 33110, PROXY);
    try {
      // 42 extensions, 100 to 141: 105 exists.
      const users = Array.from({ length: 42 }, (_, i) => String(100 + i));
      const answers = await probe(phone, 'SUBSCRIBE', users, 800);
      assert.ok(!answers.some((a) => a.startsWith('404')), answers.join('\n'));
      // Unknown users are answered as a wrong password is; the known one is challenged by the PBX.
      assert.deepEqual(answers.slice(0, 5), Array(5).fill('403 Forbidden'));
      assert.equal(answers[5], '407 Proxy Authentication Required');
      // The eleventh refused user bans the source (the twelfth probe, counting 105); then silence.
      assert.deepEqual(answers.slice(6, 12), Array(6).fill('403 Forbidden'));
      assert.deepEqual(answers.slice(12), Array(30).fill('-'));
      assert.deepEqual(banLines(sw), [
        'Blocking traffic from 127.104.7.10 guard=dial-scan rule=destinations for 3600s',
      ]);
      assert.deepEqual(
        listBans(sw).map((b) => [b.target, b.guard]),
        [['127.104.7.10', 'dial-scan']],
      );
    } finally {
      phone.close();
      await sw.stop();
      await kam.stop();
    }
  });

  it('OPTIONS, MESSAGE, NOTIFY, REFER, PUBLISH and INVITE to unknown users: 403, then a ban', async () => {
    const { kam, sw } = await setup();
    const methods = ['OPTIONS', 'MESSAGE', 'NOTIFY', 'REFER', 'PUBLISH', 'INVITE'];
    try {
      for (const [i, method] of methods.entries()) {
        const ip = `127.104.7.${20 + i}`;
        const phone = await Phone.start(ip, 33120 + i, PROXY);
        try {
          const users = Array.from({ length: 12 }, (_, k) => `nobody${k}`);
          const answers = await probe(phone, method, users, 800);
          assert.deepEqual(answers, [...Array(11).fill('403 Forbidden'), '-'], `${method}: ${answers.join(', ')}`);
          assert.ok(
            banLines(sw).includes(`Blocking traffic from ${ip} guard=dial-scan rule=destinations for 3600s`),
            `${method} prober banned`,
          );
        } finally {
          phone.close();
        }
      }
    } finally {
      await sw.stop();
      await kam.stop();
    }
  });

  it('a 404 to credentials the source authenticated with is a wrong number, not a wrong password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-enum-'));
    const { kam, sw } = await setup();
    const phone = await Phone.start('127.104.7.30', 33130, PROXY);
    const stranger = await Phone.start('127.104.7.31', 33131, PROXY);
    try {
      // The real phone registers from 127.104.7.30: known good for alice there.
      const users = injectionFile(dir, 'users.csv', [['alice']]);
      const reg = await runSipp({
        scenario: 'uac-register-auth-user.xml',
        ip: '127.104.7.30',
        port: 33132,
        remote: `${PROXY.ip}:${PROXY.port}`,
        calls: 1,
        timeoutSec: 10,
        extra: ['-inf', users, '-au', 'alice', '-ap', 'alice-secret-1'],
      });
      assert.equal(reg.successful, 1, reg.output);
      // It sends four messages with its credentials to extensions that do not exist.
      const send = (p: Phone, i: number) =>
        p.request({
          method: 'MESSAGE',
          uri: `sip:90${i}@sipwarden.test`,
          callId: `msg-${p.port}-${i}`,
          fromTag: `m${i}`,
          cseq: 1,
          user: 'alice',
          ms: 1000,
        });
      const own: Array<string | undefined> = [];
      for (let i = 0; i < 4; i++) own.push((await send(phone, i))?.reason);
      assert.deepEqual(own, ['Forbidden', 'Forbidden', 'Forbidden', 'Forbidden']);
      assert.deepEqual(banLines(sw), [], 'four wrong numbers ban no phone');
      // The same answers to a source that never authenticated as alice are failed guesses.
      const other: Array<string | undefined> = [];
      for (let i = 0; i < 4; i++) other.push((await send(stranger, i))?.reason);
      assert.deepEqual(other, ['Forbidden', 'Forbidden', 'Try later', undefined]);
      assert.deepEqual(banLines(sw), ['Blocking traffic from 127.104.7.31 guard=brute-force rule=failures for 3600s']);
    } finally {
      phone.close();
      stranger.close();
      await sw.stop();
      await kam.stop();
    }
  });
});
