import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startKamailio } from '../helpers/kamailio.js';
import { start, waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { banLines, injectionFile, listBans, receivedStatusLines, runSipp } from './helpers.js';

/** Scanning for extensions and users through sipwarden, against a real Kamailio registrar. */
describe('dial_scan and username enumeration against a real Kamailio', () => {
  it('bans SIPVicious svwar (INVITE) after max_destinations refused extensions', async () => {
    const kam = await startKamailio({ ip: '127.22.0.1', port: 18700, users: [] });
    // The scanner guard would ban svwar by its User-Agent at once: out of the way here.
    const sw = await startSipwarden(
      'listen: [udp://127.22.0.2:18701]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.22.0.1:18700]\n    ping: false\n' +
        'guards:\n  chain: [acl, bans, flood, sanity, brute_force, dial_scan, fraud]\n',
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
