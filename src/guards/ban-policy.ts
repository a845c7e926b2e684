/**
 * The one place where a guard's decision to ban a source becomes a ban: the chain (acl, bans,
 * flood, scanner, sanity, auth) and the answer-watching guards (brute_force, dial_scan) both
 * come here.
 *
 * - **What is banned**: the source's key (`sources.ipv4_prefix`, `sources.ipv6_prefix`): an
 *   IPv6 source is banned as its /64 by default, so a neighbour address in the same /64 is
 *   banned too, as every counter already counts it as the same source. A guard may name its
 *   own target (a network) in the verdict.
 * - **Who is never banned** (`guards.never_ban`): peers whose bans would cost too much, such
 *   as a carrier trunk reached over UDP, whose source address anyone can forge (see
 *   docs/guards/bans.md). A listed peer is never put in the store, so never in the firewall
 *   set nor the fail2ban line; the message that tripped the guard is still dropped or
 *   answered as usual. A ban of a network that holds a listed peer is narrowed to the
 *   offending address alone.
 * - **Never every IPv4 peer**: the /64 of `::1` (and of the IPv4-compatible and -translated
 *   forms) is `::/64`, which holds the IPv4-mapped range; such a source is banned as its
 *   address alone, or one forged datagram would ban every IPv4 client.
 */

import type { BanRecord } from '../core/events.js';
import { type Cidr, CidrSet, cidrsOverlap, normalizeCidr, normalizeIp, parseCidr } from '../net/cidr.js';
import { SourceKeys } from '../net/source-key.js';
import type { BanStore } from '../store/types.js';
import type { SourcesConfig } from './config.js';

/** What became of a guard's ban of one source. */
export interface BanOutcome {
  /** The ban stored (or, monitoring, the one that would be); undefined: never_ban spared the source. */
  readonly ban: BanRecord | undefined;
  /** Why the ban was narrowed or not made; '' when it is as asked. */
  readonly note: string;
}

/** Name of the setting, as notes and logs quote it. */
export const NEVER_BAN = 'guards.never_ban';

export class BanPolicy {
  /** The documented defaults: IPv4 per address, IPv6 per /64, nobody exempt. */
  static readonly DEFAULT = new BanPolicy({ ipv4Prefix: 32, ipv6Prefix: 64 }, []);

  readonly keys: SourceKeys;
  private readonly neverBan: CidrSet;
  private readonly neverBanNets: readonly Cidr[];

  /** Throws an Error for a prefix out of range or an entry that is not an address or network. */
  constructor(sources: Readonly<SourcesConfig>, neverBan: readonly string[]) {
    this.keys = new SourceKeys(sources.ipv4Prefix, sources.ipv6Prefix);
    this.neverBan = new CidrSet(neverBan);
    this.neverBanNets = neverBan.map(parseCidr);
  }

  /** The key one source is counted, scored, held and banned by (see SourceKeys). */
  keyOf(address: string): string {
    return this.keys.of(address);
  }

  /** True when no guard may ban `address` (it is inside a `guards.never_ban` entry). */
  spares(address: string): boolean {
    return this.neverBan.size > 0 && this.neverBan.has(address);
  }

  /**
   * The target of a guard's ban of `address` (`requested`: the target the verdict names, if
   * any), or undefined when the address may not be banned; and a note when it is not as asked.
   * Throws an Error when `requested` is not an address or network.
   */
  target(address: string, requested: string | undefined): { target: string | undefined; note: string } {
    const wanted = requested === undefined ? this.keyOf(address) : normalizeCidr(requested);
    const self = normalizeIp(address);
    if (this.neverBan.size > 0 && this.neverBan.has(address)) {
      return { target: undefined, note: `not banned: ${self} is in ${NEVER_BAN}` };
    }
    if (wanted === self) return { target: wanted, note: '' };
    const net = parseCidr(wanted);
    // `::/64` (the /64 of ::1, of IPv4-compatible and IPv4-translated addresses) holds the
    // IPv4-mapped range, so its ban would cover every IPv4 peer: ban the one address instead.
    if (net.coversAllV4) return { target: self, note: `banned ${self} alone: ${wanted} would cover every IPv4 peer` };
    const spared = this.neverBanNets.find((n) => cidrsOverlap(n, net));
    if (spared === undefined) return { target: wanted, note: '' };
    return { target: self, note: `banned ${self} alone: ${wanted} holds ${spared.text} of ${NEVER_BAN}` };
  }

  /**
   * Turns a guard's ban of `address` into a ban in `store` (not when monitoring, nor when the
   * address is spared). A store that fails to write still enforces the ban from memory; the
   * error goes to `onStoreError`.
   */
  record(
    store: BanStore | undefined,
    onStoreError: (err: unknown) => void,
    guard: string,
    address: string,
    requested: string | undefined,
    reason: string,
    duration: number,
    now: number,
    monitor: boolean,
  ): BanOutcome {
    const { target, note } = this.target(address, requested);
    if (target === undefined) return { ban: undefined, note };
    const ban = { target, until: now + duration, reason };
    if (!monitor && store !== undefined) {
      try {
        store.add({ target, guard, reason, created: now, expires: ban.until });
      } catch (err) {
        onStoreError(err);
      }
    }
    return { ban, note };
  }
}
