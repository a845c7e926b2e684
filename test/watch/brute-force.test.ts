import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startKamailio } from '../helpers/kamailio.js';
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
        scenario: 'uac-register-auth.xml',
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
});
