import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { Phone, TinyPbx } from './dialogs.js';
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

/**
 * Ways around the fraud limits, sent for real through sipwarden to a stand-in PBX that answers
 * every call (test/watch/dialogs.ts).
 */
describe('fraud: evasions', () => {
  const PROXY = { ip: '127.104.5.2', port: 33001 };
  const setup = async (fraud: string) => {
    const pbx = await TinyPbx.start('127.104.5.1', 33000);
    const sw = await startSipwarden(
      `listen: [udp://${PROXY.ip}:${PROXY.port}]\n` +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.104.5.1:33000]\n    ping: false\n' +
        'log: {level: debug}\n' +
        `guards:\n  fraud:\n${fraud}`,
      { listeners: 1 },
    ).catch((err) => {
      pbx.close();
      throw err;
    });
    const events = (rule: string) => sw.logs().filter((l) => l.guard === 'fraud' && l.rule === rule);
    return { pbx, sw, events };
  };

  it('counts calls, not Call-IDs: five calls on one Call-ID with different From tags', async () => {
    const { pbx, sw, events } = await setup('    concurrent_calls: {block: 2}\n');
    const phone = await Phone.start('127.104.5.10', 33010, PROXY);
    try {
      const calls = [];
      for (const tag of ['t1', 't2', 't3', 't4', 't5']) {
        calls.push(
          await phone.call({ uri: 'sip:5551234@pbx.test', callId: 'one-call-id', fromTag: tag, user: 'alice' }),
        );
      }
      assert.deepEqual(
        calls.map((c) => c.answer?.status),
        [200, 200, 403, 403, 403],
      );
      assert.equal(pbx.received('INVITE').length, 2, 'the PBX saw the two admitted calls only');
      assert.equal(events('concurrent-calls').length, 3);
      assert.match(String(events('concurrent-calls')[0]!.detail), /^alice@sipwarden\.test: 3 \(to 5551234\)$/);

      // A BYE the PBX refuses (a dialog it does not know: wrong To tag) ends nothing.
      const first = calls[0]!.dialog!;
      const forged = await phone.inDialog('BYE', { ...first, toTag: 'made-up' });
      assert.equal(forged?.status, 481);
      const still = await phone.call({
        uri: 'sip:5551234@pbx.test',
        callId: 'one-call-id',
        fromTag: 't6',
        user: 'alice',
      });
      assert.equal(still.answer?.status, 403, 'two calls are still up');
      // The real BYE of the first call ends it: one more call on the same Call-ID gets through.
      assert.equal((await phone.inDialog('BYE', first))?.status, 200);
      const next = await phone.call({
        uri: 'sip:5551234@pbx.test',
        callId: 'one-call-id',
        fromTag: 't7',
        user: 'alice',
      });
      assert.equal(next.answer?.status, 200);
    } finally {
      phone.close();
      pbx.close();
      await sw.stop();
    }
  });

  it('counts calls placed one after another on one Call-ID and From tag', async () => {
    const { pbx, sw, events } = await setup('    calls_per_minute: {block: 2}\n');
    const phone = await Phone.start('127.104.5.11', 33011, PROXY);
    try {
      const statuses: Array<number | undefined> = [];
      let cseq = 1;
      for (let i = 0; i < 3; i++) {
        const c = await phone.call({
          uri: 'sip:5551234@pbx.test',
          callId: 'reused',
          fromTag: 'same',
          cseq,
          user: 'alice',
        });
        statuses.push(c.answer?.status);
        if (c.dialog !== undefined) {
          assert.equal((await phone.inDialog('BYE', c.dialog))?.status, 200);
          cseq = c.dialog.cseq + 1;
        }
      }
      assert.deepEqual(statuses, [200, 200, 403]);
      assert.equal(pbx.received('INVITE').length, 2);
      assert.equal(events('calls-per-minute').length, 1);
    } finally {
      phone.close();
      pbx.close();
      await sw.stop();
    }
  });

  it('refuses a number whose %-escapes do not decode, instead of comparing it as written', async () => {
    const { pbx, sw, events } = await setup('    deny_prefixes: ["+882", "00882"]\n');
    const phone = await Phone.start('127.104.5.12', 33012, PROXY);
    try {
      const numbers = ['%2B8821234567%FF', '%30%308821234567%C0', '%2B49301234%FE'];
      for (const [i, n] of numbers.entries()) {
        for (const user of ['alice', undefined]) {
          const c = await phone.call({ uri: `sip:${n}@pbx.test`, callId: `esc-${i}-${user}`, fromTag: 'a', user });
          assert.equal(c.answer?.status, 403, `${n} ${user ?? 'without credentials'}`);
          assert.equal(c.answer?.reason, 'Forbidden');
        }
      }
      assert.equal(pbx.received('INVITE').length, 0, 'none reached the PBX');
      assert.equal(events('undecodable-number').length, 6);
      // Decodable escapes are decoded, then compared: refused by prefix, or let through.
      const denied = await phone.call({ uri: 'sip:%30%30882-1234567@pbx.test', callId: 'esc-ok-1', fromTag: 'a' });
      assert.equal(denied.answer?.status, 403);
      assert.match(String(events('denied-prefix')[0]?.detail), /^008821234567 \(prefix 00882\)$/);
      const allowed = await phone.call({ uri: 'sip:%2B49301234@pbx.test', callId: 'esc-ok-2', fromTag: 'a' });
      assert.equal(allowed.answer?.status, 200);
    } finally {
      phone.close();
      pbx.close();
      await sw.stop();
    }
  });

  it('puts transfers (REFER) through the same prefix and rate rules as calls', async () => {
    const { pbx, sw, events } = await setup('    calls_per_minute: {block: 2}\n    deny_prefixes: ["+882", "00882"]\n');
    const phone = await Phone.start('127.104.5.13', 33013, PROXY);
    try {
      const { dialog } = await phone.call({ uri: 'sip:5551234@pbx.test', callId: 'xfer', fromTag: 'a', user: 'alice' });
      assert.ok(dialog, 'the call is up');
      const refer = (target: string) => phone.inDialog('REFER', dialog, [`Refer-To: ${target}`]);
      // Denied numbers, however written, with or without an attended-transfer Replaces.
      for (const target of [
        '<sip:+8821234567@pbx.test>',
        '<sip:%2B882-1234567@pbx.test;user=phone>',
        '<sip:008821234567@pbx.test?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>',
        '<tel:+8821234567>',
        '<sip:%2B8821234567%FF@pbx.test>',
      ]) {
        assert.equal((await refer(target))?.status, 403, target);
      }
      assert.equal(events('denied-prefix').length, 4);
      assert.equal(events('undecodable-number').length, 1);
      assert.equal(pbx.received('REFER').length, 0);
      // A transfer to an allowed number is a call placed by alice: the second in the minute passes,
      // the third is one too many (the REFER carries no credentials: it is counted for her call).
      assert.equal((await refer('<sip:5550001@pbx.test>'))?.status, 202);
      assert.equal((await refer('<sip:5550002@pbx.test>'))?.status, 403);
      assert.equal(events('calls-per-minute').length, 1);
      assert.match(String(events('calls-per-minute')[0]!.detail), /^alice@sipwarden\.test: 3 \(to 5550002\)$/);
      assert.equal(pbx.received('REFER').length, 1);
      // RFC 3515: exactly one Refer-To; two are refused, not guessed at.
      const two = await phone.inDialog('REFER', dialog, [
        'Refer-To: <sip:5550003@pbx.test>',
        'Refer-To: <sip:+8821@pbx.test>',
      ]);
      assert.equal(two?.status, 403);
      assert.equal(events('refer-to-count').length, 1);
    } finally {
      phone.close();
      pbx.close();
      await sw.stop();
    }
  });
});

/**
 * Calls sipwarden answers itself (no upstream target up) end there: they do not stay counted
 * as calls waiting for an answer, so a phone that retried through an outage is not refused
 * once the PBX is back.
 */
describe('fraud: calls answered 503 while no upstream is up', () => {
  it('do not count as concurrent calls once the PBX is back', async () => {
    const PBX = { ip: '127.104.6.1', port: 33020 };
    const PROXY6 = { ip: '127.104.6.2', port: 33021 };
    const sw = await startSipwarden(
      `listen: [udp://${PROXY6.ip}:${PROXY6.port}]\n` +
        'upstreams:\n  - name: pbx\n' +
        `    targets: [udp://${PBX.ip}:${PBX.port}]\n` +
        '    ping: { interval: 200ms, timeout: 100ms, failures: 1 }\n' +
        'guards:\n  fraud:\n    concurrent_calls: {block: 2}\n',
      { listeners: 1 },
    );
    const phone = await Phone.start('127.104.6.10', 33022, PROXY6);
    let pbx: TinyPbx | undefined;
    try {
      await waitFor(() => sw.logs().some((l) => l.event === 'upstream-down'), 'the target down', 5000);
      const during = [];
      for (let i = 0; i < 3; i++) {
        const c = await phone.call({ uri: 'sip:5551234@pbx.test', callId: `outage-${i}`, fromTag: 'a', user: 'alice' });
        during.push(c.answer?.status);
      }
      assert.deepEqual(during, [503, 503, 503]);

      pbx = await TinyPbx.start(PBX.ip, PBX.port);
      await waitFor(() => sw.logs().some((l) => l.event === 'upstream-up'), 'the target back', 5000);
      const after = [];
      for (let i = 0; i < 2; i++) {
        const c = await phone.call({ uri: 'sip:5551234@pbx.test', callId: `back-${i}`, fromTag: 'a', user: 'alice' });
        after.push(c.answer?.status);
      }
      assert.deepEqual(after, [200, 200], 'two calls up, as many as concurrent_calls allows');
      assert.deepEqual(
        sw.logs().filter((l) => l.guard === 'fraud'),
        [],
      );
    } finally {
      phone.close();
      pbx?.close();
      await sw.stop();
    }
  });
});
