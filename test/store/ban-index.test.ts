import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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

const hex = (n: number) => n.toString(16);

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

  it('refuses a target that is not canonical', () => {
    const index = new BanIndex();
    assert.throws(() => index.set(ban('2001:DB8::1', 1)), /not canonical \(2001:db8::1\)/);
    assert.throws(() => index.set(ban('nope', 1)), /not an IP address/);
    assert.equal(index.size, 0);
  });
});
