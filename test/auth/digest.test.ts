import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeHa1, computeResponse, responsesEqual } from '../../src/auth/digest.js';
import { NonceCodec, nonceKey } from '../../src/auth/nonce.js';
import { NonceCountTable, WINDOW } from '../../src/auth/replay.js';
import { parseUsersFile } from '../../src/auth/users.js';

// RFC 7616 3.9.1: Mufasa / "Circle of Life" on http-auth@example.org.
const RFC7616 = {
  username: 'Mufasa',
  realm: 'http-auth@example.org',
  password: 'Circle of Life',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nc: '00000001',
  method: 'GET',
  uri: '/dir/index.html',
};

describe('auth: digest arithmetic', () => {
  it('matches RFC 7616 3.9.1 for MD5', () => {
    const r = RFC7616;
    const ha1 = computeHa1('md5', r.username, r.realm, r.password);
    const response = computeResponse({ ...r, algorithm: 'MD5', ha1, qop: 'auth' });
    assert.equal(response, '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('matches RFC 7616 3.9.1 for SHA-256', () => {
    const r = RFC7616;
    const ha1 = computeHa1('sha256', r.username, r.realm, r.password);
    const response = computeResponse({ ...r, algorithm: 'SHA-256', ha1, qop: 'auth' });
    assert.equal(response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('matches RFC 2617 3.5 (MD5, qop=auth)', () => {
    const ha1 = computeHa1('md5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const response = computeResponse({
      algorithm: 'MD5',
      ha1,
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      nc: '00000001',
      cnonce: '0a4f113b',
      qop: 'auth',
      method: 'GET',
      uri: '/dir/index.html',
    });
    assert.equal(response, '6629fae49393a05397450978507c4ef1');
  });

  it('-sess algorithms hash HA1 with nonce and cnonce', () => {
    const ha1 = computeHa1('md5', 'a', 'r', 'p');
    const base = {
      ha1,
      nonce: 'n',
      nc: '00000001',
      cnonce: 'c',
      qop: 'auth' as const,
      method: 'REGISTER',
      uri: 'sip:x',
    };
    assert.notEqual(
      computeResponse({ ...base, algorithm: 'MD5-sess' }),
      computeResponse({ ...base, algorithm: 'MD5' }),
    );
  });

  it('compares responses case-insensitively and by length', () => {
    assert.equal(responsesEqual('8ca523f5e9506fed4657c9700eebdbec', '8CA523F5E9506FED4657C9700EEBDBEC'), true);
    assert.equal(responsesEqual('8ca523f5e9506fed4657c9700eebdbec', '8ca523f5e9506fed4657c9700eebdbed'), false);
    assert.equal(responsesEqual('8ca523f5e9506fed4657c9700eebdbec', '8ca5'), false);
  });
});

describe('auth: stateless nonces', () => {
  const codec = new NonceCodec(nonceKey('x'.repeat(32)), 60_000);

  it('are valid for their address and realm while young, stale when old', () => {
    const n = codec.issue(1_000_000, '192.0.2.1', 'r');
    assert.equal(n.length, 40);
    assert.equal(codec.check(n, 1_000_000 + 59_000, '192.0.2.1', 'r'), 'valid');
    assert.equal(codec.check(n, 1_000_000 + 61_000, '192.0.2.1', 'r'), 'stale');
    assert.equal(codec.expiresAt(n), 1_060_000);
  });

  it('are invalid for another address, realm, key, or when altered', () => {
    const n = codec.issue(1_000_000, '192.0.2.1', 'r');
    assert.equal(codec.check(n, 1_000_000, '192.0.2.2', 'r'), 'invalid');
    assert.equal(codec.check(n, 1_000_000, '192.0.2.1', 'other'), 'invalid');
    assert.equal(new NonceCodec(nonceKey('y'.repeat(32)), 60_000).check(n, 1_000_000, '192.0.2.1', 'r'), 'invalid');
    const flipped = n[5] === 'A' ? 'B' : 'A';
    assert.equal(codec.check(n.slice(0, 5) + flipped + n.slice(6), 1_000_000, '192.0.2.1', 'r'), 'invalid');
    assert.equal(codec.check('short', 1_000_000, '192.0.2.1', 'r'), 'invalid');
    assert.equal(codec.check('!'.repeat(40), 1_000_000, '192.0.2.1', 'r'), 'invalid');
    // From the future (beyond the clock skew tolerated).
    assert.equal(codec.check(codec.issue(2_000_000, '192.0.2.1', 'r'), 1_000_000, '192.0.2.1', 'r'), 'invalid');
  });

  it('are unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(codec.issue(5, '192.0.2.1', 'r'));
    assert.equal(seen.size, 1000);
  });

  it('verify with another instance holding the same secret', () => {
    const other = new NonceCodec(nonceKey('x'.repeat(32)), 60_000);
    assert.equal(other.check(codec.issue(7_000, '2001:db8::1', 'r'), 7_000, '2001:db8::1', 'r'), 'valid');
  });
});

describe('auth: nonce-count table', () => {
  it('accepts rising nc, reordering in the window, retransmissions; refuses replays', () => {
    const t = new NonceCountTable(1000);
    assert.equal(t.use('n', 1, 11, 0, 100_000, 0), 'ok');
    assert.equal(t.use('n', 3, 13, 0, 100_000, 0), 'ok');
    assert.equal(t.use('n', 2, 12, 0, 100_000, 0), 'ok', 'reordered');
    assert.equal(t.use('n', 2, 12, 0, 100_000, 0), 'ok', 'retransmission of nc 2');
    assert.equal(t.use('n', 3, 13, 0, 100_000, 0), 'ok', 'retransmission of nc 3');
    assert.equal(t.use('n', 2, 99, 0, 100_000, 0), 'replay', 'nc 2 on another request');
    assert.equal(t.use('n', 3, 99, 0, 100_000, 0), 'replay');
    assert.equal(t.use('n', 3 + WINDOW + 5, 1, 0, 100_000, 0), 'ok');
    assert.equal(t.use('n', 4, 14, 0, 100_000, 0), 'replay', 'below the window');
  });

  it('stays bounded; an evicted nonce is answered stale, never accepted again as new', () => {
    const t = new NonceCountTable(100);
    for (let i = 0; i < 150; i++) assert.equal(t.use(`n${i}`, 1, i, i, 1_000_000, 0), 'ok');
    assert.equal(t.size, 100);
    assert.ok(t.evictions >= 50);
    assert.equal(t.use('n0', 1, 0, 0, 1_000_000, 0), 'evicted', 'a replay of an evicted nonce');
    assert.equal(t.use('fresh', 1, 0, 1000, 1_000_000, 0), 'ok', 'a nonce made later');
  });

  it('drops expired entries first', () => {
    const t = new NonceCountTable(100);
    for (let i = 0; i < 100; i++) t.use(`n${i}`, 1, i, i, 10, 0);
    assert.equal(t.use('late', 1, 0, 500, 1000, 20), 'ok');
    assert.equal(t.evictions, 0);
  });
});

describe('auth: users file', () => {
  it('reads both forms, reports bad lines by number without quoting them', () => {
    const md5 = '0'.repeat(32);
    const sha = 'a'.repeat(64);
    const { users, problems } = parseUsersFile(
      [
        '# users',
        `alice:example.com:${md5}`,
        `alice:example.com:${sha}`,
        `bob:example.com:sha-256:${sha.toUpperCase()}`,
        'carol:example.com:MyPassword',
        `dave:example.com:sha-512:${sha}`,
        `bad user:example.com:${md5}`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(users.get('alice\0example.com'), { md5, sha256: sha });
    assert.deepEqual(users.get('bob\0example.com'), { md5: undefined, sha256: sha });
    assert.deepEqual(
      problems.map((p) => p.line),
      [5, 6, 7],
    );
    assert.ok(problems.every((p) => !p.message.includes('MyPassword')));
  });
});
