/**
 * What makes one source: the address masked to a prefix, IPv4 by `v4Bits` (32: each address)
 * and IPv6 by `v6Bits` (64: a whole /64, since one IPv6 subscriber, and so one attacker, gets
 * a /64 and can rotate through its 2^64 addresses at will). Every per-source counter, score,
 * hold and ban uses the same key, so that a neighbour in the same /64 is the same source.
 */
import { parseIPv4, prefixKey } from './ip.js';

export class SourceKeys {
  constructor(
    readonly v4Bits: number,
    readonly v6Bits: number,
  ) {
    // prefixKey checks the ranges; check them here once, at configuration time.
    prefixKey('0.0.0.0', v4Bits, v6Bits);
  }

  /**
   * The key of the source `address` belongs to: the canonical address (`192.0.2.7`) or
   * network (`2001:db8:1:2::/64`), as `prefixKey` writes it, usable as a ban target. Throws an
   * Error for anything that is not an address (sockets never report one).
   */
  of(address: string): string {
    // Most sources are IPv4 keyed by address, and sockets report them as canonical dotted quads
    // (parseIPv4 refuses leading zeros): no new string for those.
    if (this.v4Bits === 32 && parseIPv4(address) >= 0) return address;
    return prefixKey(address, this.v4Bits, this.v6Bits);
  }
}
