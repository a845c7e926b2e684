import { SipHashKey, sipHash24 } from '../net/siphash.js';

/** Branch values sipwarden writes start with this (after the RFC 3261 magic cookie). */
export const BRANCH_PREFIX = 'z9hG4bKsw';

/**
 * Branches of sipwarden's OPTIONS pings to upstream targets. The `-` keeps them apart from the
 * signed branches, whose transaction id is base36 (`[0-9a-z]`): with a plain `ping`, one
 * transaction in a few million had an id starting with it, and its answers were taken for a
 * ping's and swallowed.
 */
export const PING_PREFIX = `${BRANCH_PREFIX}-ping`;

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
