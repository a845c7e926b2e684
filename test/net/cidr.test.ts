import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CidrSet, normalizeCidr, normalizeIp, prefixKey } from '../../src/net/index.js';

describe('normalizeIp', () => {
  const cases: [string, string][] = [
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['::ffff:102:304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:0a00:0001', '10.0.0.1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['1::2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['2001:db8::', '2001:db8::'],
    ['::', '::'],
    ['::1', '::1'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['fe80::1%eth0', 'fe80::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => assert.equal(normalizeIp(input), expected));
  }

  const invalid = [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1..2.3',
    '1.2.3.',
    ':::',
    ':1::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::',
    '1:',
    '::ffff:1.2.3',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1.2.3.4/8',
    '[::1]',
    'localhost',
  ];
  for (const input of invalid) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      assert.throws(() => normalizeIp(input), { message: `${JSON.stringify(input)} is not an IP address` });
    });
  }
});

describe('prefixKey', () => {
  it('masks IPv4 and IPv6 to the given prefix', () => {
    assert.equal(prefixKey('2001:db8:1:2:3:4:5:6', 32, 64), '2001:db8:1:2::/64');
    assert.equal(prefixKey('2001:db8:1:2:3:4:5:6', 32, 48), '2001:db8:1::/48');
    assert.equal(prefixKey('2001:db8:1:2:3:4:5:6', 32, 60), '2001:db8:1::/60');
    assert.equal(prefixKey('2001:db8:1:ff:3:4:5:6', 32, 60), '2001:db8:1:f0::/60');
    assert.equal(prefixKey('1.2.3.4', 24, 64), '1.2.3.0/24');
    assert.equal(prefixKey('1.2.3.4', 20, 64), '1.2.0.0/20');
    assert.equal(prefixKey('::ffff:1.2.3.4', 24, 64), '1.2.3.0/24');
    assert.equal(prefixKey('1.2.3.4', 0, 0), '0.0.0.0/0');
    assert.equal(prefixKey('2001:db8::1', 0, 0), '::/0');
  });

  it('equals normalizeIp at full length', () => {
    for (const ip of ['1.2.3.4', '::ffff:1.2.3.4', '2001:DB8::1', 'fe80::1%eth0']) {
      assert.equal(prefixKey(ip, 32, 128), normalizeIp(ip));
    }
  });

  it('refuses bad input', () => {
    assert.throws(() => prefixKey('1.2.3.4', 33, 64), RangeError);
    assert.throws(() => prefixKey('1.2.3.4', 24, 129), RangeError);
    assert.throws(() => prefixKey('1.2.3.4', 1.5, 64), RangeError);
    assert.throws(() => prefixKey('nope', 24, 64), /"nope" is not an IP address/);
  });
});

describe('normalizeCidr', () => {
  it('writes networks canonically; single addresses without /bits', () => {
    assert.equal(normalizeCidr('10.0.0.0/8'), '10.0.0.0/8');
    assert.equal(normalizeCidr('10.1.2.3/32'), '10.1.2.3');
    assert.equal(normalizeCidr('2001:DB8:0::/32'), '2001:db8::/32');
    assert.equal(normalizeCidr('2001:db8::1/128'), '2001:db8::1');
    assert.equal(normalizeCidr('::ffff:10.0.0.0/104'), '10.0.0.0/8');
    assert.equal(normalizeCidr('::ffff:0:0/96'), '0.0.0.0/0');
    assert.equal(normalizeCidr('0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(normalizeCidr('::/0'), '::/0');
  });

  it('explains what is wrong', () => {
    assert.throws(() => normalizeCidr('10.0.0.1/8'), {
      message: '"10.0.0.1/8" has host bits set; the network is 10.0.0.0/8',
    });
    assert.throws(() => normalizeCidr('2001:db8::1/32'), {
      message: '"2001:db8::1/32" has host bits set; the network is 2001:db8::/32',
    });
    assert.throws(() => normalizeCidr('10.0.0.0/33'), {
      message: '"10.0.0.0/33": prefix length must be a number from 0 to 32',
    });
    assert.throws(() => normalizeCidr('::/129'), { message: '"::/129": prefix length must be a number from 0 to 128' });
    for (const bad of ['10.0.0.0/', '10.0.0.0/x', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0.0/8/8']) {
      assert.throws(() => normalizeCidr(bad), /prefix length must be a number/);
    }
    assert.throws(() => normalizeCidr('example.com/8'), {
      message: '"example.com/8" is not an IP address or network (e.g. 10.0.0.0/8, 2001:db8::/32, 192.0.2.7)',
    });
    assert.throws(() => normalizeCidr('fe80::1%eth0'), /is not an IP address or network/);
  });
});

describe('CidrSet', () => {
  it('matches networks, single addresses and nothing else', () => {
    const set = new CidrSet(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '2001:db8:ffff::1']);
    assert.equal(set.size, 4);
    for (const ip of [
      '10.0.0.0',
      '10.255.255.255',
      '192.0.2.7',
      '2001:db8::',
      '2001:db8:ffff:ffff::1',
      '2001:db8:ffff::1',
    ]) {
      assert.ok(set.has(ip), ip);
    }
    for (const ip of ['9.255.255.255', '11.0.0.0', '192.0.2.6', '192.0.2.8', '2001:db9::', '2001:db7:ffff::1', '::1']) {
      assert.ok(!set.has(ip), ip);
    }
  });

  it('handles /0, /32 and /128 exactly', () => {
    const v4all = new CidrSet(['0.0.0.0/0']);
    assert.ok(v4all.has('0.0.0.0') && v4all.has('255.255.255.255') && v4all.has('::ffff:8.8.8.8'));
    assert.ok(!v4all.has('2001:db8::1') && !v4all.has('::'));
    const one = new CidrSet(['198.51.100.1/32', '2001:db8::1/128']);
    assert.ok(one.has('198.51.100.1') && !one.has('198.51.100.0') && !one.has('198.51.100.2'));
    assert.ok(one.has('2001:db8::1') && !one.has('2001:db8::') && !one.has('2001:db8::2'));
    assert.deepEqual([...one], ['198.51.100.1', '2001:db8::1']);
  });

  it('matches IPv4-mapped IPv6 peers as IPv4, both ways', () => {
    const set = new CidrSet(['10.0.0.0/8', '::ffff:192.168.0.0/112']);
    assert.ok(set.has('::ffff:10.1.2.3'));
    assert.ok(set.has('::FFFF:a01:203'));
    assert.ok(set.has('192.168.5.5'));
    assert.ok(set.has('::ffff:192.168.5.5'));
    assert.ok(!set.has('::ffff:192.169.0.1'));
    assert.ok(!set.has('::a01:203')); // IPv4-compatible is not IPv4-mapped
    assert.deepEqual([...set], ['192.168.0.0/16', '10.0.0.0/8']);
  });

  it('counts an IPv6 network that holds all mapped addresses as holding all IPv4', () => {
    const all = new CidrSet(['::/0']);
    assert.ok(all.has('2001:db8::1') && all.has('1.2.3.4') && all.has('::ffff:1.2.3.4'));
    assert.equal(all.size, 1);
    assert.deepEqual([...all], ['::/0']);
    const notMapped = new CidrSet(['::/96']);
    assert.ok(notMapped.has('::1.2.3.4') && !notMapped.has('1.2.3.4'));
    // An explicit 0.0.0.0/0 next to ::/0 is an entry of its own.
    assert.equal(new CidrSet(['::/0', '0.0.0.0/0']).size, 2);
    assert.equal(new CidrSet(['0.0.0.0/0', '::/0']).size, 2);
  });

  it('keeps overlapping networks and ignores duplicates', () => {
    const set = new CidrSet(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3']);
    set.add('10.0.0.0/8').add('::ffff:10.0.0.0/104').add('10.1.2.3/32');
    assert.equal(set.size, 3);
    assert.ok(set.has('10.1.2.3') && set.has('10.1.9.9') && set.has('10.9.9.9'));
    assert.deepEqual(set.toJSON(), ['10.1.2.3', '10.1.0.0/16', '10.0.0.0/8']);
  });

  it('ignores a zone index on lookup and never throws for junk', () => {
    const set = new CidrSet(['fe80::/10']);
    assert.ok(set.has('fe80::1%eth0'));
    for (const junk of ['', 'x', '1.2.3.4.5', '::g', '%', '1.2.3.4%eth0', ' '.repeat(1000)]) {
      assert.equal(set.has(junk), false);
    }
  });

  it('refuses invalid entries with a clear error and stays unchanged', () => {
    const set = new CidrSet(['10.0.0.0/8']);
    assert.throws(() => set.add('10.0.0.0/33'), /prefix length must be a number from 0 to 32/);
    assert.throws(() => set.add('not-an-ip'), /"not-an-ip" is not an IP address or network/);
    assert.equal(set.size, 1);
  });

  it('looks up 100k entries correctly and quickly', () => {
    let seed = 12345;
    const rnd32 = () => {
      // xorshift32
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const v4 = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    const hex = () => (rnd32() & 0xffff).toString(16);
    const set = new CidrSet();
    const hosts = new Set<number>();
    const nets24 = new Set<number>();
    const nets64 = new Set<string>();
    const hosts6 = new Set<string>();
    for (let i = 0; i < 40_000; i++) {
      const a = rnd32();
      hosts.add(a);
      set.add(v4(a));
    }
    for (let i = 0; i < 20_000; i++) {
      const a = rnd32() & 0xffffff00;
      nets24.add(a >>> 8);
      set.add(`${v4(a >>> 0)}/24`);
    }
    for (let i = 0; i < 20_000; i++) {
      const p = `2001:${hex()}:${hex()}:${hex()}`;
      nets64.add(p);
      set.add(`${p}::/64`);
    }
    for (let i = 0; i < 20_000; i++) {
      const a = `2a00:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}`;
      hosts6.add(normalizeIp(a));
      set.add(a);
    }
    assert.equal(set.size, hosts.size + nets24.size + nets64.size + hosts6.size);
    assert.ok(set.size > 99_000);

    const expected4 = (a: number) => hosts.has(a) || nets24.has(a >>> 8);
    const start = process.hrtime.bigint();
    let lookups = 0;
    for (const a of hosts) {
      assert.ok(set.has(v4(a)));
      lookups++;
    }
    const netList = [...nets24];
    for (let i = 0; i < 100_000; i++) {
      // Half the probes inside one of the /24s, half anywhere (almost always outside).
      const a = i % 2 === 0 ? rnd32() : ((netList[i % netList.length]! << 8) | (rnd32() & 255)) >>> 0;
      if (set.has(v4(a)) !== expected4(a)) assert.fail(`wrong answer for ${v4(a)}`);
      if (set.has(`::ffff:${v4(a)}`) !== expected4(a)) assert.fail(`wrong answer for ::ffff:${v4(a)}`);
      lookups += 2;
    }
    for (const p of nets64) {
      assert.ok(set.has(`${p}:1:2:3:4`));
      assert.ok(!set.has(`2002:${p.slice(5)}:1:2:3:4`) || nets64.has(`2002:${p.slice(5)}`));
      lookups += 2;
    }
    for (const h of hosts6) {
      assert.ok(set.has(h));
      const sibling = h.replace(/[0-9a-f]$/, (d) => (d === '0' ? '1' : '0'));
      assert.equal(set.has(sibling), hosts6.has(sibling) || nets64.has(sibling.split(':').slice(0, 4).join(':')));
      lookups += 2;
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    // A linear scan would need ~10^10 comparisons here; the per-prefix maps need a few probes each.
    assert.ok(seconds < 5, `${lookups} lookups took ${seconds}s`);
  });
});
