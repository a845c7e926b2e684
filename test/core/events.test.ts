import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { publishBanChanges } from '../../src/core/ban-feed.js';
import { EventBus, type SipwardenEvent } from '../../src/core/events.js';
import { BanPolicy } from '../../src/guards/ban-policy.js';
import { BanRecorder } from '../../src/guards/ban-recorder.js';
import { logEvents } from '../../src/ops/event-log.js';
import { MemoryBanStore } from '../../src/store/memory.js';
import { SqliteBanStore } from '../../src/store/sqlite.js';
import { sleep } from '../helpers/udp.js';

const SRC = { transport: 'udp' as const, address: '192.0.2.7', port: 5062, family: 4 as const };

function decision(overrides: Partial<Parameters<BanRecorder['record']>[0]> = {}) {
  return {
    time: 1_000,
    source: SRC,
    guard: 'scanner',
    rule: 'user-agent',
    detail: 'friendly-scanner',
    method: 'OPTIONS',
    monitor: false,
    target: undefined,
    reason: 'scanner',
    duration: 60_000,
    spared: 'drop' as const,
    ...overrides,
  };
}

/** A logger that keeps every line as [level, fields, msg]. */
function lines() {
  const out: Array<[string, Record<string, unknown>, string | undefined]> = [];
  const at = (level: string) => (obj: object, msg?: string) => out.push([level, obj as Record<string, unknown>, msg]);
  return { out, log: { debug: at('debug'), info: at('info'), warn: at('warn') } };
}

describe('event bus', () => {
  it('delivers to every subscriber; one that throws is reported and stops neither the others nor the sender', () => {
    const bus = new EventBus();
    const errors: unknown[] = [];
    bus.onListenerError = (err) => errors.push(err);
    const first: SipwardenEvent[] = [];
    const last: SipwardenEvent[] = [];
    bus.subscribe((e) => first.push(e));
    bus.subscribe(() => {
      throw new Error('broken subscriber');
    });
    const stop = bus.subscribe((e) => last.push(e));
    const bans: string[] = [];
    bus.on('bans-flushed', (e) => bans.push(`flushed ${e.count}`));
    bus.emit({ kind: 'bans-flushed', time: 1, count: 3, origin: 'local' });
    bus.emit({ kind: 'unban', time: 2, target: '192.0.2.1', origin: 'external' });
    assert.equal(first.length, 2);
    assert.equal(last.length, 2);
    assert.deepEqual(bans, ['flushed 3']);
    assert.equal(errors.length, 2);
    assert.match(String(errors[0]), /broken subscriber/);
    stop();
    bus.emit({ kind: 'unban', time: 3, target: '192.0.2.2', origin: 'local' });
    assert.equal(last.length, 2, 'unsubscribed');
    assert.equal(first.length, 3);
  });

  it('an error handler that throws does not reach the sender', () => {
    const bus = new EventBus();
    bus.onListenerError = () => {
      throw new Error('handler broken too');
    };
    bus.subscribe(() => {
      throw new Error('broken');
    });
    assert.doesNotThrow(() => bus.emit({ kind: 'unban', time: 1, target: '192.0.2.1', origin: 'local' }));
  });

  it('takes a guard decision worded as a SecurityEvent: a ban with its record is a ban event, else a block', () => {
    const bus = new EventBus();
    const seen: SipwardenEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    bus.decisions.emit({
      time: 1,
      source: SRC,
      guard: 'topology',
      rule: 'forged',
      action: 'reply',
      monitor: false,
      detail: '',
    });
    const ban = { target: '192.0.2.7', until: 61_000, reason: 'r' };
    bus.decisions.emit({ time: 1, source: SRC, guard: 'g', rule: 'r', action: 'ban', monitor: false, detail: '', ban });
    assert.deepEqual(
      seen.map((e) => [e.kind, e.kind === 'ban' ? e.origin : '']),
      [
        ['block', ''],
        ['ban', 'guard'],
      ],
    );
  });
});

describe('ban recorder', () => {
  it('applies the policy, writes the store and emits one ban event', () => {
    const bus = new EventBus();
    const store = new MemoryBanStore();
    const seen: SipwardenEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    const recorder = new BanRecorder(
      bus,
      store,
      () => BanPolicy.DEFAULT,
      (err) => assert.fail(String(err)),
    );
    const now = Date.now();
    const o = recorder.record(decision({ time: now, source: { ...SRC, address: '2001:db8:1:2::1', family: 6 } }));
    assert.equal(o.ban?.target, '2001:db8:1:2::/64');
    assert.equal(store.find('2001:db8:1:2::9', now + 1)?.guard, 'scanner');
    assert.equal(seen.length, 1);
    const e = seen[0]!;
    assert.ok(e.kind === 'ban' && e.origin === 'guard');
    assert.equal(e.ban.target, '2001:db8:1:2::/64');
    assert.equal(e.action, 'ban');
    assert.equal(e.method, 'OPTIONS');
    store.close();
  });

  it('monitoring: the event only, nothing stored; never_ban: a block event with the note, nothing stored', () => {
    const bus = new EventBus();
    const store = new MemoryBanStore();
    const seen: SipwardenEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    const policy = new BanPolicy({ ipv4Prefix: 32, ipv6Prefix: 64 }, ['192.0.2.50']);
    const recorder = new BanRecorder(
      bus,
      store,
      () => policy,
      (err) => assert.fail(String(err)),
    );
    recorder.record(decision({ time: Date.now(), monitor: true }));
    recorder.record(decision({ time: Date.now(), source: { ...SRC, address: '192.0.2.50' }, spared: 'reply' }));
    recorder.record(decision({ time: Date.now(), source: { ...SRC, address: '192.0.2.50' }, spared: undefined }));
    assert.equal(store.size, 0);
    assert.equal(seen.length, 2, 'a spared ban without a fallback action is left to the caller');
    assert.ok(seen[0]!.kind === 'ban' && seen[0]!.origin === 'guard' && seen[0]!.monitor);
    assert.ok(seen[1]!.kind === 'block');
    assert.equal(seen[1]!.kind === 'block' && seen[1]!.action, 'reply');
    assert.equal(seen[1]!.kind === 'block' && seen[1]!.note, 'not banned: 192.0.2.50 is in guards.never_ban');
    store.close();
  });

  it('reports a store that cannot write, and still emits the ban', () => {
    const bus = new EventBus();
    const store = new MemoryBanStore();
    store.close();
    const errors: unknown[] = [];
    let events = 0;
    bus.subscribe(() => events++);
    new BanRecorder(
      bus,
      store,
      () => BanPolicy.DEFAULT,
      (err) => errors.push(err),
    ).record(decision());
    assert.equal(errors.length, 1);
    assert.equal(events, 1);
  });
});

describe('ban store change feed', () => {
  it('a store has any number of subscribers, each unsubscribing alone', () => {
    const store = new MemoryBanStore();
    const a: string[] = [];
    const b: string[] = [];
    const stopA = store.subscribe((c) => a.push(c.kind));
    store.subscribe((c) => b.push(c.kind));
    store.add({ target: '192.0.2.1', guard: 'admin', reason: 'r', created: Date.now(), expires: Date.now() + 60_000 });
    stopA();
    store.remove('192.0.2.1');
    assert.deepEqual(a, ['added']);
    assert.deepEqual(b, ['added', 'removed']);
    store.close();
  });

  it('a ban another process adds is an external ban event with no source, logged with the line of before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-events-'));
    const file = join(dir, 'bans.db');
    const running = new SqliteBanStore(file, { pollInterval: 20 });
    const cli = new SqliteBanStore(file, { pollInterval: 0 });
    try {
      const bus = new EventBus();
      const seen: SipwardenEvent[] = [];
      bus.subscribe((e) => seen.push(e));
      const { out, log } = lines();
      logEvents(bus, log);
      publishBanChanges(running, bus);
      const now = Date.now();
      cli.add({ target: '203.0.113.9', guard: 'admin', reason: 'abuse\nreport', created: now, expires: now + 600_000 });
      cli.add({ target: '198.51.100.0/24', guard: 'admin', reason: 'net', created: now, expires: now + 600_000 });
      for (let i = 0; i < 100 && seen.length < 2; i++) await sleep(20);
      const external = seen.filter((e) => e.kind === 'ban');
      assert.equal(external.length, 2);
      for (const e of external) {
        assert.ok(e.kind === 'ban' && e.origin === 'external');
        assert.equal('source' in e, false, 'no invented source');
      }
      const single = out.find(([, f]) => f.event === 'ban')!;
      assert.equal(single[0], 'warn');
      assert.match(single[2]!, /^Blocking traffic from 203\.0\.113\.9 guard=admin rule=manual for (600|599)s$/);
      assert.equal(single[1].source, '203.0.113.9');
      assert.equal(single[1].external, true);
      assert.equal(single[1].detail, 'abuse\\x0areport', 'escaped');
      const network = out.find(([, f]) => f.event === 'ban-network')!;
      assert.equal(network[2], 'network banned');
      assert.equal(network[1].target, '198.51.100.0/24');
      cli.remove('203.0.113.9');
      for (let i = 0; i < 100 && !seen.some((e) => e.kind === 'unban'); i++) await sleep(20);
      assert.ok(
        out.some(([l, f, m]) => l === 'info' && f.event === 'unban' && f.external === true && m === 'ban lifted'),
      );
    } finally {
      running.close();
      cli.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
