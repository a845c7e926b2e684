/**
 * Lowercase RFC 4648 base32 ("a".."z", "2".."7") without padding, for topology tokens.
 *
 * Why base32 and not base64url: a token may land in a host name or a Via host/param, where
 * case is not significant and some user agents lower- or upper-case what they echo back.
 * Base32 survives that: decoding accepts either case.
 *
 * Decoding is strict so that every token has exactly one spelling (up to case): a length
 * that no byte count produces, a character outside the alphabet or non-zero unused bits in
 * the last character all give `undefined`. Without the last rule, changing the last
 * character of a token could leave its bytes (and so its validity) unchanged.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Character code -> 5-bit value, or 0xff for characters outside the alphabet (either case). */
const DECODE = new Uint8Array(128).fill(0xff);
for (let i = 0; i < 32; i++) {
  DECODE[ALPHABET.charCodeAt(i)] = i;
  DECODE[ALPHABET.toUpperCase().charCodeAt(i)] = i;
}

/** ASCII codes of the alphabet, so encoding builds a byte buffer and decodes it once as latin1. */
const ENCODE = new Uint8Array(32);
for (let i = 0; i < 32; i++) ENCODE[i] = ALPHABET.charCodeAt(i);

/** Number of base32 characters for `bytes` bytes, without padding. */
export function base32Length(bytes: number): number {
  return Math.ceil((bytes * 8) / 5);
}

/**
 * Number of bytes a base32 text of `chars` characters decodes to, or -1 when no byte count
 * encodes to that many characters (remainders 1, 3 and 6 modulo 8).
 */
export function base32ByteLength(chars: number): number {
  const rest = chars & 7;
  if (rest === 1 || rest === 3 || rest === 6) return -1;
  return Math.floor((chars * 5) / 8);
}

/** Output of `base32Encode`, reused: one latin1 decode of it makes the returned string. */
let encodeScratch = Buffer.allocUnsafe(4096);

/** Buffer#latin1Slice: the same as toString('latin1', a, b) without its argument handling. */
type Latin1Slice = (this: Buffer, start: number, end: number) => string;
const latin1Slice: Latin1Slice =
  (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

/** Encodes `data[0, length)` as lowercase base32 without padding. */
export function base32Encode(data: Uint8Array, length: number = data.length): string {
  const chars = base32Length(length);
  if (encodeScratch.length < chars) encodeScratch = Buffer.allocUnsafe(chars);
  const out = encodeScratch;
  let o = 0;
  let i = 0;
  // Whole 5-byte groups give 8 characters each; 40 bits do not fit a 32-bit int, so split.
  for (const whole = length - (length % 5); i < whole; i += 5) {
    const b0 = data[i]!;
    const b1 = data[i + 1]!;
    const b2 = data[i + 2]!;
    const b3 = data[i + 3]!;
    const b4 = data[i + 4]!;
    out[o] = ENCODE[b0 >>> 3]!;
    out[o + 1] = ENCODE[((b0 & 7) << 2) | (b1 >>> 6)]!;
    out[o + 2] = ENCODE[(b1 >>> 1) & 31]!;
    out[o + 3] = ENCODE[((b1 & 1) << 4) | (b2 >>> 4)]!;
    out[o + 4] = ENCODE[((b2 & 15) << 1) | (b3 >>> 7)]!;
    out[o + 5] = ENCODE[(b3 >>> 2) & 31]!;
    out[o + 6] = ENCODE[((b3 & 3) << 3) | (b4 >>> 5)]!;
    out[o + 7] = ENCODE[b4 & 31]!;
    o += 8;
  }
  let acc = 0;
  let bits = 0;
  for (; i < length; i++) {
    acc = ((acc << 8) | data[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[o++] = ENCODE[(acc >>> bits) & 31]!;
    }
  }
  if (bits > 0) out[o++] = ENCODE[(acc << (5 - bits)) & 31]!;
  return latin1Slice.call(out, 0, o);
}

/**
 * Decodes base32 text (either case, no padding) into `out`, returning the byte count, or -1
 * for text that is not the canonical encoding of some bytes or does not fit `out`.
 */
export function base32DecodeInto(text: string, out: Uint8Array): number {
  const n = base32ByteLength(text.length);
  if (n < 0 || n > out.length) return -1;
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : 0xff;
    if (v === 0xff) return -1;
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // The leftover bits (fewer than 5) are padding and must be zero.
  if ((acc & ((1 << bits) - 1)) !== 0) return -1;
  return o;
}
