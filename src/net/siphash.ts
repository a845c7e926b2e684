/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed pseudo-random function made for short
 * inputs, with a 64-bit output. sipwarden uses it as the MAC of its branches, where an
 * HMAC-SHA256 costs several microseconds a message (a crypto object per call) and this costs
 * a fraction of one. A 64-bit tag is plenty where every guess costs the attacker a datagram
 * and a wrong one is simply dropped.
 *
 * Written for V8: the 64-bit lanes are pairs of int32 halves. Checked against the reference
 * vectors and against an independent implementation in test/proxy/siphash.test.ts.
 */

/** A SipHash-2-4 key: 16 bytes, read as two little-endian 64-bit words. */
export class SipHashKey {
  readonly k0h: number;
  readonly k0l: number;
  readonly k1h: number;
  readonly k1l: number;

  constructor(key: Buffer) {
    if (key.length < 16) throw new Error('a SipHash key has 16 bytes');
    this.k0l = key.readInt32LE(0);
    this.k0h = key.readInt32LE(4);
    this.k1l = key.readInt32LE(8);
    this.k1h = key.readInt32LE(12);
  }
}

/**
 * SipHash-2-4 of the octets of `s` (each character must be below 0x100: callers pass ASCII),
 * as 16 lower-case hex digits (the 64-bit result, most significant first).
 *
 * The state stays in local int32 variables (registers once optimised: module-level variables
 * would box every value above 2^30), and the round is written out once, in the loop that runs it.
 */
export function sipHash24(key: SipHashKey, s: string): string {
  let v0h = key.k0h ^ 0x736f6d65;
  let v0l = key.k0l ^ 0x70736575;
  let v1h = key.k1h ^ 0x646f7261;
  let v1l = key.k1l ^ 0x6e646f6d;
  let v2h = key.k0h ^ 0x6c796765;
  let v2l = key.k0l ^ 0x6e657261;
  let v3h = key.k1h ^ 0x74656462;
  let v3l = key.k1l ^ 0x79746573;
  let t = 0;
  const n = s.length;
  const blocks = (n >>> 3) + 1;
  let ml = 0;
  let mh = 0;
  // Each block: absorbed with 2 rounds. Then the finalisation: 4 rounds, no block.
  for (let b = 0, final = false; ; ) {
    if (!final) {
      const i = b * 8;
      if (b < blocks - 1) {
        ml = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
        mh =
          s.charCodeAt(i + 4) | (s.charCodeAt(i + 5) << 8) | (s.charCodeAt(i + 6) << 16) | (s.charCodeAt(i + 7) << 24);
      } else {
        // The last block: the remaining octets, and the length (mod 256) in the top octet.
        ml = 0;
        mh = (n & 0xff) << 24;
        for (let k = 0; i + k < n; k++) {
          const c = s.charCodeAt(i + k);
          if (k < 4) ml |= c << (8 * k);
          else mh |= c << (8 * (k - 4));
        }
      }
      v3h ^= mh;
      v3l ^= ml;
    }
    for (let r = final ? 4 : 2; r > 0; r--) {
      // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
      t = (v0l + v1l) | 0;
      v0h = (v0h + v1h + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = t;
      t = (v1h << 13) | (v1l >>> 19);
      v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
      v1h = t ^ v0h;
      t = v0h;
      v0h = v0l;
      v0l = t;
      // v2 += v3; v3 = rotl(v3, 16) ^ v2
      t = (v2l + v3l) | 0;
      v2h = (v2h + v3h + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = t;
      t = (v3h << 16) | (v3l >>> 16);
      v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
      v3h = t ^ v2h;
      // v0 += v3; v3 = rotl(v3, 21) ^ v0
      t = (v0l + v3l) | 0;
      v0h = (v0h + v3h + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = t;
      t = (v3h << 21) | (v3l >>> 11);
      v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
      v3h = t ^ v0h;
      // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
      t = (v2l + v1l) | 0;
      v2h = (v2h + v1h + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = t;
      t = (v1h << 17) | (v1l >>> 15);
      v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
      v1h = t ^ v2h;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    if (final) break;
    v0h ^= mh;
    v0l ^= ml;
    if (++b === blocks) {
      v2l ^= 0xff;
      final = true;
    }
  }
  const h = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  const l = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  return h.toString(16).padStart(8, '0') + l.toString(16).padStart(8, '0');
}
