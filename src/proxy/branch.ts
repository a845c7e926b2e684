import { createHmac, timingSafeEqual } from 'node:crypto';
import { TwoGenerationMemo } from '../topology/memo.js';

/** Branch values sipwarden writes start with this (after the RFC 3261 magic cookie). */
export const BRANCH_PREFIX = 'z9hG4bKsw';

/**
 * A fast 53-bit string hash (cyrb53), seeded per instance. Branches only need to be
 * unique and stable, not secret; this keeps a crypto digest off the per-request path.
 */
export function hash53(s: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * hash53 over several strings as if joined with a separator, without building the joined
 * string (the per-request branch key would otherwise be a fresh concatenation each time).
 */
export function hash53Parts(seed: number, a: string, b: string, c: string, d: string, e: string): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let k = 0; k < 5; k++) {
    const s = k === 0 ? a : k === 1 ? b : k === 2 ? c : k === 3 ? d : e;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1 ^ 0x7c, 2654435761); // '|' between parts
    h2 = Math.imul(h2 ^ 0x7c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Signed branches carry this many bytes of MAC (96 bits, 16 base64url characters). */
const MAC_BYTES = 12;

/**
 * Signs and checks the branches sipwarden writes in its own Via (`BRANCH_PREFIX` + id + `.` +
 * MAC). A stateless proxy routes a response by the Via under its own, so an outsider who could
 * write a response with a sipwarden-looking branch could choose where sipwarden sends it: an
 * SSRF towards any port of an inside host, or a forged answer pushed onto another phone's
 * connection. The MAC (HMAC-SHA256, truncated) covers the transaction id and the route the
 * response must take: the `sw` flow parameter and the destination that the Via under
 * sipwarden's (or the sealed inside Vias) resolve to. A response whose route differs from the
 * one signed is not sipwarden's and is dropped.
 *
 * Two bounded memos keep the HMAC off the common path: one of branches signed (a
 * retransmission, the CANCEL and the non-2xx ACK of an INVITE reuse its branch) and one of
 * branches verified (a transaction's 100, 180 and 200 share one check). A miss only costs the
 * HMAC: nothing depends on the memos being complete.
 */
export class BranchSigner {
  private readonly signed = new TwoGenerationMemo(8192);
  private readonly verified = new TwoGenerationMemo(16384);

  constructor(private readonly key: Buffer) {}

  /** The branch for transaction `id` whose responses must take `route`. */
  sign(id: string, route: string): string {
    const memoKey = `${id}|${route}`;
    const known = this.signed.get(memoKey);
    if (known !== undefined) return known;
    const branch = `${BRANCH_PREFIX}${id}.${this.mac(id, route)}`;
    this.signed.set(memoKey, branch);
    this.verified.set(branch, route);
    return branch;
  }

  /** True when sipwarden signed `branch` for this route. */
  verify(branch: string, route: string): boolean {
    if (this.verified.get(branch) === route) return true;
    const dot = branch.lastIndexOf('.');
    if (dot <= BRANCH_PREFIX.length || !branch.startsWith(BRANCH_PREFIX)) return false;
    const given = Buffer.from(branch.slice(dot + 1), 'latin1');
    const want = Buffer.from(this.mac(branch.slice(BRANCH_PREFIX.length, dot), route), 'latin1');
    if (given.length !== want.length || !timingSafeEqual(given, want)) return false;
    this.verified.set(branch, route);
    return true;
  }

  private mac(id: string, route: string): string {
    return createHmac('sha256', this.key)
      .update(id)
      .update('|')
      .update(route)
      .digest()
      .toString('base64url', 0, MAC_BYTES);
  }
}
