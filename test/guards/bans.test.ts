import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BanVerdict, PASS, type Source } from '../../src/core/verdict.js';
import { BANNED_RULE, BansGuard, banFromVerdict } from '../../src/guards/bans/bans.js';
import type { BansGuardConfig } from '../../src/guards/bans/config.js';
import { MemoryBanStore } from '../../src/store/memory.js';

const REPLY = { code: 403, reason: 'Forbidden' };

function config(action: BansGuardConfig['action']): BansGuardConfig {
  return { mode: 'enforce', action, defaultDuration: 3_600_000, maxBans: 1000 };
}

function source(address: string, family: 4 | 6 = address.includes(':') ? 6 : 4): Source {
  return { transport: 'udp', address, port: 5060, family };
}

function storeWith(target: string, reason = 'flood: 17 messages in 2s') {
  const store = new MemoryBanStore();
  const now = Date.now();
  store.add({ target, guard: 'flood', reason, created: now, expires: now + 60_000 });
  return { store, now, expires: now + 60_000 };
}

describe('BansGuard', () => {
  it('passes a source that is not banned, with the shared PASS verdict', () => {
    const { store, now } = storeWith('192.0.2.7');
    const guard = new BansGuard(config('drop'), store, REPLY);
    assert.equal(guard.name, 'bans');
    assert.equal(guard.checkSource(source('192.0.2.8'), 100, now), PASS);
    assert.equal(guard.checkSource(source('2001:db8::1'), 100, now), PASS);
  });

  it('drops a banned source; the detail names the ban target and reason', () => {
    const { store, now, expires } = storeWith('192.0.2.0/24');
    const guard = new BansGuard(config('drop'), store, REPLY);
    const v = guard.checkSource(source('192.0.2.7'), 100, now);
    assert.equal(v.action, 'drop');
    assert.equal((v as { rule: string }).rule, BANNED_RULE);
    assert.equal(
      (v as { detail: string }).detail,
      `ban of 192.0.2.0/24 by flood until ${new Date(expires).toISOString()}: flood: 17 messages in 2s`,
    );
    // The same ban gives the same verdict object: nothing is built per message.
    assert.equal(guard.checkSource(source('192.0.2.9'), 100, now), v);
  });

  it('answers with the configured reply', () => {
    const { store, now } = storeWith('2001:db8:1:2::/64');
    const guard = new BansGuard(config('reply'), store, { code: 503, reason: 'Service Unavailable' });
    const v = guard.checkSource(source('2001:db8:1:2::99'), 100, now);
    assert.deepEqual(v, {
      action: 'reply',
      rule: 'banned',
      detail: (v as { detail: string }).detail,
      reply: { code: 503, reason: 'Service Unavailable' },
    });
    assert.match((v as { detail: string }).detail, /^ban of 2001:db8:1:2::\/64 by flood until /);
  });

  it('sends a banned source to the honeypot when configured', () => {
    const { store, now } = storeWith('198.51.100.5');
    const guard = new BansGuard(config('honeypot'), store, REPLY);
    const v = guard.checkSource(source('::ffff:198.51.100.5', 6), 100, now);
    assert.equal(v.action, 'honeypot');
    assert.equal((v as { rule: string }).rule, 'banned');
  });

  it('follows the store: expiry at `now`, removal, and a replaced ban gets a new detail', () => {
    const { store, now, expires } = storeWith('192.0.2.7');
    const guard = new BansGuard(config('drop'), store, REPLY);
    assert.equal(guard.checkSource(source('192.0.2.7'), 1, expires - 1).action, 'drop');
    assert.equal(guard.checkSource(source('192.0.2.7'), 1, expires), PASS);
    store.add({ target: '192.0.2.7', guard: 'scanner', reason: 'sipvicious', created: now, expires: now + 120_000 });
    const v = guard.checkSource(source('192.0.2.7'), 1, now);
    assert.match((v as { detail: string }).detail, /by scanner until .*: sipvicious$/);
    store.remove('192.0.2.7');
    assert.equal(guard.checkSource(source('192.0.2.7'), 1, now), PASS);
  });

  it('never throws for a source address that is not an address', () => {
    const { store, now } = storeWith('192.0.2.7');
    const guard = new BansGuard(config('drop'), store, REPLY);
    for (const bad of ['', 'garbage', '1.2.3.4.5', ':::', '\u0000']) {
      assert.equal(guard.checkSource(source(bad, 4), 1, now), PASS);
    }
  });
});

describe('banFromVerdict', () => {
  const verdict: BanVerdict = { action: 'ban', rule: 'density', duration: 300_000, reason: 'flood: 17 messages in 2s' };

  it('bans the source address (canonical) by default, for the verdict duration', () => {
    const now = 1_700_000_000_000;
    const b = banFromVerdict(verdict, source('::ffff:192.0.2.7', 6), 'flood', now);
    assert.deepEqual(b, {
      target: '192.0.2.7',
      guard: 'flood',
      reason: 'flood: 17 messages in 2s',
      created: now,
      expires: now + 300_000,
    });
    assert.equal(banFromVerdict(verdict, source('2001:DB8::0:1'), 'flood', now).target, '2001:db8::1');
  });

  it('bans the verdict target when given, in canonical form', () => {
    const b = banFromVerdict({ ...verdict, target: '2001:DB8:1:2:0::/64' }, source('2001:db8:1:2::5'), 'flood', 0);
    assert.equal(b.target, '2001:db8:1:2::/64');
    assert.throws(() => banFromVerdict({ ...verdict, target: 'nope' }, source('192.0.2.1'), 'flood', 0), /"nope"/);
  });

  it('makes a ban the store takes and the bans guard then enforces', () => {
    const store = new MemoryBanStore();
    const now = Date.now();
    store.add(banFromVerdict({ ...verdict, target: '2001:db8:1:2::/64' }, source('2001:db8:1:2::5'), 'flood', now));
    const guard = new BansGuard(config('drop'), store, REPLY);
    assert.equal(guard.checkSource(source('2001:db8:1:2::abcd'), 1, now).action, 'drop');
    assert.equal(guard.checkSource(source('2001:db8:1:2::abcd'), 1, now + 300_000), PASS);
  });
});
