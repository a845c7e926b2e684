import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { base32DecodeInto, base32Encode } from '../../src/topology/base32.js';
import { TwoGenerationMemo } from '../../src/topology/memo.js';
import {
  looksLikeToken,
  MAX_PLAIN_BYTES,
  MAX_TOKEN_LENGTH,
  MIN_TOKEN_LENGTH,
  TOKEN_OVERHEAD_BYTES,
  TOKEN_PATTERN,
  TopologyTokens,
  tokenLength,
} from '../../src/topology/token.js';

/** Small seeded PRNG (mulberry32) so every run checks the same generated cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-byte key from a label, so tests are reproducible. */
function key(label: string): Buffer {
  return createHash('sha256').update(label).digest();
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const CANONICAL = /^[a-z][a-z2-7]+$/;
const VIA_V4 = 'SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bK776asdhds;rport';
const VIA_V6 = 'SIP/2.0/TCP [2001:db8:85a3:8d3:1319:8a2e:370:7348]:5060;branch=z9hG4bKnashds8;rport';

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  word(
    min: number,
    max: number,
    chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*',
  ): string {
    let s = '';
    const n = min + this.int(max - min + 1);
    for (let i = 0; i < n; i++) s += chars[this.int(chars.length)];
    return s;
  }
  ipv4(): string {
    return [0, 1, 2, 3].map(() => this.int(256)).join('.');
  }
  ipv6(): string {
    const groups = Array.from({ length: 8 }, () => this.int(0x10000).toString(16));
    const text = groups.join(':');
    return this.int(2) === 0 ? text : text.replace(/(^|:)0(:0)+(:|$)/, '::');
  }
  host(): string {
    switch (this.int(3)) {
      case 0:
        return this.ipv4();
      case 1:
        return `[${this.ipv6()}]`;
      default:
        return `${this.word(1, 20, 'abcdefghijklmnopqrstuvwxyz0123456789-')}.example.net`;
    }
  }
  hostPort(): string {
    return this.int(3) === 0 ? this.host() : `${this.host()}:${1 + this.int(65535)}`;
  }
  escaped(): string {
    return `%${this.int(256).toString(16).padStart(2, '0').toUpperCase()}`;
  }
  params(max: number): string {
    let s = '';
    const n = this.int(max + 1);
    for (let i = 0; i < n; i++) {
      s += `;${this.word(1, 12)}`;
      if (this.int(2) === 0) s += `=${this.word(0, 30)}${this.int(3) === 0 ? this.escaped() : ''}`;
    }
    return s;
  }
  uri(): string {
    const user = this.int(4) === 0 ? '' : `${this.word(1, 16)}${this.int(3) === 0 ? this.escaped() : ''}@`;
    return `${this.pick(['sip', 'sips'])}:${user}${this.hostPort()}${this.params(4)}`;
  }
  via(): string {
    const transport = this.pick(['UDP', 'TCP', 'TLS', 'WS', 'WSS', 'SCTP']);
    return `SIP/2.0/${transport} ${this.hostPort()};branch=z9hG4bK${this.word(4, 32)}${this.params(12)}`;
  }
  wsContact(): string {
    // A long WebSocket Contact as browsers' SIP stacks send them, about 200 characters.
    return `<sip:${this.word(8, 8)}@${this.word(12, 12, 'abcdefghijklmnopqrstuvwxyz0123456789')}.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${this.uuid()}>";expires=600${this.params(3)}`;
  }
  uuid(): string {
    const hex = '0123456789abcdef';
    return `${this.word(8, 8, hex)}-${this.word(4, 4, hex)}-4${this.word(3, 3, hex)}-8${this.word(3, 3, hex)}-${this.word(12, 12, hex)}`;
  }
  nonAscii(): string {
    const pieces = ['é', 'ß', 'Ω', '日本', '😀', '\u00ff', '\u0080', '\u200b', 'ü'];
    let s = '';
    const n = this.int(10);
    for (let i = 0; i < n; i++) s += this.int(2) === 0 ? this.pick(pieces) : this.word(1, 5);
    return s;
  }
  value(): string {
    switch (this.int(6)) {
      case 0:
        return this.uri();
      case 1:
        return this.via();
      case 2:
        return this.wsContact();
      case 3:
        return this.nonAscii();
      case 4:
        return `${this.word(8, 40)}@${this.host()}`; // a Call-ID
      default:
        return this.word(0, 3);
    }
  }
}

const tokens = new TopologyTokens({ current: key('current') });
/** The same key without memo: every call goes through the cipher. */
const uncached = new TopologyTokens({ current: key('current') }, { memo: 0 });

describe('base32', () => {
  it('matches the RFC 4648 test vectors, lowercase and without padding', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    const out = Buffer.alloc(16);
    for (const [plain, encoded] of vectors) {
      assert.equal(base32Encode(Buffer.from(plain)), encoded);
      const n = base32DecodeInto(encoded.toUpperCase(), out);
      assert.equal(out.subarray(0, n).toString(), plain);
    }
  });

  it('round-trips random byte strings of every length up to 64 against a bit-by-bit reference', () => {
    const r = rng(32);
    const out = Buffer.alloc(64);
    for (let len = 0; len <= 64; len++) {
      for (let k = 0; k < 20; k++) {
        const data = Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256)));
        let bitsText = '';
        for (const byte of data) bitsText += byte.toString(2).padStart(8, '0');
        while (bitsText.length % 5 !== 0) bitsText += '0';
        let reference = '';
        for (let i = 0; i < bitsText.length; i += 5)
          reference += ALPHABET[Number.parseInt(bitsText.slice(i, i + 5), 2)];
        assert.equal(base32Encode(data), reference);
        const n = base32DecodeInto(reference, out);
        assert.equal(n, len);
        assert.deepEqual(out.subarray(0, n), data);
      }
    }
  });

  it('refuses impossible lengths, foreign characters and non-zero unused bits', () => {
    const out = Buffer.alloc(16);
    assert.equal(base32DecodeInto('m', out), -1);
    assert.equal(base32DecodeInto('mzx', out), -1);
    assert.equal(base32DecodeInto('mzxw6y', out), -1);
    assert.equal(base32DecodeInto('mz=', out), -1);
    assert.equal(base32DecodeInto('m1', out), -1);
    assert.equal(base32DecodeInto('mz', out), -1); // "my" is canonical for "f"; "mz" sets an unused bit
    assert.equal(base32DecodeInto('mé', out), -1);
    assert.equal(base32DecodeInto('mzxw6ytboi', Buffer.alloc(5)), -1);
  });
});

describe('TopologyTokens round trip', () => {
  it('decode(encode(x)) === x for 5000 generated SIP values, every token canonical', () => {
    const gen = new Gen(rng(3261));
    const values = ['', ' ', VIA_V4, VIA_V6, 'a'.repeat(MAX_PLAIN_BYTES)];
    for (let i = 0; i < 5000; i++) values.push(gen.value());
    for (const value of values) {
      const token = tokens.encode(value);
      assert.match(token, CANONICAL);
      assert.match(token, TOKEN_PATTERN);
      assert.equal(token.length, tokenLength(Buffer.byteLength(value)));
      assert.ok(looksLikeToken(token), token);
      assert.equal(tokens.decode(token), value);
      assert.equal(uncached.encode(value), token);
      assert.equal(uncached.decode(token), value);
      assert.equal(tokens.encode(value), token, 'memo hit');
      assert.equal(tokens.decode(token), value, 'memo hit');
    }
  });

  it('accepts upper- and mixed-case tokens, as user agents may rewrite host case', () => {
    const gen = new Gen(rng(7));
    for (let i = 0; i < 200; i++) {
      const value = gen.value();
      const token = tokens.encode(value);
      assert.equal(tokens.decode(token.toUpperCase()), value);
      const mixed = token.replace(/[a-z]/g, (c) => (gen.int(2) === 0 ? c.toUpperCase() : c));
      assert.equal(tokens.decode(mixed), value);
      assert.ok(looksLikeToken(mixed));
    }
  });
});

describe('TopologyTokens determinism', () => {
  it('gives the same token for the same value, also from another instance with the same key', () => {
    const other = new TopologyTokens({ current: key('current') });
    for (const value of [VIA_V4, VIA_V6, '', 'a84b4c76e66710@pc33.atlanta.com']) {
      const token = tokens.encode(value);
      assert.equal(tokens.encode(value), token);
      assert.equal(other.encode(value), token);
      assert.equal(other.decode(token), value);
    }
  });

  it('gives different tokens for different keys and for values differing in one character', () => {
    const other = new TopologyTokens({ current: key('other') });
    assert.notEqual(other.encode(VIA_V4), tokens.encode(VIA_V4));
    assert.equal(other.decode(tokens.encode(VIA_V4)), undefined);
    const seen = new Set<string>();
    for (let i = 0; i < 256; i++) seen.add(tokens.encode(`SIP/2.0/UDP 10.0.0.${i}:5060;branch=z9hG4bK1`));
    assert.equal(seen.size, 256);
  });
});

describe('TopologyTokens tamper detection', () => {
  const samples = ['', 'x', VIA_V4, '<sip:alice@10.0.0.5:5080;transport=tcp>'].map((v) => tokens.encode(v));

  it('rejects every single-character substitution at every position', () => {
    for (const token of samples) {
      for (let i = 0; i < token.length; i++) {
        for (const c of `${ALPHABET}01=-_.`) {
          if (c === token[i]) continue;
          const forged = token.slice(0, i) + c + token.slice(i + 1);
          assert.equal(tokens.decode(forged), undefined, `position ${i} -> ${c}`);
          assert.equal(uncached.decode(forged), undefined, `position ${i} -> ${c}`);
        }
      }
    }
  });

  it('rejects every deletion, insertion and append', () => {
    for (const token of samples) {
      for (let i = 0; i < token.length; i++) {
        assert.equal(tokens.decode(token.slice(0, i) + token.slice(i + 1)), undefined, `delete ${i}`);
        for (const c of ['a', '7', 'q']) {
          assert.equal(tokens.decode(token.slice(0, i) + c + token.slice(i)), undefined, `insert ${c} at ${i}`);
        }
      }
      for (const c of ALPHABET) assert.equal(tokens.decode(token + c), undefined, `append ${c}`);
      for (let cut = 1; cut <= 8; cut++) assert.equal(tokens.decode(token.slice(0, -cut)), undefined);
    }
  });

  it('rejects flipped bits in the decoded bytes, including the key id and the tag', () => {
    const token = samples[2]!;
    const bytes = Buffer.alloc(token.length);
    const n = base32DecodeInto(token, bytes);
    for (let i = 0; i < n; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const forged = Buffer.from(bytes.subarray(0, n));
        forged[i]! ^= 1 << bit;
        assert.equal(uncached.decode(base32Encode(forged)), undefined, `byte ${i} bit ${bit}`);
      }
    }
  });

  it('never throws on garbage, and gives undefined for non-tokens', () => {
    const gen = new Gen(rng(99));
    const garbage: unknown[] = [
      '',
      'a',
      'z9hG4bK',
      ' '.repeat(60),
      'a'.repeat(MAX_TOKEN_LENGTH + 8),
      '\u0000'.repeat(64),
    ];
    garbage.push(undefined, null, 42, {}, ['a']);
    for (let i = 0; i < 2000; i++) garbage.push(gen.word(0, 200, `${ALPHABET}ABCXYZ018=-_%é`));
    for (let i = 0; i < 2000; i++) garbage.push(gen.word(MIN_TOKEN_LENGTH, MIN_TOKEN_LENGTH + 40, ALPHABET));
    for (const g of garbage) assert.equal(tokens.decode(g as string), undefined);
    assert.equal(looksLikeToken(42 as unknown as string), false);
  });
});

describe('TopologyTokens key rotation', () => {
  const until = 1_800_000_000_000;
  const old = new TopologyTokens({ current: key('2025 key') });
  const rotated = new TopologyTokens({ current: key('2026 key'), previous: [{ key: key('2025 key'), until }] });

  it('decodes tokens of a previous key until its `until`, not from then on', () => {
    const token = old.encode(VIA_V4);
    assert.equal(rotated.decode(token, until - 86_400_000), VIA_V4);
    assert.equal(rotated.decode(token, until - 1), VIA_V4);
    assert.equal(rotated.decode(token, until), undefined);
    assert.equal(rotated.decode(token, until + 1), undefined);
    assert.equal(rotated.decode(token, Number.NaN), undefined);
  });

  it('encodes with the current key only, whose tokens never expire', () => {
    const token = rotated.encode(VIA_V4);
    assert.notEqual(token, old.encode(VIA_V4));
    assert.equal(old.decode(token), undefined);
    assert.equal(rotated.decode(token, until * 10), VIA_V4);
    assert.equal(rotated.decode(token, Number.NaN), VIA_V4);
    assert.equal(new TopologyTokens({ current: key('2026 key') }, { memo: 0 }).decode(token, Number.NaN), VIA_V4);
    assert.notEqual(rotated.currentKeyId, old.currentKeyId);
  });

  it('refuses a token whose key id is not configured', () => {
    const token = tokens.encode(VIA_V4);
    const bytes = Buffer.alloc(token.length);
    const n = base32DecodeInto(token, bytes);
    const known = new Set([tokens.currentKeyId]);
    for (let id = 0; id < 256; id++) {
      if (known.has(id)) continue;
      bytes[0] = id;
      assert.equal(tokens.decode(base32Encode(bytes, n)), undefined, `key id ${id}`);
    }
    assert.equal(new TopologyTokens({ current: key('stranger') }).decode(token), undefined);
  });

  it('tries every key sharing a key id (ids are one byte, so two keys may share one)', () => {
    const a = new TopologyTokens({ current: key('collide 0') });
    let b: TopologyTokens | undefined;
    let label = '';
    for (let i = 1; i < 20_000 && b === undefined; i++) {
      const candidate = new TopologyTokens({ current: key(`collide ${i}`) });
      if (candidate.currentKeyId === a.currentKeyId) {
        b = candidate;
        label = `collide ${i}`;
      }
    }
    assert.ok(b, 'no colliding key id found');
    const both = new TopologyTokens({ current: key('collide 0'), previous: [{ key: key(label), until: Infinity }] });
    assert.equal(both.decode(a.encode(VIA_V6)), VIA_V6);
    assert.equal(both.decode(b.encode(VIA_V6)), VIA_V6);
  });

  it('refuses badly sized keys and a missing `until`', () => {
    assert.throws(() => new TopologyTokens({ current: Buffer.alloc(16) }), RangeError);
    assert.throws(() => new TopologyTokens({ current: 'x'.repeat(32) as unknown as Buffer }), RangeError);
    assert.throws(
      () => new TopologyTokens({ current: key('a'), previous: [{ key: key('b'), until: Number.NaN }] }),
      RangeError,
    );
    assert.throws(() => new TopologyTokens({ current: key('a') }, { memo: -1 }), RangeError);
  });
});

describe('TopologyTokens lengths and bounds', () => {
  it('starts every token with a letter, whatever the key id', () => {
    for (let i = 0; i < 300; i++) {
      const t = new TopologyTokens({ current: key(`first letter ${i}`) });
      assert.ok(t.currentKeyId < 208);
      assert.match(t.encode('')[0]!, /[a-z]/);
    }
  });

  it('has the documented lengths for typical values', () => {
    const ws = `<sip:${'k'.repeat(8)}@${'r'.repeat(12)}.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}>";expires=600;x=${'y'.repeat(55)}`;
    assert.equal(ws.length, 200);
    assert.equal(TOKEN_OVERHEAD_BYTES, 29);
    assert.equal(MIN_TOKEN_LENGTH, 47);
    assert.equal(tokens.encode(VIA_V4).length, 136); // 56 characters
    assert.equal(tokens.encode(VIA_V6).length, 180); // 83 characters
    assert.equal(tokens.encode(ws).length, 367); // 200 characters
    assert.equal(MAX_TOKEN_LENGTH, 3324);
  });

  it('refuses plaintexts over maxPlainBytes and text UTF-8 cannot carry, with a RangeError', () => {
    assert.equal(tokens.maxPlainBytes, MAX_PLAIN_BYTES);
    assert.equal(tokens.encode('a'.repeat(MAX_PLAIN_BYTES)).length, MAX_TOKEN_LENGTH);
    assert.throws(() => tokens.encode('a'.repeat(MAX_PLAIN_BYTES + 1)), RangeError);
    assert.throws(() => tokens.encode('é'.repeat(MAX_PLAIN_BYTES / 2 + 1)), RangeError);
    assert.throws(() => tokens.encode('a\ud800b'), RangeError);
    assert.throws(() => tokens.encode('\udc00'), RangeError);
    assert.equal(tokens.decode(tokens.encode('a\ud83d\ude00b')), 'a😀b');
  });
});

describe('TwoGenerationMemo', () => {
  it('holds at most twice its capacity and keeps entries in use', () => {
    const memo = new TwoGenerationMemo(100);
    memo.set('hot', 'H');
    for (let i = 0; i < 10_000; i++) {
      memo.set(`k${i}`, `v${i}`);
      assert.equal(memo.get('hot'), 'H', `hot entry lost after ${i}`);
      assert.ok(memo.size <= 200);
    }
    assert.equal(memo.get('k9999'), 'v9999');
    assert.equal(memo.get('k0'), undefined);
  });

  it('remembers nothing with capacity 0', () => {
    const memo = new TwoGenerationMemo(0);
    memo.set('a', 'b');
    assert.equal(memo.get('a'), undefined);
    assert.equal(memo.size, 0);
  });
});

describe('TopologyTokens memo and rotation', () => {
  it('does not serve a token of an expired previous key from memory', () => {
    const until = 1_800_000_000_000;
    const token = new TopologyTokens({ current: key('old') }).encode(VIA_V4);
    const rotated = new TopologyTokens({ current: key('new'), previous: [{ key: key('old'), until }] });
    assert.equal(rotated.decode(token, until - 1), VIA_V4);
    assert.equal(rotated.decode(token, until - 1), VIA_V4);
    assert.equal(rotated.decode(token, until), undefined);
  });
});
