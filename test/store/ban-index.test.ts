import assert from 'node:assert/strict';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { normalizeIp } from '../../src/net/cidr.js';
import { BanIndex } from '../../src/store/ban-index.js';
import type { Ban } from '../../src/store/types.js';

function ban(target: string, expires: number): Ban {
  return Object.freeze({ target, guard: 'test', reason: 'test', created: 0, expires });
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const hex = (n: number) => Math.floor(n).toString(16);

describe('BanIndex', () => {
  it('holds 200k IPv6 addresses (hash chains included) and forgets them exactly', () => {
    const index = new BanIndex();
    const rnd = mulberry32(1);
    const targets = new Set<string>();
    const w = () => hex(Math.floor(rnd() * 0x10000));
    while (targets.size < 200_000) targets.add(normalizeIp(`2001:db8:${w()}:${w()}:${w()}:${w()}:${w()}:${w()}`));
    const unique = [...targets];
    for (const t of unique) index.set(ban(t, 1000));
    assert.equal(index.size, unique.length);
    for (const t of unique) assert.equal(index.find(t, 0)?.target, t);
    let misses = 0;
    for (let i = 0; i < 20_000; i++) {
      const addr = `2001:db9::${hex(i)}`;
      if (index.find(addr, 0) === undefined) misses++;
    }
    assert.equal(misses, 20_000);
    for (let i = 0; i < unique.length; i += 2) assert.ok(index.delete(unique[i]!));
    for (let i = 0; i < unique.length; i++) {
      assert.equal(index.find(unique[i]!, 0)?.target, i % 2 === 0 ? undefined : unique[i], unique[i]);
    }
    for (let i = 1; i < unique.length; i += 2) assert.ok(index.delete(unique[i]!));
    assert.equal(index.size, 0);
    assert.equal(index.find(unique[1]!, 0), undefined);
    assert.equal(index.delete(unique[1]!), undefined);
  });

  it('soonest() is always the earliest expiry through random adds, replacements and removals', () => {
    const index = new BanIndex();
    const rnd = mulberry32(2);
    const held = new Map<string, number>();
    for (let step = 0; step < 20_000; step++) {
      const target = `10.0.${Math.floor(rnd() * 8)}.${Math.floor(rnd() * 64)}`;
      const r = rnd();
      if (r < 0.6) {
        const expires = Math.floor(rnd() * 1_000_000);
        index.set(ban(target, expires));
        held.set(target, expires);
      } else if (r < 0.95) {
        assert.equal(index.delete(target)?.target, held.has(target) ? target : undefined);
        held.delete(target);
      } else {
        const s = index.soonest();
        if (s !== undefined) {
          assert.equal(index.delete(s.target), s);
          held.delete(s.target);
        }
      }
      assert.equal(index.size, held.size);
      const min = Math.min(...held.values());
      assert.equal(index.soonest()?.expires, held.size === 0 ? undefined : min);
    }
  });

  it('replacing a ban keeps one entry and moves it in the expiry order', () => {
    const index = new BanIndex();
    index.set(ban('192.0.2.1', 100));
    index.set(ban('192.0.2.2', 200));
    assert.equal(index.soonest()?.target, '192.0.2.1');
    const old = index.set(ban('192.0.2.1', 300));
    assert.equal(old?.expires, 100);
    assert.equal(index.size, 2);
    assert.equal(index.soonest()?.target, '192.0.2.2');
    assert.equal(index.find('192.0.2.1', 250)?.expires, 300);
  });

  it('a lookup of an address that is not banned allocates nothing (no minor GC in 2M lookups)', async () => {
    const index = new BanIndex();
    const rnd = mulberry32(3);
    for (let i = 0; i < 10_000; i++) {
      index.set(ban(`10.${i >> 8}.${i & 255}.1`, Date.now() + 60_000));
      index.set(ban(normalizeIp(`2001:db8:${hex(i)}::`).replace(/::$/, '::/64'), Date.now() + 60_000));
    }
    index.set(ban('198.51.100.0/24', Date.now() + 60_000));
    index.set(ban('2001:db8:ffff::/48', Date.now() + 60_000));
    // Flat strings, as a socket reports them.
    const flat = (s: string) => Buffer.from(s, 'latin1').toString('latin1');
    const misses = Array.from({ length: 1024 }, (_, i) =>
      flat(
        i % 2 === 0
          ? `192.0.2.${i & 255}`
          : `2001:db9:${hex(rnd() * 65536)}:${hex(rnd() * 65536)}:${hex(rnd() * 65536)}::${hex(rnd() * 65536)}`,
      ),
    );
    const now = Date.now();
    let found = 0;
    const lookups = () => {
      for (let i = 0; i < 2_000_000; i++) if (index.find(misses[i & 1023]!, now) !== undefined) found++;
    };
    lookups(); // optimise first
    const minorGcs: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGcs.push(e.startTime);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    gc(); // start with an empty young generation
    await new Promise((r) => setTimeout(r, 20));
    const start = performance.now();
    lookups();
    const end = performance.now();
    await new Promise((r) => setTimeout(r, 50));
    observer.disconnect();
    // Only collections that started while the lookups ran (the test runner allocates around them).
    const minor = minorGcs.filter((t) => t >= start && t <= end).length;
    assert.equal(found, 0);
    // At 16 bytes per lookup, 2M lookups would fill the young generation (16 MiB) twice.
    assert.equal(minor, 0, `${minor} minor GCs during 2M lookups of addresses that are not banned`);
  });

  it('refuses a target that is not canonical', () => {
    const index = new BanIndex();
    assert.throws(() => index.set(ban('2001:DB8::1', 1)), /not canonical \(2001:db8::1\)/);
    assert.throws(() => index.set(ban('nope', 1)), /not an IP address/);
    assert.equal(index.size, 0);
  });
});
