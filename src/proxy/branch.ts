import { SipHashKey, sipHash24 } from './siphash.js';

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

/**
 * Signs and checks the branches sipwarden writes in its own Via (`BRANCH_PREFIX` + id + `.` +
 * MAC). A stateless proxy routes a response by the Via under its own, so an outsider who could
 * write a response with a sipwarden-looking branch could choose where sipwarden sends it: an
 * SSRF towards any port of an inside host, or a forged answer pushed onto another phone's
 * connection. The MAC (SipHash-2-4, 64 bits, keyed by the installation secret) covers the
 * transaction id and the route the response must take: the `sw` flow parameter and the
 * destination that the Via under sipwarden's (or the sealed inside Vias) resolve to. A response
 * whose route differs from the one signed is not sipwarden's and is dropped.
 */
export class BranchSigner {
  private readonly key: SipHashKey;

  constructor(key: Buffer) {
    this.key = new SipHashKey(key);
  }

  /** The branch for transaction `id` whose responses must take `route` (both ASCII). */
  sign(id: string, route: string): string {
    return `${BRANCH_PREFIX}${id}.${sipHash24(this.key, `${id}|${route}`)}`;
  }

  /** True when sipwarden signed `branch` for this route. */
  verify(branch: string, route: string): boolean {
    const dot = branch.length - MAC_CHARS - 1;
    if (dot <= BRANCH_PREFIX.length || branch.charCodeAt(dot) !== 0x2e || !branch.startsWith(BRANCH_PREFIX)) {
      return false;
    }
    // What sipwarden signs is ASCII: other characters would alias octets (c & 0xff).
    if (!isAscii(branch) || !isAscii(route)) return false;
    const want = sipHash24(this.key, `${branch.slice(BRANCH_PREFIX.length, dot)}|${route}`);
    // Compared in constant time: how long a wrong guess takes tells nothing of the right one.
    let diff = 0;
    for (let i = 0; i < MAC_CHARS; i++) diff |= want.charCodeAt(i) ^ branch.charCodeAt(dot + 1 + i);
    return diff === 0;
  }
}

/** Hex digits of the MAC. */
const MAC_CHARS = 16;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return false;
  return true;
}
