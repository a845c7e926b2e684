/**
 * One source, one ban, for every guard: the BanPolicy (`sources.*`, `guards.never_ban`) with
 * the real guards, trackers, ban store and event log. Addresses of one IPv6 /64 other than
 * ::1 cannot be bound on the host's loopback: this file drives the real guard objects with
 * them (the network-namespace tests in ipv6-sources.test.ts send them over real sockets).
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { loadConfigFromString } from '../../src/config/index.js';
import type { SecurityEvent } from '../../src/core/events.js';
import { EventBus } from '../../src/core/events.js';
import type { Source } from '../../src/core/verdict.js';
import { BanPolicy } from '../../src/guards/ban-policy.js';
import { BruteForceGuard } from '../../src/guards/brute-force/brute-force.js';
import { GuardBuilder } from '../../src/guards/build.js';
import { DialScanGuard } from '../../src/guards/dial-scan/dial-scan.js';
import { ScannerGuard } from '../../src/guards/scanner/scanner.js';
import { Honeypot } from '../../src/honeypot/honeypot.js';
import { MemoryAttackStore } from '../../src/honeypot/records.js';
import { SourceKeys } from '../../src/net/index.js';
import type { Peer } from '../../src/net/peer.js';
import { logEvents } from '../../src/ops/event-log.js';
import { parseMessage } from '../../src/sip/parser.js';
import { MemoryBanStore } from '../../src/store/memory.js';
import { Reporter } from '../../src/watch/report.js';
import { WatchedRequest } from '../../src/watch/transactions.js';
import { options } from '../helpers/udp.js';

const BASE = ['listen: [udp://127.0.0.1:31300]', 'upstreams: [{ name: pbx, targets: [udp://127.0.0.1:31301] }]'];

function config(...lines: string[]) {
  return loadConfigFromString([...BASE, ...lines, ''].join('\n'), 'test.yaml', {}, { cwd: tmpdir(), env: {} });
}

function src(address: string): Source {
  return { transport: 'udp', address, port: 5060, family: address.includes(':') ? 6 : 4 };
}

/** A registrar's 404 (no such user). */
function notFound() {
  const text = [
    'SIP/2.0 404 Not Found',
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-sw1',
    'From: <sip:200@example.com>;tag=a',
    'To: <sip:201@example.com>;tag=b',
    'Call-ID: d1@test',
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text));
}

/** Now, for bans that must not be expired already. */
const T = Date.now();

const IDENTITY = { isOwnHost: () => false, isTrusted: () => false };
const SILENT = { info() {}, warn() {}, debug() {} };

describe('BanPolicy: what a ban covers', () => {
  it('IPv6 by /64 and IPv4 by address by default; a neighbour is the same source', () => {
    const p = BanPolicy.DEFAULT;
    assert.equal(p.keyOf('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(p.keyOf('2001:DB8:1:2:ffff::9'), '2001:db8:1:2::/64');
    assert.equal(p.keyOf('2001:db8:1:3::1'), '2001:db8:1:3::/64');
    assert.equal(p.keyOf('192.0.2.7'), '192.0.2.7');
    assert.equal(p.keyOf('::ffff:192.0.2.7'), '192.0.2.7');
    assert.deepEqual(p.target('2001:db8:1:2::1', undefined), { target: '2001:db8:1:2::/64', note: '' });
    assert.deepEqual(p.target('192.0.2.7', undefined), { target: '192.0.2.7', note: '' });
  });

  it('follows sources.*: /24 and /56, or /128 for each address', () => {
    const p = new BanPolicy({ ipv4Prefix: 24, ipv6Prefix: 56 }, []);
    assert.equal(p.target('198.51.100.9', undefined).target, '198.51.100.0/24');
    assert.equal(p.target('2001:db8:1:2ff::1', undefined).target, '2001:db8:1:200::/56');
    assert.equal(new BanPolicy({ ipv4Prefix: 32, ipv6Prefix: 128 }, []).keyOf('2001:db8::1'), '2001:db8::1');
    assert.throws(() => new BanPolicy({ ipv4Prefix: 33, ipv6Prefix: 64 }, []), RangeError);
  });

  it('never bans ::/64 (it holds every IPv4-mapped peer): the address alone', () => {
    for (const a of ['::1', '::192.0.2.1', '::ffff:0:c000:201']) {
      const t = BanPolicy.DEFAULT.target(a, undefined);
      assert.equal(t.target, a === '::192.0.2.1' ? '::c000:201' : a === '::1' ? '::1' : '::ffff:0:c000:201');
      assert.match(t.note, /would cover every IPv4 peer/);
    }
    // A guard asking for such a network gets the address too.
    assert.equal(BanPolicy.DEFAULT.target('::1', '::/64').target, '::1');
  });

  it('never_ban: a listed peer is spared; a network holding one is narrowed to the offender', () => {
    const p = new BanPolicy({ ipv4Prefix: 24, ipv6Prefix: 64 }, ['192.0.2.50', '2001:db8:9:9::5']);
    assert.equal(p.spares('192.0.2.50'), true);
    assert.equal(p.spares('::ffff:192.0.2.50'), true);
    assert.equal(p.spares('192.0.2.51'), false);
    assert.deepEqual(p.target('192.0.2.50', undefined), {
      target: undefined,
      note: 'not banned: 192.0.2.50 is in guards.never_ban',
    });
    assert.deepEqual(p.target('192.0.2.51', undefined), {
      target: '192.0.2.51',
      note: 'banned 192.0.2.51 alone: 192.0.2.0/24 holds 192.0.2.50 of guards.never_ban',
    });
    assert.equal(p.target('2001:db8:9:9::6', undefined).target, '2001:db8:9:9::6');
    assert.equal(p.target('2001:db8:9:8::6', undefined).target, '2001:db8:9:8::/64');
    assert.equal(p.target('198.51.100.1', undefined).target, '198.51.100.0/24');
    // A listed network that holds the banned one spares it too (the source is inside).
    const q = new BanPolicy({ ipv4Prefix: 32, ipv6Prefix: 64 }, ['2001:db8:9::/48']);
    assert.equal(q.target('2001:db8:9:1::1', undefined).target, undefined);
  });

  it('record: stores the target, or nothing for a spared peer or in monitor mode', () => {
    const store = new MemoryBanStore();
    const p = new BanPolicy({ ipv4Prefix: 32, ipv6Prefix: 64 }, ['192.0.2.50']);
    const err = () => assert.fail('no store error');
    const o = p.record(store, err, 'scanner', '2001:db8:1:2::1', undefined, 'scanner: user-agent', 60_000, T, false);
    assert.deepEqual(o, {
      ban: { target: '2001:db8:1:2::/64', until: T + 60_000, reason: 'scanner: user-agent' },
      note: '',
    });
    assert.equal(store.find('2001:db8:1:2::2', T + 1)?.target, '2001:db8:1:2::/64');
    assert.equal(store.find('2001:db8:1:3::1', T + 1), undefined);
    assert.equal(p.record(store, err, 'scanner', '192.0.2.50', undefined, 'r', 60_000, T, false).ban, undefined);
    p.record(store, err, 'scanner', '192.0.2.9', undefined, 'r', 60_000, T, true);
    assert.deepEqual(
      store.list(T + 1).map((b) => b.target),
      ['2001:db8:1:2::/64'],
    );
    store.close();
  });
});

describe('every guard counts and bans an IPv6 /64 as one source (the real guards)', () => {
  /** A chain with a real ban store, built as the server builds it. */
  function built(yaml: string[]) {
    const c = config(...yaml);
    const store = new MemoryBanStore();
    const events = new EventBus();
    const seen: SecurityEvent[] = [];
    events.onDecision((e) => seen.push(e));
    const builder = new GuardBuilder({ events, store, log: SILENT, identity: IDENTITY });
    const chain = builder.build(c.guards, c.sources);
    return { c, store, events, seen, builder, chain };
  }

  it('scanner: a ban of 2001:db8:1:2::1 covers 2001:db8:1:2::2 at the bans guard', () => {
    const { store, chain, seen, builder } = built([]);
    const attack = parseMessage(Buffer.from(options('2001:db8:1:2::1', 5060, 'a1', ['User-Agent: friendly-scanner'])));
    assert.equal(chain.checkSource(src('2001:db8:1:2::1'), 300).verdict.action, 'pass');
    assert.equal(chain.checkMessage(attack, src('2001:db8:1:2::1')).verdict.action, 'ban');
    assert.equal(seen[0]!.ban?.target, '2001:db8:1:2::/64');
    assert.deepEqual(
      store.list(Date.now()).map((b) => [b.target, b.guard]),
      [['2001:db8:1:2::/64', 'scanner']],
    );
    const d = chain.checkSource(src('2001:db8:1:2::2'), 300);
    assert.equal(d.verdict.action, 'drop');
    assert.equal(d.guard, 'bans');
    assert.equal(chain.checkSource(src('2001:db8:1:3::1'), 300).verdict.action, 'pass');
    builder.close();
    store.close();
  });

  it('scanner score: weak signals from two addresses of one /64 add up to a ban', () => {
    const yaml =
      'guards: { scanner: { signals: { ip_literal_host: { action: score, points: 6 }, sql_injection: { action: score, points: 6 } } } }';
    const scanner = (keys: SourceKeys) =>
      new ScannerGuard(config(yaml).guards.scanner, { code: 403, reason: 'Forbidden' }, IDENTITY, keys);
    // 6 points each, threshold 10: one address alone never reaches it.
    const literal = parseMessage(
      Buffer.from(
        options('2001:db8:1:2::1', 5060, 's1').replace('<sip:200@example.com>', '<sip:200@[2001:db8:ffff::1]>'),
      ),
    );
    const injection = parseMessage(
      Buffer.from(
        options('2001:db8:1:2::2', 5060, 's2').replace('<sip:200@example.com>', "<sip:a'or'3=3--@example.com>"),
      ),
    );
    const now = 1_000_000;
    const perPrefix = scanner(BanPolicy.DEFAULT.keys);
    assert.equal(perPrefix.checkMessage(literal, src('2001:db8:1:2::1'), now).action, 'pass');
    const v = perPrefix.checkMessage(injection, src('2001:db8:1:2::2'), now);
    assert.equal(v.action, 'ban');
    assert.equal(v.action === 'ban' && v.rule, 'score');
    // Counted per address (what sipwarden did before), each address keeps a score of 6.
    const perAddress = scanner(new SourceKeys(32, 128));
    assert.equal(perAddress.checkMessage(literal, src('2001:db8:1:2::1'), now).action, 'pass');
    assert.equal(perAddress.checkMessage(injection, src('2001:db8:1:2::2'), now).action, 'pass');
    assert.equal(perAddress.scoredSources, 2);
  });

  /** The watch's view of a request from `address`. */
  function watched(address: string, extra: Partial<WatchedRequest> = {}): WatchedRequest {
    return Object.assign(new WatchedRequest(), {
      ...src(address),
      method: 'REGISTER',
      authUser: 'alice',
      authRealm: 'example.test',
      toUser: 'alice',
      ...extra,
    });
  }

  function reporter(policy: BanPolicy, store?: MemoryBanStore) {
    const events = new EventBus();
    const seen: SecurityEvent[] = [];
    events.onDecision((e) => seen.push(e));
    const alerts: Array<Record<string, unknown>> = [];
    const r = new Reporter({
      events,
      store,
      log: { warn: (o: object) => alerts.push(o as Record<string, unknown>) },
      isExempt: () => false,
      policy: () => policy,
    });
    return { r, seen, alerts };
  }

  it('brute_force: three failures from three addresses of one /64 ban the /64', () => {
    const store = new MemoryBanStore();
    const { r, seen } = reporter(BanPolicy.DEFAULT, store);
    const c = config();
    const guard = new BruteForceGuard(c.guards.bruteForce, r);
    assert.equal(guard.recordFailure(watched('2001:db8:2:2::1'), 'alice', 'example.test', T + 0), undefined);
    assert.equal(guard.recordFailure(watched('2001:db8:2:2::2'), 'alice', 'example.test', T + 1), undefined);
    assert.deepEqual(guard.recordFailure(watched('2001:db8:2:2::3'), 'bob', 'example.test', T + 2), {
      code: 403,
      reason: 'Try later',
    });
    assert.equal(seen.at(-1)!.ban?.target, '2001:db8:2:2::/64');
    assert.equal(store.find('2001:db8:2:2::99', T + 3)?.guard, 'brute-force');
    store.close();
  });

  it('dial_scan: refused destinations from rotating addresses of one /64 add up', () => {
    const store = new MemoryBanStore();
    const { r } = reporter(BanPolicy.DEFAULT, store);
    const guard = new DialScanGuard(config().guards.dialScan, r);
    const refused = notFound();
    for (let i = 1; i <= 11; i++) {
      const a = `2001:db8:3:2::${i.toString(16)}`;
      guard.onFinalResponse(watched(a, { method: 'INVITE', ruriUser: `${200 + i}` }), refused, T + i);
    }
    assert.equal(store.find('2001:db8:3:2::ffff', T + 20)?.target, '2001:db8:3:2::/64');
    store.close();
  });

  it('never_ban on the watch: brute_force still answers 403 Try later, nothing is stored; dial_scan alerts', () => {
    const store = new MemoryBanStore();
    const policy = new BanPolicy({ ipv4Prefix: 32, ipv6Prefix: 64 }, ['192.0.2.50']);
    const { r, seen, alerts } = reporter(policy, store);
    const c = config();
    const guard = new BruteForceGuard(c.guards.bruteForce, r);
    for (let i = 0; i < 2; i++) guard.recordFailure(watched('192.0.2.50'), 'alice', 'example.test', T + i);
    assert.deepEqual(guard.recordFailure(watched('192.0.2.50'), 'alice', 'example.test', T + 3), {
      code: 403,
      reason: 'Try later',
    });
    assert.equal(seen.at(-1)!.action, 'reply');
    assert.equal(seen.at(-1)!.ban, undefined);
    assert.equal(seen.at(-1)!.note, 'not banned: 192.0.2.50 is in guards.never_ban');
    const dial = new DialScanGuard(c.guards.dialScan, r);
    const refused = notFound();
    for (let i = 1; i <= 11; i++) {
      dial.onFinalResponse(watched('192.0.2.50', { method: 'INVITE', ruriUser: `${200 + i}` }), refused, T + i);
    }
    assert.equal(store.size, 0);
    assert.equal(alerts.at(-1)!.note, 'not banned: 192.0.2.50 is in guards.never_ban');
    store.close();
  });

  it('never_ban in the chain: the message is still blocked, the event is a drop with a note, logged at info', () => {
    const { store, chain, events, seen, builder } = built(['guards: { never_ban: [192.0.2.50] }']);
    const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
    const log = (level: string) => (obj: object, msg?: string) =>
      lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
    logEvents(events, { debug: log('debug'), info: log('info'), warn: log('warn'), isLevelEnabled: () => false });
    const attack = parseMessage(Buffer.from(options('192.0.2.50', 5060, 'n1', ['User-Agent: friendly-scanner'])));
    const d = chain.checkMessage(attack, src('192.0.2.50'));
    assert.equal(d.verdict.action, 'ban', 'the proxy still drops the message (a ban verdict drops it)');
    assert.equal(seen[0]!.action, 'drop');
    assert.equal(seen[0]!.ban, undefined);
    assert.equal(store.size, 0);
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.obj.event, l.obj.note]),
      [['info', 'blocked; not banned (guards.never_ban)', 'guard', 'not banned: 192.0.2.50 is in guards.never_ban']],
    );
    // The next message of the peer is judged on its own: nothing holds it.
    assert.equal(chain.checkSource(src('192.0.2.50'), 300).verdict.action, 'pass');
    builder.close();
    store.close();
  });

  it('a reload that changes sources.* rebuilds the guards that count per source', () => {
    const { c, builder, store } = built([]);
    const flood1 = builder.build(c.guards, c.sources).entries.find((e) => e.guard.name === 'flood')!.guard;
    const acl1 = builder.build(c.guards, c.sources).entries.find((e) => e.guard.name === 'acl')!.guard;
    const chain2 = builder.build(c.guards, { ipv4Prefix: 32, ipv6Prefix: 56 });
    assert.notEqual(chain2.entries.find((e) => e.guard.name === 'flood')!.guard, flood1);
    assert.equal(chain2.entries.find((e) => e.guard.name === 'acl')!.guard, acl1);
    assert.equal(builder.banPolicy.keyOf('2001:db8:1:2ff::1'), '2001:db8:1:200::/56');
    builder.close();
    store.close();
  });
});

describe('honeypot: a held source is its /64; a never_ban peer is never held', () => {
  function honeypot(policy: BanPolicy) {
    return new Honeypot(
      {
        enabled: true,
        server: 'Asterisk PBX 18.20.0',
        realm: 'asterisk',
        callDuration: 0,
        amplificationFactor: 3,
        repliesPerSecond: 1000,
        maxRecords: 100,
        forward: undefined,
      },
      1000,
      { listeners: [], send: () => true },
      new MemoryAttackStore(100),
      { debug() {}, info() {}, warn() {} },
      policy,
    );
  }
  const peer = (address: string): Peer => ({
    transport: 'udp',
    address,
    port: 5062,
    family: address.includes(':') ? 6 : 4,
    listener: 0,
    connId: 0,
  });

  it('holds the /64 of a source it took', () => {
    const hp = honeypot(BanPolicy.DEFAULT);
    const msg = parseMessage(Buffer.from(options('2001:db8:7:7::1', 5062, 'h1', ['User-Agent: friendly-scanner'])));
    assert.equal(hp.holds('2001:db8:7:7::1'), false);
    hp.take(msg, peer('2001:db8:7:7::1'), 400, 'scanner', 'user-agent');
    assert.equal(hp.holds('2001:db8:7:7::1'), true);
    assert.equal(hp.holds('2001:db8:7:7::abcd'), true, 'its neighbour is held too');
    assert.equal(hp.holds('2001:db8:7:8::1'), false);
    hp.close();
  });

  it('does not hold a never_ban peer', () => {
    const hp = honeypot(new BanPolicy({ ipv4Prefix: 32, ipv6Prefix: 64 }, ['192.0.2.50']));
    const msg = parseMessage(Buffer.from(options('192.0.2.50', 5062, 'h2', ['User-Agent: friendly-scanner'])));
    hp.take(msg, peer('192.0.2.50'), 400, 'scanner', 'user-agent');
    assert.equal(hp.holds('192.0.2.50'), false);
    hp.close();
  });
});
