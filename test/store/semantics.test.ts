/**
 * What every ban store promises (src/store/types.ts), run against the memory store and the
 * SQLite store on a temporary file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalizeCidr } from '../../src/net/cidr.js';
import { MemoryBanStore } from '../../src/store/memory.js';
import { SqliteBanStore } from '../../src/store/sqlite.js';
import type { Ban, BanChange, BanStore } from '../../src/store/types.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipwarden-store-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
interface Kind {
  name: string;
  open: (options?: { maxBans?: number; onError?: (err: Error) => void }) => BanStore;
}
const kinds: Kind[] = [
  { name: 'MemoryBanStore', open: (options = {}) => new MemoryBanStore(options) },
  {
    name: 'SqliteBanStore',
    open: (options = {}) => new SqliteBanStore(join(dir, `semantics-${++fileCount}.db`), options),
  },
];

function ban(target: string, expires: number, extra: Partial<Ban> = {}): Ban {
  return { target, guard: 'flood', reason: 'too many messages', created: Date.now(), expires, ...extra };
}

/** Collects the changes a store emits. */
function recorder(store: BanStore): BanChange[] {
  const changes: BanChange[] = [];
  store.subscribe((c) => changes.push(c));
  return changes;
}

for (const kind of kinds) {
  describe(`${kind.name}: semantics`, () => {
    const opened: BanStore[] = [];
    const open = (options?: Parameters<Kind['open']>[0]) => {
      const s = kind.open(options);
      opened.push(s);
      return s;
    };
    after(() => {
      for (const s of opened) s.close();
    });
    const hour = () => Date.now() + 3_600_000;

    it('finds a banned address and nothing else', () => {
      const store = open();
      const changes = recorder(store);
      const now = Date.now();
      store.add(ban('192.0.2.7', hour()));
      assert.equal(store.size, 1);
      assert.equal(store.find('192.0.2.7', now)?.target, '192.0.2.7');
      assert.equal(store.find('192.0.2.8', now), undefined);
      assert.equal(store.find('2001:db8::1', now), undefined);
      assert.equal(store.find('not an address', now), undefined);
      assert.equal(store.find('', now), undefined);
      assert.equal(changes.length, 1);
      assert.equal(changes[0]!.kind, 'added');
      assert.equal((changes[0] as { external: boolean }).external, false);
    });

    it('keeps targets in canonical form and refuses what is not an address or network', () => {
      const store = open();
      store.add(ban('2001:DB8:0:0:0:0:0:1', hour()));
      store.add(ban('::ffff:198.51.100.9', hour()));
      store.add(ban('::ffff:203.0.113.0/120', hour()));
      assert.deepEqual(
        store
          .list(Date.now())
          .map((b) => b.target)
          .sort(),
        ['198.51.100.9', '2001:db8::1', '203.0.113.0/24'],
      );
      assert.throws(() => store.add(ban('1.2.3', hour())), /"1\.2\.3" is not an IP address or network/);
      assert.throws(() => store.add(ban('10.0.0.1/8', hour())), /host bits set; the network is 10\.0\.0\.0\/8/);
      assert.throws(() => store.add(ban('192.0.2.1', Number.NaN)), /expires must be a time/);
      assert.equal(store.size, 3);
    });

    it('an IPv4 /24 ban covers its 256 addresses only', () => {
      const store = open();
      store.add(ban('198.51.100.0/24', hour()));
      const now = Date.now();
      assert.equal(store.find('198.51.100.0', now)?.target, '198.51.100.0/24');
      assert.equal(store.find('198.51.100.255', now)?.target, '198.51.100.0/24');
      assert.equal(store.find('::ffff:198.51.100.77', now)?.target, '198.51.100.0/24');
      assert.equal(store.find('198.51.101.0', now), undefined);
      assert.equal(store.find('198.51.99.255', now), undefined);
    });

    it('IPv6 /64 and /128 bans; an IPv4-mapped address finds the IPv4 ban', () => {
      const store = open();
      store.add(ban('2001:db8:1:2::/64', hour()));
      store.add(ban('2001:db8:9::1', hour()));
      store.add(ban('203.0.113.5', hour()));
      const now = Date.now();
      assert.equal(store.find('2001:db8:1:2::1', now)?.target, '2001:db8:1:2::/64');
      assert.equal(store.find('2001:db8:1:2:ffff:ffff:ffff:ffff', now)?.target, '2001:db8:1:2::/64');
      assert.equal(store.find('2001:DB8:1:2:0:0:0:99', now)?.target, '2001:db8:1:2::/64');
      assert.equal(store.find('2001:db8:1:3::1', now), undefined);
      assert.equal(store.find('2001:db8:1:1:ffff:ffff:ffff:ffff', now), undefined);
      assert.equal(store.find('2001:db8:9::1', now)?.target, '2001:db8:9::1');
      assert.equal(store.find('2001:db8:9::2', now), undefined);
      assert.equal(store.find('fe80::1%eth0', now), undefined);
      assert.equal(store.find('::ffff:203.0.113.5', now)?.target, '203.0.113.5');
      assert.equal(store.find('::ffff:cb00:7105', now)?.target, '203.0.113.5');
      assert.equal(store.find('::ffff:203.0.113.6', now), undefined);
    });

    it('an IPv6 network that contains the mapped range covers IPv4 peers', () => {
      const store = open();
      store.add(ban('::/64', hour()));
      const now = Date.now();
      assert.equal(store.find('192.0.2.1', now)?.target, '::/64');
      assert.equal(store.find('::1', now)?.target, '::/64');
      assert.equal(store.find('2001:db8::1', now), undefined);
      store.remove('::/64');
      assert.equal(store.find('192.0.2.1', now), undefined);
    });

    it('the longest prefix in force answers; a network ban still covers after a host ban expires', () => {
      const store = open();
      const now = Date.now();
      store.add(ban('192.0.2.0/24', now + 120_000, { reason: 'network' }));
      store.add(ban('192.0.2.7', now + 60_000, { reason: 'host' }));
      assert.equal(store.find('192.0.2.7', now)?.reason, 'host');
      assert.equal(store.find('192.0.2.7', now + 60_000)?.reason, 'network');
      assert.equal(store.find('192.0.2.7', now + 120_000), undefined);
    });

    it('expiry is exact at lookup: now >= expires is expired', () => {
      const store = open();
      const expires = Date.now() + 600_000;
      store.add(ban('2001:db8::7', expires));
      store.add(ban('192.0.2.9', expires));
      assert.ok(store.find('2001:db8::7', expires - 1));
      assert.equal(store.find('2001:db8::7', expires), undefined);
      assert.ok(store.find('192.0.2.9', expires - 1));
      assert.equal(store.find('192.0.2.9', expires), undefined);
      assert.equal(store.list(expires).length, 0);
      assert.equal(store.list(expires - 1).length, 2);
    });

    it('a later expiry wins when a target is banned again', () => {
      const store = open();
      const changes = recorder(store);
      const now = Date.now();
      store.add(ban('192.0.2.1', now + 60_000, { reason: 'first' }));
      store.add(ban('192.0.2.1', now + 30_000, { reason: 'shorter' }));
      assert.equal(store.find('192.0.2.1', now)?.reason, 'first');
      assert.equal(store.find('192.0.2.1', now)?.expires, now + 60_000);
      store.add(ban('192.0.2.1', now + 90_000, { reason: 'longer', guard: 'scanner' }));
      const b = store.find('192.0.2.1', now)!;
      assert.equal(b.reason, 'longer');
      assert.equal(b.guard, 'scanner');
      assert.equal(b.expires, now + 90_000);
      assert.equal(store.size, 1);
      assert.deepEqual(
        changes.map((c) => c.kind),
        ['added', 'added'],
      );
      // The store's object cannot be changed from outside.
      assert.throws(() => {
        (b as { expires: number }).expires = 0;
      }, TypeError);
    });

    it('a ban that is already over is not added', () => {
      const store = open();
      const changes = recorder(store);
      store.add(ban('192.0.2.1', Date.now() - 1));
      assert.equal(store.size, 0);
      assert.equal(changes.length, 0);
    });

    it('remove lifts exactly one target', () => {
      const store = open();
      const changes = recorder(store);
      const now = Date.now();
      store.add(ban('192.0.2.0/24', hour()));
      store.add(ban('192.0.2.7', hour()));
      assert.equal(store.remove('192.0.2.7'), true);
      assert.equal(store.find('192.0.2.7', now)?.target, '192.0.2.0/24');
      assert.equal(store.remove('192.0.2.7'), false);
      assert.equal(store.remove('192.0.2.8'), false);
      assert.equal(store.remove('garbage'), false);
      assert.equal(store.remove('::ffff:192.0.2.0/120'), true);
      assert.equal(store.find('192.0.2.7', now), undefined);
      assert.equal(store.size, 0);
      assert.deepEqual(
        changes.filter((c) => c.kind === 'removed').map((c) => (c as { target: string }).target),
        ['192.0.2.7', '192.0.2.0/24'],
      );
    });

    it('lists bans in force, soonest expiry first', () => {
      const store = open();
      const now = Date.now();
      store.add(ban('192.0.2.3', now + 30_000));
      store.add(ban('2001:db8::/64', now + 10_000));
      store.add(ban('192.0.2.1', now + 20_000));
      store.add(ban('192.0.2.2', now + 20_000));
      assert.deepEqual(
        store.list(now).map((b) => b.target),
        ['2001:db8::/64', '192.0.2.1', '192.0.2.2', '192.0.2.3'],
      );
      assert.deepEqual(
        store.list(now + 20_000).map((b) => b.target),
        ['192.0.2.3'],
      );
    });

    it('flush lifts everything and says how many', () => {
      const store = open();
      const changes = recorder(store);
      store.add(ban('192.0.2.1', hour()));
      store.add(ban('2001:db8::/48', hour()));
      assert.equal(store.flush(), 2);
      assert.equal(store.size, 0);
      assert.equal(store.find('192.0.2.1', Date.now()), undefined);
      assert.equal(store.find('2001:db8::1', Date.now()), undefined);
      assert.deepEqual(changes.at(-1), { kind: 'flushed', count: 2, external: false });
      assert.equal(store.flush(), 0);
      store.add(ban('192.0.2.1', hour()));
      assert.ok(store.find('192.0.2.1', Date.now()));
    });

    it('beyond maxBans the ban expiring soonest makes room', () => {
      const store = open({ maxBans: 3 });
      const changes = recorder(store);
      const now = Date.now();
      store.add(ban('192.0.2.1', now + 50_000));
      store.add(ban('192.0.2.2', now + 10_000));
      store.add(ban('192.0.2.3', now + 30_000));
      store.add(ban('192.0.2.4', now + 20_000));
      assert.equal(store.size, 3);
      assert.equal(store.find('192.0.2.2', now), undefined);
      assert.deepEqual(
        store.list(now).map((b) => b.target),
        ['192.0.2.4', '192.0.2.3', '192.0.2.1'],
      );
      assert.deepEqual(changes.at(-2), { kind: 'removed', target: '192.0.2.2', external: false });
      // Extending a ban held does not evict anything.
      store.add(ban('192.0.2.4', now + 60_000));
      assert.equal(store.size, 3);
      assert.deepEqual(
        store.list(now).map((b) => b.target),
        ['192.0.2.3', '192.0.2.1', '192.0.2.4'],
      );
    });

    it('the expiry timer removes a ban and emits within a few ms of its expiry', async () => {
      const store = open();
      const changes: Array<{ change: BanChange; at: number }> = [];
      store.subscribe((change) => changes.push({ change, at: Date.now() }));
      const start = Date.now();
      store.add(ban('192.0.2.50', start + 300));
      store.add(ban('2001:db8::50', start + 150));
      store.add(ban('192.0.2.51', start + 60_000));
      await new Promise((r) => setTimeout(r, 450));
      const expired: Array<{ ban: Ban; at: number }> = [];
      for (const { change, at } of changes) if (change.kind === 'expired') expired.push({ ban: change.ban, at });
      assert.equal(expired.length, 2);
      const [first, second] = expired as [{ ban: Ban; at: number }, { ban: Ban; at: number }];
      assert.equal(first.ban.target, '2001:db8::50');
      assert.equal(second.ban.target, '192.0.2.50');
      for (const e of [first, second]) {
        const late = e.at - e.ban.expires;
        assert.ok(late >= 0 && late < 50, `expired ${late} ms after its expiry`);
      }
      assert.equal(store.size, 1);
      assert.deepEqual(
        store.list(Date.now()).map((b) => b.target),
        ['192.0.2.51'],
      );
    });

    it('a listener that throws does not break the store; the error is reported', () => {
      const errors: Error[] = [];
      const store = open({ onError: (e) => errors.push(e) });
      store.subscribe(() => {
        throw new Error('listener failed');
      });
      store.add(ban('192.0.2.1', hour()));
      assert.ok(store.find('192.0.2.1', Date.now()));
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /listener failed/);
    });

    it('agrees with a plain scan over many random bans, before and after removals', () => {
      const store = open({ maxBans: 10_000 });
      const rnd = mulberry32(7);
      const now = Date.now();
      const targets: string[] = [];
      for (let i = 0; i < 400; i++) {
        const t = randomTarget(rnd);
        targets.push(t);
        store.add(ban(t, now + 60_000 + Math.floor(rnd() * 60_000)));
      }
      const check = () => {
        const held = store.list(now);
        for (let i = 0; i < 3000; i++) {
          const addr = randomAddressNear(rnd, targets);
          const expected = held.filter((b) => covers(b.target, addr));
          const found = store.find(addr, now);
          if (expected.length === 0) {
            assert.equal(found, undefined, `${addr} is not banned`);
          } else {
            assert.ok(found, `${addr} is banned by ${expected.map((b) => b.target).join(', ')}`);
            assert.ok(covers(found.target, addr));
            const longest = Math.max(...expected.map((b) => prefixLength(b.target)));
            assert.equal(prefixLength(found.target), longest, `${addr}: the longest prefix answers`);
          }
        }
      };
      check();
      for (const t of targets.filter((_, i) => i % 2 === 0)) store.remove(t);
      check();
    });
  });
}

// --- helpers for the randomised comparison ---

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const V4_LENGTHS = [32, 32, 32, 24, 16, 28];
const V6_LENGTHS = [128, 128, 64, 64, 48, 56, 100];

function toBigV6(text: string): bigint {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return words.reduce((acc, w) => (acc << 16n) | BigInt(Number.parseInt(w || '0', 16)), 0n);
}

function fromBigV6(v: bigint): string {
  const words: string[] = [];
  for (let i = 7; i >= 0; i--) words.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return words.join(':');
}

function toV4(text: string): number {
  return text.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function fromV4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** Random targets packed into a few small ranges, so that networks overlap and probes hit. */
function randomTarget(rnd: () => number): string {
  if (rnd() < 0.5) {
    const bits = V4_LENGTHS[Math.floor(rnd() * V4_LENGTHS.length)]!;
    const addr = (0xc0000200 + Math.floor(rnd() * 4096)) >>> 0; // 192.0.2.0 .. 192.0.17.255
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const net = (addr & mask) >>> 0;
    return bits === 32 ? fromV4(net) : `${fromV4(net)}/${bits}`;
  }
  const bits = V6_LENGTHS[Math.floor(rnd() * V6_LENGTHS.length)]!;
  const addr = randomV6(rnd);
  const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
  const net = addr & mask;
  const c = fromBigV6(net);
  return canonical(bits === 128 ? c : `${c}/${bits}`);
}

function randomV6(rnd: () => number): bigint {
  // 2001:db8:0:0..7:0..3:...:x with a random low part.
  const hi = (0x20010db8n << 96n) | (BigInt(Math.floor(rnd() * 8)) << 64n) | (BigInt(Math.floor(rnd() * 4)) << 48n);
  return hi | BigInt(Math.floor(rnd() * 16));
}

function canonical(t: string): string {
  return normalizeCidr(t);
}

function randomAddressNear(rnd: () => number, targets: string[]): string {
  if (rnd() < 0.5) {
    const t = targets[Math.floor(rnd() * targets.length)]!;
    const base = t.split('/')[0]!;
    if (base.includes(':')) {
      const v = toBigV6(base) + BigInt(Math.floor(rnd() * 20)) - 2n;
      return normalizeCidr(fromBigV6(v < 0n ? 0n : v));
    }
    return fromV4((toV4(base) + Math.floor(rnd() * 300) - 20) >>> 0);
  }
  if (rnd() < 0.5) return fromV4((0xc0000200 + Math.floor(rnd() * 4200)) >>> 0);
  const a = normalizeCidr(fromBigV6(randomV6(rnd)));
  return rnd() < 0.2 ? a.toUpperCase() : a;
}

function prefixLength(target: string): number {
  const slash = target.indexOf('/');
  if (slash >= 0) return Number(target.slice(slash + 1));
  return target.includes(':') ? 128 : 32;
}

function covers(target: string, addr: string): boolean {
  const bits = prefixLength(target);
  const base = target.split('/')[0]!;
  if (base.includes(':') !== addr.includes(':')) return false;
  if (!base.includes(':')) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (toV4(addr) & mask) >>> 0 === toV4(base);
  }
  const shift = BigInt(128 - bits);
  return toBigV6(addr.toLowerCase()) >> shift === toBigV6(base) >> shift;
}
