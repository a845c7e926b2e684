/**
 * Stateless nonces (RFC 7616 3.3, 5.5): a nonce carries the time it was made and a MAC that
 * binds it to the source address and the realm, so any sipwarden holding the same key can
 * check it without having kept it.
 *
 * Layout (30 octets, 40 characters of base64url):
 *
 *   time   6 octets  milliseconds since the epoch, big-endian
 *   salt   8 octets  4 random octets per process + a 32-bit counter (unique nonces)
 *   mac   16 octets  HMAC-SHA-256(key, time | salt | source address | 0x00 | realm), truncated
 *
 * The source port is left out on purpose: NATs move ports between requests.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const TIME_BYTES = 6;
const SALT_BYTES = 8;
const MAC_BYTES = 16;
const NONCE_BYTES = TIME_BYTES + SALT_BYTES + MAC_BYTES;
/** Length of a nonce in characters (base64url, no padding). */
export const NONCE_LENGTH = Math.ceil((NONCE_BYTES * 4) / 3);
/** Clock difference tolerated between instances sharing the key (a nonce "from the future"). */
const MAX_CLOCK_SKEW_MS = 5_000;

/** What a nonce check found. `stale`: genuine but too old (challenge again with stale=true). */
export type NonceState = 'valid' | 'stale' | 'invalid';

/** The key of nonce MACs, derived from a configured or stored secret (never the secret itself). */
export function nonceKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('sipwarden digest nonce v1').digest();
}

export class NonceCodec {
  private readonly prefix = randomBytes(4);
  private counter = 0;
  /** Reused buffers: one message is handled at a time. */
  private readonly out = Buffer.alloc(NONCE_BYTES);
  private readonly decoded = Buffer.alloc(NONCE_BYTES + 2);

  constructor(
    private readonly key: Buffer,
    /** How long a nonce is valid, in ms. */
    readonly lifetime: number,
  ) {}

  /** A new nonce for this source address and realm. */
  issue(now: number, address: string, realm: string): string {
    const b = this.out;
    b.writeUIntBE(Math.max(0, Math.floor(now)), 0, TIME_BYTES);
    this.prefix.copy(b, TIME_BYTES);
    this.counter = (this.counter + 1) >>> 0;
    b.writeUInt32BE(this.counter, TIME_BYTES + 4);
    this.mac(b, address, realm).copy(b, TIME_BYTES + SALT_BYTES, 0, MAC_BYTES);
    return b.toString('base64url');
  }

  /** Checks a nonce a client returned: made by this key for this address and realm, and how old. */
  check(nonce: string, now: number, address: string, realm: string): NonceState {
    if (nonce.length !== NONCE_LENGTH) return 'invalid';
    const b = this.decoded;
    // base64url of 30 octets is 40 characters; anything else decodes short or is not base64url.
    if (b.write(nonce, 'base64url') !== NONCE_BYTES) return 'invalid';
    if (b.toString('base64url', 0, NONCE_BYTES) !== nonce) return 'invalid';
    const mac = this.mac(b.subarray(0, NONCE_BYTES), address, realm);
    if (!timingSafeEqual(mac.subarray(0, MAC_BYTES), b.subarray(TIME_BYTES + SALT_BYTES, NONCE_BYTES))) {
      return 'invalid';
    }
    const time = b.readUIntBE(0, TIME_BYTES);
    if (time > now + MAX_CLOCK_SKEW_MS) return 'invalid';
    return now - time > this.lifetime ? 'stale' : 'valid';
  }

  /** When a nonce that passed `check` stops being valid (epoch ms). */
  expiresAt(nonce: string): number {
    const b = this.decoded;
    b.write(nonce, 'base64url');
    return b.readUIntBE(0, TIME_BYTES) + this.lifetime;
  }

  private mac(body: Buffer, address: string, realm: string): Buffer {
    return createHmac('sha256', this.key)
      .update(body.subarray(0, TIME_BYTES + SALT_BYTES))
      .update(address, 'latin1')
      .update('\0')
      .update(realm, 'utf8')
      .digest();
  }
}
