/**
 * Digest arithmetic (RFC 2617, RFC 7616, RFC 8760): HA1, the session HA1 of the `-sess`
 * algorithms, and the `response` of qop=auth credentials. Only what the edge needs: qop
 * `auth-int` is not computed (the guard refuses it and challenges again).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Algorithms sipwarden offers and checks, as written on the wire (RFC 7616 3.3, RFC 8760 2.4). */
export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5', 'SHA-256-sess', 'MD5-sess'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/** The hash of an algorithm, with or without `-sess`. */
export type HashName = 'md5' | 'sha256';

export function hashOf(algorithm: DigestAlgorithm): HashName {
  return algorithm === 'MD5' || algorithm === 'MD5-sess' ? 'md5' : 'sha256';
}

export function isSession(algorithm: DigestAlgorithm): boolean {
  return algorithm === 'MD5-sess' || algorithm === 'SHA-256-sess';
}

/** The algorithm named in credentials (any case), or undefined for one sipwarden does not know. */
export function algorithmNamed(text: string): DigestAlgorithm | undefined {
  switch (text.toUpperCase()) {
    case 'MD5':
      return 'MD5';
    case 'MD5-SESS':
      return 'MD5-sess';
    case 'SHA-256':
      return 'SHA-256';
    case 'SHA-256-SESS':
      return 'SHA-256-sess';
    default:
      return undefined;
  }
}

/** Lower-case hex digest of UTF-8 text. */
export function hexHash(hash: HashName, text: string): string {
  return createHash(hash).update(text, 'utf8').digest('hex');
}

/** HA1 = H(username:realm:password), what the users file and the users table hold. */
export function computeHa1(hash: HashName, username: string, realm: string, password: string): string {
  return hexHash(hash, `${username}:${realm}:${password}`);
}

/** The parts of qop=auth credentials that enter the response. */
export interface ResponseInput {
  readonly algorithm: DigestAlgorithm;
  /** H(username:realm:password) in lower-case hex, of the algorithm's hash. */
  readonly ha1: string;
  readonly nonce: string;
  readonly nc: string;
  readonly cnonce: string;
  readonly qop: 'auth';
  readonly method: string;
  readonly uri: string;
}

/**
 * response = KD(HA1', nonce:nc:cnonce:qop:HA2) with HA2 = H(method:uri) and HA1' = HA1, or
 * H(HA1:nonce:cnonce) for the `-sess` algorithms (RFC 7616 3.4.1-3.4.3).
 */
export function computeResponse(r: ResponseInput): string {
  const hash = hashOf(r.algorithm);
  const ha1 = isSession(r.algorithm) ? hexHash(hash, `${r.ha1}:${r.nonce}:${r.cnonce}`) : r.ha1;
  const ha2 = hexHash(hash, `${r.method}:${r.uri}`);
  return hexHash(hash, `${ha1}:${r.nonce}:${r.nc}:${r.cnonce}:${r.qop}:${ha2}`);
}

/**
 * Compares a computed response (lower-case hex) with the one a client sent, in time that does
 * not depend on where they differ. Clients may write hex in upper case (RFC 7616 3.4.1 says
 * lower, some do not): it is lower-cased first. Lengths are public (they follow the algorithm).
 */
export function responsesEqual(expected: string, given: string): boolean {
  if (expected.length !== given.length) return false;
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(given.toLowerCase(), 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}
