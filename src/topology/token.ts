/**
 * Topology tokens: internal SIP values (a Via entry, a Record-Route URI, an upstream
 * Contact, a Call-ID) sealed into an opaque text that is valid wherever the value is
 * placed on the outside, and opened again, exactly, when a message comes back.
 *
 * Format (docs/topology-tokens.md has the byte-by-byte description and the reasons):
 *
 *   token = base32lower( keyId[1] || siv[12] || AES-256-GCM(plaintext)[n] || tag[16] )
 *
 * - The nonce is synthetic (SIV style): the first 96 bits of HMAC-SHA256 of the plaintext
 *   under a key of its own. The same value under the same key always gives the same token,
 *   so retransmissions and every sipwarden instance sharing the key map a Call-ID or a Via
 *   identically. The price of deterministic encryption: an observer can tell that two
 *   tokens hide the same value, nothing more.
 * - Cipher key, nonce key and key id are derived from the configured 32-byte key with HKDF,
 *   once, when the keys are loaded; nothing is set up per call beyond the cipher context.
 * - Key rotation: `current` encrypts; each `previous` key still decrypts until its `until`.
 *   The key id byte lets decoding pick the key directly instead of trying all of them.
 * - Decoding never throws: anything forged, modified, truncated, made under an unknown or
 *   expired key, or not a token at all gives `undefined`.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { base32ByteLength, base32DecodeInto, base32Encode, base32Length } from './base32.js';
import { TwoGenerationMemo } from './memo.js';

/** Configured key material: one current key, and older keys still accepted for a while. */
export interface TopologyKeys {
  /** 32 random bytes; encrypts every new token and decrypts them. */
  current: Buffer;
  /** Keys rotated out: tokens made under them decode while `Date.now() < until` (epoch ms). */
  previous?: Array<{ key: Buffer; until: number }>;
}

/** Tuning; the defaults suit a proxy. */
export interface TopologyTokensOptions {
  /**
   * Values and tokens remembered for `encode` and for `decode` under the current key (each
   * memo holds at most twice this many entries; 0 turns memoing off). The same upstream
   * Contact, Record-Route and Call-ID are sealed on every message of a dialog and the same
   * Via token comes back on every response of a transaction, so most calls become a map
   * lookup. Only tokens that passed authentication are remembered, so forged tokens cannot
   * fill the memo. Default 4096.
   */
  memo?: number;
}

/** Bytes of the key id, the synthetic nonce and the GCM tag around the ciphertext. */
export const KEY_ID_BYTES = 1;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const TOKEN_OVERHEAD_BYTES = KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES;

/** Largest plaintext, in UTF-8 bytes, that `encode` accepts. */
export const MAX_PLAIN_BYTES = 2048;

/** Length in characters of the token for a plaintext of `plainBytes` UTF-8 bytes. */
export function tokenLength(plainBytes: number): number {
  return base32Length(TOKEN_OVERHEAD_BYTES + plainBytes);
}

/** Shortest token (empty plaintext) and longest (MAX_PLAIN_BYTES), in characters. */
export const MIN_TOKEN_LENGTH = tokenLength(0);
export const MAX_TOKEN_LENGTH = tokenLength(MAX_PLAIN_BYTES);

/**
 * Key ids are kept below 208 so that the first base32 character (the top five bits of the
 * key id) is a letter: a token then also parses as a host name label, which must not start
 * with a digit in the last label of a SIP host name (RFC 3261 `toplabel`).
 */
const KEY_ID_LIMIT = 26 << 3;

/** Every token in its canonical (lowercase) form matches this; decoding also accepts upper case. */
export const TOKEN_PATTERN = /^[a-z][a-z2-7]*$/;

const HKDF_SALT = Buffer.from('sipwarden topology tokens v1', 'latin1');

/** One configured key, with everything derived from it prepared once. */
class TokenKey {
  readonly id: number;
  readonly cipherKey: KeyObject;
  readonly nonceKey: KeyObject;
  /** Epoch ms after which tokens under this key are refused; Infinity for the current key. */
  readonly until: number;

  constructor(key: Buffer, until: number) {
    if (!Buffer.isBuffer(key) || key.length !== 32) {
      throw new RangeError('topology token keys must be 32-byte buffers');
    }
    if (typeof until !== 'number' || Number.isNaN(until)) {
      throw new RangeError('topology token previous keys need a numeric `until` (epoch ms)');
    }
    this.cipherKey = createSecretKey(derive(key, 'cipher', 32));
    this.nonceKey = createSecretKey(derive(key, 'nonce', 32));
    this.id = derive(key, 'key id', 1)[0]! % KEY_ID_LIMIT;
    this.until = until;
  }
}

function derive(key: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', key, HKDF_SALT, info, length));
}

/** Cheap syntactic check: could `s` be a token (alphabet, first character, length)? No crypto. */
export function looksLikeToken(s: string): boolean {
  if (typeof s !== 'string') return false;
  const n = s.length;
  if (n < MIN_TOKEN_LENGTH || n > MAX_TOKEN_LENGTH || base32ByteLength(n) < 0) return false;
  const first = s.charCodeAt(0) | 0x20;
  if (first < 0x61 || first > 0x7a) return false;
  for (let i = 1; i < n; i++) {
    const c = s.charCodeAt(i);
    const lower = c | 0x20;
    if (!((lower >= 0x61 && lower <= 0x7a) || (c >= 0x32 && c <= 0x37))) return false;
  }
  return true;
}

/** String#isWellFormed (Node 20, ES2024 lib, which the project's ES2022 typings lack). */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

export class TopologyTokens {
  /** Largest plaintext in UTF-8 bytes that `encode` accepts; larger throws a RangeError. */
  readonly maxPlainBytes = MAX_PLAIN_BYTES;
  private readonly current: TokenKey;
  /** Keys by key id byte (all 256 slots, so any byte is an in-bounds read); more than one only when two configured keys derive the same id. */
  private readonly byId: Array<TokenKey[] | undefined> = new Array(256).fill(undefined);
  /** Reused per call: plaintext on encode, token bytes on decode (calls are synchronous). */
  private readonly scratch = Buffer.allocUnsafe(TOKEN_OVERHEAD_BYTES + MAX_PLAIN_BYTES);

  /** plaintext -> token under the current key. */
  private readonly encoded: TwoGenerationMemo;
  /** token text -> plaintext, for tokens of the current key only (they never expire). */
  private readonly decoded: TwoGenerationMemo;

  constructor(keys: TopologyKeys, options: TopologyTokensOptions = {}) {
    const memo = options.memo ?? 4096;
    if (!Number.isInteger(memo) || memo < 0) throw new RangeError('topology token memo must be a count >= 0');
    this.encoded = new TwoGenerationMemo(memo);
    this.decoded = new TwoGenerationMemo(memo);
    this.current = new TokenKey(keys.current, Number.POSITIVE_INFINITY);
    this.add(this.current);
    for (const old of keys.previous ?? []) this.add(new TokenKey(old.key, old.until));
  }

  /** Key id (0..207) written into every new token, for logs and operators. */
  get currentKeyId(): number {
    return this.current.id;
  }

  /**
   * Seals `plain` into a token. Deterministic: the same text under the same current key
   * always gives the same token. Throws a RangeError for text over `maxPlainBytes` UTF-8
   * bytes or with unpaired surrogates (which UTF-8 cannot carry, so could not round-trip).
   */
  encode(plain: string): string {
    if (typeof plain !== 'string') throw new TypeError('topology token plaintext must be a string');
    if (plain.length > MAX_PLAIN_BYTES) throw new RangeError(`topology token plaintext over ${MAX_PLAIN_BYTES} bytes`);
    const known = this.encoded.get(plain);
    if (known !== undefined) return known;
    if (Buffer.byteLength(plain, 'utf8') > MAX_PLAIN_BYTES) {
      throw new RangeError(`topology token plaintext over ${MAX_PLAIN_BYTES} bytes`);
    }
    if (!isWellFormed(plain)) throw new RangeError('topology token plaintext has unpaired surrogates');
    const key = this.current;
    const n = this.scratch.write(plain, 0, 'utf8');
    const text = this.scratch.subarray(0, n);
    const siv = createHmac('sha256', key.nonceKey).update(text).digest();
    const cipher = createCipheriv('aes-256-gcm', key.cipherKey, siv.subarray(0, NONCE_BYTES), {
      authTagLength: TAG_BYTES,
    });
    const out = Buffer.allocUnsafe(TOKEN_OVERHEAD_BYTES + n);
    out[0] = key.id;
    siv.copy(out, KEY_ID_BYTES, 0, NONCE_BYTES);
    let o = KEY_ID_BYTES + NONCE_BYTES;
    o += cipher.update(text).copy(out, o);
    o += cipher.final().copy(out, o);
    cipher.getAuthTag().copy(out, o);
    const token = base32Encode(out);
    this.encoded.set(plain, token);
    return token;
  }

  /**
   * Opens a token made by `encode`, under the current key or a previous key still valid at
   * `now`. Returns `undefined` for anything else; never throws on any input.
   */
  decode(token: string, now: number = Date.now()): string | undefined {
    if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) {
      return undefined;
    }
    const known = this.decoded.get(token);
    if (known !== undefined) return known;
    const bytes = this.scratch;
    const n = base32DecodeInto(token, bytes);
    if (n < TOKEN_OVERHEAD_BYTES) return undefined;
    const candidates = this.byId[bytes[0]!];
    if (candidates === undefined) return undefined;
    const nonce = bytes.subarray(KEY_ID_BYTES, KEY_ID_BYTES + NONCE_BYTES);
    const sealed = bytes.subarray(KEY_ID_BYTES + NONCE_BYTES, n - TAG_BYTES);
    const tag = bytes.subarray(n - TAG_BYTES, n);
    for (let i = 0; i < candidates.length; i++) {
      const key = candidates[i]!;
      // The current key never expires, whatever `now` is (even NaN); previous keys do.
      if (key !== this.current && !(now < key.until)) continue;
      const plain = open(key, nonce, sealed, tag);
      if (plain !== undefined) {
        if (key === this.current) this.decoded.set(token, plain);
        return plain;
      }
    }
    return undefined;
  }

  private add(key: TokenKey): void {
    const list = this.byId[key.id];
    if (list === undefined) this.byId[key.id] = [key];
    else list.push(key);
  }
}

/**
 * AES-256-GCM decryption with its 128-bit tag check, which is the integrity check. The SIV
 * re-check (nonce == HMAC of the recovered plaintext) is left out on purpose: a token that
 * passes the tag was made by the key holder, and the extra HMAC would cost about as much as
 * half the decryption again on every returning message.
 */
function open(key: TokenKey, nonce: Buffer, sealed: Buffer, tag: Buffer): string | undefined {
  // node:crypto reports a wrong tag by throwing from final(). Forged tokens are attacker
  // input, so the throw must stay cheap: without a stack trace it costs about 40% less.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.cipherKey, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    const head = decipher.update(sealed);
    const tail = decipher.final();
    return tail.length === 0 ? head.toString('utf8') : Buffer.concat([head, tail]).toString('utf8');
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}
