/**
 * Everything the honeypot derives instead of remembering: To tags, digest nonces, RTP ports and
 * SDP session ids, each an HMAC of a per-process secret with the source address and the
 * Call-ID. Follow-up requests of one dialog get the same values (the honeypot looks like a
 * real PBX), and a tag or nonce echoed back proves the source received our answer: a spoofed
 * address never can.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Nonces change every this many ms; the previous one is still accepted. */
const NONCE_EPOCH_MS = 3_600_000;

export class HoneypotTokens {
  private readonly secret: Buffer;

  constructor(secret: Buffer = randomBytes(32)) {
    this.secret = secret;
  }

  private mac(kind: string, a: string, b: string): Buffer {
    return createHmac('sha256', this.secret).update(`${kind}\0${a}\0${b}`).digest();
  }

  /** The To tag of the honeypot's side of a dialog (Asterisk-like: `as` and 8 hex digits). */
  tag(address: string, callId: string): string {
    return `as${this.mac('tag', address, callId).toString('hex', 0, 4)}`;
  }

  /** The digest nonce a source is challenged with (one per source and hour). */
  nonce(address: string, now: number): string {
    return this.nonceAt(address, Math.floor(now / NONCE_EPOCH_MS));
  }

  /** True for a nonce this process gave the source in this or the previous epoch. */
  isNonce(address: string, nonce: string, now: number): boolean {
    const epoch = Math.floor(now / NONCE_EPOCH_MS);
    return nonce === this.nonceAt(address, epoch) || nonce === this.nonceAt(address, epoch - 1);
  }

  private nonceAt(address: string, epoch: number): string {
    return this.mac('nonce', address, String(epoch)).toString('hex', 0, 16);
  }

  /** An even RTP port in 10000–19998 for a call. */
  rtpPort(address: string, callId: string): number {
    return 10_000 + 2 * (this.mac('rtp', address, callId).readUInt16BE(0) % 5000);
  }

  /** An SDP session id (o= line) for a call. */
  sessionId(address: string, callId: string): string {
    return String(this.mac('sdp', address, callId).readUInt32BE(0) + 100_000_000);
  }
}
