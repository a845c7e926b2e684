import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sipp } from '../helpers/sipp.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { injectionFile, receivedStatusLines, runSipp } from './helpers.js';

/**
 * Toll-fraud limits on real calls: sipp UAC (INVITE with digest credentials) through
 * sipwarden to a sipp UAS.
 */
describe('fraud: per-user call limits and dial prefixes', () => {
  it('answers calls above calls_per_minute 403, warns at the warn threshold, refuses a denied prefix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-fraud-'));
    const sw = await startSipwarden(
      'listen: [udp://127.22.3.2:18751]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.22.3.1:18750]\n    ping: false\n' +
        'log: {level: debug}\n' +
        'guards:\n  fraud:\n    calls_per_minute: {warn: 3, block: 5}\n    deny_prefixes: ["+882", "00882"]\n',
      { listeners: 1 },
    );
    const uas = sipp({ scenario: 'uas-call.xml', ip: '127.22.3.1', port: 18750, calls: 5, timeoutSec: 30 });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const users = injectionFile(dir, 'users.csv', [['alice']]);
      const calls = await runSipp(
        {
          scenario: 'uac-invite-auth.xml',
          ip: '127.22.3.10',
          port: 18752,
          remote: '127.22.3.2:18751',
          calls: 8,
          rate: 10,
          timeoutSec: 20,
          extra: ['-inf', users, '-s', '5551234', '-l', '1', '-recv_timeout', '3000'],
        },
        join(dir, 'calls.log'),
      );
      // Five calls a minute are admitted, the sixth to eighth refused.
      assert.equal(calls.successful, 5, calls.output);
      assert.equal(calls.failed, 3, calls.output);
      assert.equal((await uas.result).successful, 5);
      const refused = receivedStatusLines(calls.messages).filter((s) => s.startsWith('403'));
      // (sipp's message log shows an unexpected answer twice: once received, once when it aborts the call.)
      assert.ok(refused.length >= 3 && refused.every((s) => s === '403 Forbidden'), refused.join('\n'));
      const warnings = sw.logs().filter((l) => l.event === 'alert' && l.guard === 'fraud');
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.rule, 'calls-per-minute');
      assert.equal(warnings[0]!.value, 4);
      assert.equal(warnings[0]!.user, 'alice@sipwarden.test');
      const blocked = sw
        .logs()
        .filter((l) => l.guard === 'fraud' && l.rule === 'calls-per-minute' && l.action === 'reply');
      assert.equal(blocked.length, 3);

      // A premium-rate number is refused whoever calls, before any limit.
      const bob = injectionFile(dir, 'bob.csv', [['bob']]);
      const premium = await runSipp(
        {
          scenario: 'uac-invite-auth.xml',
          ip: '127.22.3.11',
          port: 18753,
          remote: '127.22.3.2:18751',
          calls: 1,
          timeoutSec: 10,
          extra: ['-inf', bob, '-s', '%2B882-1234567', '-recv_timeout', '3000'],
        },
        join(dir, 'premium.log'),
      );
      assert.equal(premium.failed, 1, premium.output);
      assert.ok(
        receivedStatusLines(premium.messages).every((s) => s === '403 Forbidden'),
        premium.messages,
      );
      const denied = sw.logs().find((l) => l.guard === 'fraud' && l.rule === 'denied-prefix');
      assert.ok(denied, 'denied-prefix event');
      assert.match(String(denied.detail), /^\+8821234567 \(prefix \+882\)$/);
    } finally {
      uas.run.signal('SIGTERM');
      await sw.stop();
    }
  });
});
