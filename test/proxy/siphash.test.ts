import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { SipHashKey, sipHash24 } from '../../src/net/siphash.js';
import { BRANCH_PREFIX, BranchSigner } from '../../src/proxy/branch.js';

/** An independent SipHash-2-4 (the `siphash` package), to compare with on random inputs. */
const reference = createRequire(import.meta.url)('siphash') as {
  hash_hex(key: Uint32Array | number[], m: string | Uint8Array): string;
};

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const bytes = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(i)).join('');

describe('SipHash-2-4', () => {
  it('gives the reference vectors (Aumasson and Bernstein, vectors.h)', () => {
    const k = new SipHashKey(KEY);
    assert.equal(sipHash24(k, ''), '726fdb47dd0e0e31');
    assert.equal(sipHash24(k, bytes(1)), '74f839c593dc67fd');
    assert.equal(sipHash24(k, bytes(7)), 'ab0200f58b01d137');
    assert.equal(sipHash24(k, bytes(8)), '93f5f5799a932462');
    assert.equal(sipHash24(k, bytes(15)), 'a129ca6149be45e5');
    assert.equal(sipHash24(k, bytes(63)), '958a324ceb064572');
  });

  it('agrees with an independent implementation on random keys and ASCII inputs of every length', () => {
    for (let n = 0; n < 200; n++) {
      const key = randomBytes(16);
      const words = [0, 4, 8, 12].map((o) => key.readUInt32LE(o));
      const text = Array.from(randomBytes(n), (b) => String.fromCharCode(0x20 + (b % 0x5f))).join('');
      assert.equal(sipHash24(new SipHashKey(key), text), reference.hash_hex(words, Buffer.from(text, 'latin1')));
    }
  });
});

describe('BranchSigner', () => {
  const signer = new BranchSigner(randomBytes(32));
  const route = 'd0-0|udp|192.0.2.7|5060';

  it('verifies its own branches for the route signed, and nothing else', () => {
    const branch = signer.sign('1abc23', route);
    assert.ok(branch.startsWith(BRANCH_PREFIX));
    assert.ok(signer.verify(branch, route));
    assert.ok(!signer.verify(branch, 'd0-0|udp|192.0.2.7|5061'), 'another port');
    assert.ok(!signer.verify(branch, 'c1-7|udp|192.0.2.7|5060'), 'another connection');
    assert.ok(!signer.verify(branch.replace('1abc23', '1abc24'), route), 'another id');
    assert.ok(!signer.verify(`${branch.slice(0, -1)}${branch.endsWith('0') ? '1' : '0'}`, route), 'another MAC');
    assert.ok(!signer.verify(`${BRANCH_PREFIX}1abc23`, route), 'no MAC');
    assert.ok(!new BranchSigner(randomBytes(32)).verify(branch, route), 'another installation');
  });

  it('refuses characters beyond ASCII rather than hashing their low octets', () => {
    const branch = signer.sign('1abc23', route);
    assert.ok(!signer.verify(branch, 'd0-0|udp|192.0.2.7|5060'.replace('d', '\u0164')));
  });
});
