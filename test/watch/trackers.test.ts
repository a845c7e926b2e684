import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromString } from '../../src/config/index.js';
import type { SecurityEvent } from '../../src/core/events.js';
import { EventBus } from '../../src/core/events.js';
import { BanPolicy } from '../../src/guards/ban-policy.js';
import { AuthFailureTracker } from '../../src/guards/brute-force/auth-failures.js';
import { BruteForceGuard } from '../../src/guards/brute-force/brute-force.js';
import { DialScanTracker } from '../../src/guards/dial-scan/tracker.js';
import { attemptId, dialogId, FraudTracker, normalizeNumber } from '../../src/guards/fraud/tracker.js';
import { parseMessage } from '../../src/sip/parser.js';
import { MessageWriter } from '../../src/sip/writer.js';
import { DistinctWindow, EventTimes, LruMap } from '../../src/watch/bounded.js';
import { Reporter } from '../../src/watch/report.js';
import { TransactionTable } from '../../src/watch/transactions.js';
import { rewriteAnswer, TransactionWatch } from '../../src/watch/watch.js';

const auth = (over: Partial<ConstructorParameters<typeof AuthFailureTracker>[0]> = {}) =>
  new AuthFailureTracker({
    maxFailures: 3,
    window: 60_000,
    maxEntries: 100,
    distributed: { sources: 3, window: 60_000, lock: true, lockDuration: 30_000 },
    ...over,
  });

describe('bounded tables', () => {
  it('LruMap evicts the least recently touched entry at its cap', () => {
    const m = new LruMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.touch('a');
    m.set('c', 3);
    assert.equal(m.peek('b'), undefined);
    assert.equal(m.peek('a'), 1);
    assert.equal(m.size, 2);
  });

  it('EventTimes counts only events within the window', () => {
    const t = new EventTimes(3);
    t.add(0);
    t.add(500);
    t.add(900);
    assert.equal(t.count(1000, 1000), 2);
    t.add(1000);
    assert.equal(t.count(1000, 10_000), 3, 'the ring keeps the newest three');
  });

  it('DistinctWindow counts distinct items, expires old ones and stays at its cap', () => {
    const d = new DistinctWindow(3);
    assert.equal(d.add('a', 0, 100), 1);
    assert.equal(d.add('a', 10, 100), 1);
    assert.equal(d.add('b', 20, 100), 2);
    assert.equal(d.add('c', 30, 100), 3);
    assert.equal(d.add('d', 40, 100), 3, 'capped');
    assert.equal(d.count(125, 100), 2, 'a and b expired');
  });
});

describe('TransactionTable', () => {
  it('expires entries after the timeout and evicts the oldest at its cap', () => {
    const t = new TransactionTable(2, 32_000);
    t.add('b1', 0).method = 'REGISTER';
    assert.equal(t.get('b1', 31_999)?.method, 'REGISTER');
    assert.equal(t.get('b1', 32_000), undefined);
    t.add('b2', 40_000);
    t.add('b3', 40_001);
    t.add('b4', 40_002);
    assert.equal(t.get('b2', 40_003), undefined);
    assert.equal(t.size, 2);
  });
});

describe('AuthFailureTracker', () => {
  it('bans at max_failures within the window, not when failures are older', () => {
    const a = auth();
    assert.equal(a.failure('192.0.2.1', 'alice', 'r', 0).ban, false);
    assert.equal(a.failure('192.0.2.1', 'alice', 'r', 1000).ban, false);
    assert.equal(a.failure('192.0.2.1', 'alice', 'r', 70_000).ban, false, 'the first two are outside the window');
    assert.equal(a.failure('192.0.2.1', 'bob', 'r', 71_000).ban, false);
    const o = a.failure('192.0.2.1', 'carol', 'r', 72_000);
    assert.equal(o.ban, true);
    assert.equal(o.sourceFailures, 3);
    assert.equal(a.failuresOf('192.0.2.1', 72_000), 0, 'starts afresh after the ban');
  });

  it('a success forgets the source failures for that user only, and marks it known good', () => {
    const a = auth();
    a.failure('192.0.2.1', 'alice', 'r', 0);
    a.failure('192.0.2.1', 'bob', 'r', 1);
    a.success('192.0.2.1', 'alice', 'r', 2);
    assert.equal(a.failuresOf('192.0.2.1', 3), 1, "bob's failure stays");
    assert.equal(a.isKnownGood('192.0.2.1', 'alice', 'r'), true);
    assert.equal(a.isKnownGood('192.0.2.1', 'bob', 'r'), false);
    assert.equal(a.failure('192.0.2.1', 'alice', 'r', 4).ban, false, 'two failures within the window now');
  });

  it('distributed: alerts once per window and locks the user for new sources only', () => {
    const a = auth({ maxFailures: 10 });
    a.success('192.0.2.100', 'alice', 'r', 0);
    assert.equal(a.failure('192.0.2.1', 'alice', 'r', 1).distributed, false);
    assert.equal(a.failure('192.0.2.2', 'alice', 'r', 2).distributed, false);
    const o = a.failure('192.0.2.3', 'alice', 'r', 3);
    assert.equal(o.distributed, true);
    assert.equal(o.userSources, 3);
    assert.equal(a.failure('192.0.2.4', 'alice', 'r', 4).distributed, false, 'once per window');
    assert.equal(a.isRefused('192.0.2.9', 'alice', 'r', 5), true);
    assert.equal(a.isRefused('192.0.2.100', 'alice', 'r', 5), false, 'known good');
    assert.equal(a.isRefused('192.0.2.9', 'bob', 'r', 5), false, 'other users');
    assert.equal(a.isRefused('192.0.2.9', 'alice', 'r', 30_004), false, 'lock over');
    assert.equal(a.lockedUsers, 0);
  });

  it('stays within max_entries under a rotating attacker', () => {
    const a = auth({ maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) a.failure(`10.0.${i >> 8}.${i & 255}`, `u${i}`, 'r', i);
    assert.ok(a.trackedSources <= 100 && a.trackedSources >= 50);
    assert.ok(a.trackedUsers <= 100 && a.trackedUsers >= 50);
  });
});

describe('DialScanTracker', () => {
  it('counts distinct destinations per source within the window, bounded', () => {
    const d = new DialScanTracker({ window: 60_000, maxDestinations: 3, maxSources: 2 });
    d.refused('a', '100', 0);
    d.refused('a', '100', 1);
    d.refused('a', '101', 2);
    assert.equal(d.refused('a', '102', 3), 3);
    assert.equal(d.refused('a', '103', 4), 4);
    assert.equal(d.refused('a', '104', 5), 4, 'at most max_destinations + 1 kept');
    assert.equal(d.count('a', 70_000), 0, 'window over');
    d.refused('b', '1', 0);
    d.refused('c', '1', 0);
    assert.equal(d.trackedSources, 2);
  });
});

describe('FraudTracker', () => {
  const settings = {
    callsPerMinute: { warn: 2, block: 3 },
    concurrentCalls: { warn: 0, block: 2 },
    repeatedCalls: { warn: 0, block: 0, window: 3_600_000 },
    maxCallDuration: 10_000,
    maxUsers: 100,
  };

  /** One INVITE attempt: Call-ID `c`, From tag `t`, CSeq 1 unless given. */
  const call = (f: FraudTracker, dest: string, c: string, now: number, cseq = 1, t = 'a') =>
    f.newCall('u', dest, attemptId(c, t, '', 'INVITE'), cseq, true, now);

  it('calls per minute: warns past warn, blocks past block, counts a retransmission once', () => {
    const f = new FraudTracker({ ...settings, concurrentCalls: { warn: 0, block: 0 } });
    assert.equal(call(f, '1', 'c1', 0).level, 'ok');
    assert.equal(call(f, '1', 'c1', 1).level, 'ok', 'same request again');
    assert.equal(call(f, '1', 'c2', 2).level, 'ok');
    const w = call(f, '1', 'c3', 3);
    assert.deepEqual({ ...w }, { level: 'warn', rule: 'calls-per-minute', value: 3 });
    assert.equal(call(f, '1', 'c4', 4).level, 'block');
    assert.equal(call(f, '1', 'c5', 60_004).level, 'ok', 'a minute after the last admitted call');
  });

  it('counts calls, not Call-IDs: several From tags or CSeqs on one Call-ID are several calls', () => {
    const f = new FraudTracker({ ...settings, concurrentCalls: { warn: 0, block: 0 } });
    assert.equal(call(f, '1', 'c1', 0, 1, 'a').level, 'ok');
    assert.equal(call(f, '1', 'c1', 1, 1, 'b').level, 'ok');
    assert.equal(call(f, '1', 'c1', 2, 1, 'c').level, 'warn');
    assert.equal(call(f, '1', 'c1', 3, 1, 'd').rule, 'calls-per-minute', 'fourth From tag on one Call-ID');
    // A new INVITE on the same Call-ID and From tag while the first is pending, or after it was answered.
    const g = new FraudTracker({ ...settings, concurrentCalls: { warn: 0, block: 0 } });
    const id = attemptId('c1', 'a', '', 'INVITE');
    assert.equal(call(g, '1', 'c1', 0, 1).level, 'ok');
    assert.equal(call(g, '1', 'c1', 1, 2).level, 'ok');
    g.attemptAnswered('u', id, 2, 200);
    assert.equal(call(g, '1', 'c1', 2, 3).level, 'warn', 'third call on the same identifiers');
  });

  it('a retry after a challenge is the same call', () => {
    const f = new FraudTracker({
      ...settings,
      callsPerMinute: { warn: 0, block: 1 },
      concurrentCalls: { warn: 0, block: 0 },
    });
    const id = attemptId('c1', 'a', '', 'INVITE');
    assert.equal(call(f, '1', 'c1', 0, 2).level, 'ok');
    f.attemptAnswered('u', id, 2, 407);
    assert.equal(call(f, '1', 'c1', 1, 3).level, 'ok', 'retry with new credentials');
    f.attemptAnswered('u', id, 3, 200);
    assert.equal(call(f, '1', 'c1', 2, 4).rule, 'calls-per-minute', 'a new call after the answer');
  });

  it('concurrent calls: pending INVITEs and confirmed dialogs count, BYE ends, max_call_duration forgets', () => {
    const f = new FraudTracker({ ...settings, callsPerMinute: { warn: 0, block: 0 } });
    call(f, '1', 'c1', 0);
    assert.equal(call(f, '1', 'c2', 1).level, 'ok');
    assert.equal(call(f, '1', 'c3', 1).rule, 'concurrent-calls', 'two INVITEs still ringing');
    f.attemptAnswered('u', attemptId('c1', 'a', '', 'INVITE'), 1, 200);
    f.callStarted('u', dialogId('c1', 'a', 'x'), 2);
    f.attemptAnswered('u', attemptId('c2', 'a', '', 'INVITE'), 1, 200);
    f.callStarted('u', dialogId('c2', 'a', 'y'), 2);
    assert.equal(call(f, '1', 'c3', 2).rule, 'concurrent-calls');
    f.callEnded(dialogId('c1', 'x', 'a'));
    assert.equal(call(f, '1', 'c3', 3).level, 'ok');
    f.attemptAnswered('u', attemptId('c3', 'a', '', 'INVITE'), 1, 200);
    f.callStarted('u', dialogId('c3', 'a', 'z'), 3);
    assert.equal(f.activeCalls('u', 10_001), 2);
    assert.equal(f.activeCalls('u', 10_002), 1, 'c2 forgotten after max_call_duration');
    // Two dialogs from one INVITE (forked 2xx) are two calls up.
    f.callStarted('u', dialogId('c3', 'a', 'z2'), 10_002);
    assert.equal(f.activeCalls('u', 10_002), 2);
  });

  it('a REFER counts as a call placed, not as a call up', () => {
    const f = new FraudTracker({
      ...settings,
      callsPerMinute: { warn: 0, block: 2 },
      concurrentCalls: { warn: 0, block: 1 },
    });
    call(f, '1', 'c1', 0);
    f.attemptAnswered('u', attemptId('c1', 'a', '', 'INVITE'), 1, 200);
    f.callStarted('u', dialogId('c1', 'a', 'x'), 0);
    const refer = (cseq: number, now: number) =>
      f.newCall('u', '9', attemptId('c1', 'a', 'x', 'REFER'), cseq, false, now);
    assert.equal(refer(2, 1).level, 'ok', 'one call up does not stop a transfer');
    assert.equal(refer(2, 2).level, 'ok', 'retransmission');
    f.attemptAnswered('u', attemptId('c1', 'a', 'x', 'REFER'), 2, 202);
    assert.equal(refer(3, 3).rule, 'calls-per-minute', 'a second transfer in the minute');
    assert.equal(f.ownerOf(dialogId('c1', 'x', 'a')), 'u');
  });

  it('repeated calls to one number', () => {
    const f = new FraudTracker({
      ...settings,
      callsPerMinute: { warn: 0, block: 0 },
      concurrentCalls: { warn: 0, block: 0 },
      repeatedCalls: { warn: 1, block: 2, window: 1000 },
    });
    assert.equal(call(f, '5', 'a', 0).level, 'ok');
    assert.equal(call(f, '5', 'b', 1).level, 'warn');
    assert.equal(call(f, '6', 'c', 2).level, 'ok');
    assert.equal(call(f, '5', 'd', 3).rule, 'repeated-calls');
    assert.equal(call(f, '5', 'e', 1002).level, 'ok');
  });

  it('normalises dialled numbers, and refuses to guess at undecodable ones', () => {
    assert.equal(normalizeNumber('%2B882-12.34 (5)'), '+88212345');
    assert.equal(normalizeNumber('%30%30882'), '00882');
    assert.equal(normalizeNumber('J%C3%BCrgen'), 'Jürgen');
    for (const bad of [
      '%zz',
      '%2',
      '12%',
      '%2B8821234567%FF',
      '%30%308821234567%C0',
      '%00123',
      '12%0A3',
      '+88\u00e9',
    ]) {
      assert.equal(normalizeNumber(bad), undefined, bad);
    }
  });
});

describe('TransactionWatch with the brute_force guard', () => {
  const config = loadConfigFromString(
    'listen: [udp://127.0.0.1:5060]\nupstreams: [{name: p, targets: [udp://127.0.0.1:5070], ping: false}]\n',
    'x.yaml',
  );
  const register = (cseq: number, auth: boolean) =>
    parseMessage(
      Buffer.from(
        `REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK${cseq}\r\n` +
          'From: <sip:alice@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\nCall-ID: c1\r\n' +
          `CSeq: ${cseq} REGISTER\r\nMax-Forwards: 70\r\n` +
          (auth
            ? 'Authorization: Digest username="alice", realm="example.test", nonce="n", uri="sip:example.test", response="00"\r\n'
            : '') +
          'Content-Length: 0\r\n\r\n',
      ),
    );
  const answer = (cseq: number, status: string, extra = '') =>
    parseMessage(
      Buffer.from(
        `SIP/2.0 ${status}\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-sw${cseq}\r\n` +
          `Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK${cseq}\r\n` +
          'From: <sip:alice@example.test>;tag=1\r\nTo: <sip:alice@example.test>;tag=up\r\nCall-ID: c1\r\n' +
          `CSeq: ${cseq} REGISTER\r\n${extra}Content-Length: 0\r\n\r\n`,
      ),
    );
  const source = { transport: 'udp' as const, address: '192.0.2.7', port: 5060, family: 4 as const };

  it('counts credentialed 401s, ignores stale challenges, rewrites the third into 403 Try later', () => {
    const events: SecurityEvent[] = [];
    const stream = new EventBus();
    stream.onDecision((e) => events.push(e));
    const reporter = new Reporter({
      events: stream,
      store: undefined,
      log: { warn() {} },
      isExempt: () => false,
      policy: () => BanPolicy.DEFAULT,
    });
    const guard = new BruteForceGuard(config.guards.bruteForce, reporter);
    let now = 1000;
    const watch = new TransactionWatch(100, () => now);
    watch.setWatchers([guard]);
    const round = (cseq: number, auth: boolean, status: string, extra = '') => {
      watch.request(register(cseq, auth), source, `z9hG4bK-sw${cseq}`);
      const res = answer(cseq, status, extra);
      const w = new MessageWriter(res).removeFirstElement(res.viaAt);
      watch.response(res, `z9hG4bK-sw${cseq}`, w);
      now += 10;
      return w.toBuffer().toString('latin1');
    };
    assert.match(round(1, false, '401 Unauthorized'), /^SIP\/2.0 401/, 'no credentials: not a failure');
    assert.match(
      round(2, true, '401 Unauthorized', 'WWW-Authenticate: Digest realm="r", nonce="x", stale=true\r\n'),
      /^SIP\/2.0 401/,
    );
    assert.equal(guard.tracker.failuresOf('192.0.2.7', now), 0, 'stale nonce: not a failure');
    round(3, true, '401 Unauthorized', 'WWW-Authenticate: Digest realm="r", nonce="x"\r\n');
    round(4, true, '403 Forbidden');
    const third = round(5, true, '401 Unauthorized', 'WWW-Authenticate: Digest realm="r", nonce="x"\r\n');
    assert.match(third, /^SIP\/2.0 403 Try later\r\n/);
    assert.doesNotMatch(third, /WWW-Authenticate/);
    assert.match(third, /\r\nTo: <sip:alice@example.test>;tag=up\r\n/, 'the upstream To tag is kept');
    assert.doesNotMatch(third, /z9hG4bK-sw5/, "sipwarden's Via is gone");
    assert.match(third, /Content-Length: 0\r\n\r\n$/);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.action, 'ban');
    assert.equal(events[0]!.guard, 'brute-force');
    assert.equal(watch.table.size, 0, 'entries go after the final answer');
  });

  it('a 2xx after credentials resets the source count for the user', () => {
    const reporter = new Reporter({
      events: new EventBus(),
      store: undefined,
      log: { warn() {} },
      isExempt: () => false,
      policy: () => BanPolicy.DEFAULT,
    });
    const guard = new BruteForceGuard(config.guards.bruteForce, reporter);
    const now = 0;
    guard.recordFailure(source, 'alice', 'example.test', now);
    guard.recordFailure(source, 'alice', 'example.test', now);
    guard.recordSuccess(source, 'alice', 'example.test', now);
    assert.equal(guard.tracker.failuresOf('192.0.2.7', now), 0);
    assert.equal(guard.tracker.isKnownGood('192.0.2.7', 'alice', 'example.test'), true);
    assert.equal(guard.recordFailure(source, 'alice', 'example.test', now), undefined, 'one failure only now');
  });

  it('rewriteAnswer keeps only the headers a reply needs', () => {
    const res = answer(9, '404 Not Found', 'Server: pbx\r\n');
    const w = new MessageWriter(res).removeFirstElement(res.viaAt);
    rewriteAnswer(w, res, { code: 403, reason: 'Forbidden', headers: ['Retry-After: 60'] });
    const out = w.toBuffer().toString('latin1');
    assert.match(out, /^SIP\/2.0 403 Forbidden\r\n/);
    assert.doesNotMatch(out, /Server:/);
    assert.match(out, /Retry-After: 60\r\n/);
  });
});
