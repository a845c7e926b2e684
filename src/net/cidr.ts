/**
 * Sets of IPv4/IPv6 networks with lookups whose cost does not depend on the number of entries.
 *
 * Entries are kept in one hash map per prefix length (IPv4: the masked address as a number;
 * IPv6: the masked address as an 8-code-unit string). `has(ip)` probes only the prefix lengths
 * actually present: at most 33 probes for IPv4 and 129 for IPv6, usually two or three.
 */
import {
  classifyIp,
  describe,
  formatIPv4,
  formatIPv6,
  isMapped,
  maskV6,
  normalizeIp,
  parseIp,
  prefixKey,
  v4Mask,
} from './ip.js';

export { normalizeIp, prefixKey };

/** A parsed network. IPv4-mapped IPv6 networks inside `::ffff:0:0/96` are given as IPv4. */
export interface Cidr {
  family: 4 | 6;
  /** Prefix length. */
  bits: number;
  /** Canonical text: `10.0.0.0/8`, `2001:db8::/32`; a single address has no `/bits`. */
  text: string;
  /** IPv4 network address (family 4). */
  v4: number;
  /** IPv6 network words (family 6). */
  v6: Uint16Array | undefined;
  /** An IPv6 network that contains all of `::ffff:0:0/96` also contains every IPv4 address. */
  coversAllV4: boolean;
}

/**
 * Parses `address` or `address/bits` (IPv4 or IPv6, no brackets, no zone). Host bits set below
 * the prefix (`10.0.0.1/8`) are refused: they usually mean a typo, and the intended network is
 * named in the error. Throws an Error with a readable message.
 */
export function parseCidr(text: string): Cidr {
  if (typeof text !== 'string') throw new Error(`${describe(text)} is not an address or network`);
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addr);
  if (!ip) {
    throw new Error(`${describe(text)} is not an IP address or network (e.g. 10.0.0.0/8, 2001:db8::/32, 192.0.2.7)`);
  }
  const max = ip.family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(b) || Number(b) > max) {
      throw new Error(`${describe(text)}: prefix length must be a number from 0 to ${max}`);
    }
    bits = Number(b);
  }
  if (ip.family === 4) {
    const net = (ip.v4 & v4Mask(bits)) >>> 0;
    if (net !== ip.v4) {
      throw new Error(`${describe(text)} has host bits set; the network is ${formatIPv4(net)}/${bits}`);
    }
    return v4Cidr(net, bits);
  }
  const w = new Uint16Array(ip.v6);
  maskV6(w, bits);
  for (let i = 0; i < 8; i++) {
    if (w[i] !== ip.v6[i]) {
      throw new Error(`${describe(text)} has host bits set; the network is ${formatIPv6(w)}/${bits}`);
    }
  }
  if (bits >= 96 && isMapped(w)) return v4Cidr(((w[6]! << 16) | w[7]!) >>> 0, bits - 96);
  const mappedRange = new Uint16Array([0, 0, 0, 0, 0, 0xffff, 0, 0]);
  maskV6(mappedRange, bits);
  const coversAllV4 = bits <= 96 && mappedRange.every((x, i) => x === w[i]);
  return {
    family: 6,
    bits,
    text: bits === 128 ? formatIPv6(w) : `${formatIPv6(w)}/${bits}`,
    v4: 0,
    v6: w,
    coversAllV4,
  };
}

function v4Cidr(net: number, bits: number): Cidr {
  const text = bits === 32 ? formatIPv4(net) : `${formatIPv4(net)}/${bits}`;
  return { family: 4, bits, text, v4: net, v6: undefined, coversAllV4: false };
}

/** The canonical text of a network or address (see `parseCidr`); throws an Error when invalid. */
export function normalizeCidr(text: string): string {
  return parseCidr(text).text;
}

/**
 * True when two networks share at least one address: one contains the other. An IPv6 network
 * that covers the whole IPv4-mapped range overlaps every IPv4 network.
 */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return (a.family === 6 && a.coversAllV4) || (b.family === 6 && b.coversAllV4);
  const bits = Math.min(a.bits, b.bits);
  if (a.family === 4) {
    const m = v4Mask(bits);
    return (a.v4 & m) >>> 0 === (b.v4 & m) >>> 0;
  }
  const x = new Uint16Array(a.v6!);
  const y = new Uint16Array(b.v6!);
  maskV6(x, bits);
  maskV6(y, bits);
  return x.every((w, i) => w === y[i]);
}

function v6Key(w: Uint16Array): string {
  return String.fromCharCode(w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!);
}

const lookupV4 = new Float64Array(1);
const lookupV6 = new Uint16Array(8);
const probeV6 = new Uint16Array(8);

/** A set of IPv4 and IPv6 networks and single addresses. */
export class CidrSet implements Iterable<string> {
  private readonly v4 = new Map<number, Map<number, string>>();
  private readonly v6 = new Map<number, Map<string, string>>();
  /** Prefix lengths present, longest first, and their maps in the same order (for the hot path). */
  private v4Bits: number[] = [];
  private v4Tables: Map<number, string>[] = [];
  private v6Bits: number[] = [];
  private v6Tables: Map<string, string>[] = [];
  private count = 0;

  constructor(entries?: Iterable<string>) {
    if (entries) for (const e of entries) this.add(e);
  }

  /** Number of distinct entries (after normalisation; overlapping networks count separately). */
  get size(): number {
    return this.count;
  }

  /** Adds a network (`10.0.0.0/8`, `2001:db8::/32`) or a single address. Throws an Error when invalid. */
  add(cidr: string): this {
    const c = parseCidr(cidr);
    if (c.family === 4) {
      this.insertV4(c.v4, c.bits, c.text);
    } else {
      let byKey = this.v6.get(c.bits);
      if (!byKey) {
        byKey = new Map();
        this.v6.set(c.bits, byKey);
        this.v6Bits = [...this.v6.keys()].sort((a, b) => b - a);
        this.v6Tables = this.v6Bits.map((b) => this.v6.get(b)!);
      }
      const key = v6Key(c.v6!);
      if (!byKey.has(key)) {
        byKey.set(key, c.text);
        this.count++;
      }
      // ::/0 or ::ffff:0:0/96 and the like: every IPv4 peer is inside (a mapped address is its IPv4 one).
      if (c.coversAllV4) this.insertV4(0, 0, undefined);
    }
    return this;
  }

  private insertV4(net: number, bits: number, text: string | undefined): void {
    let byNet = this.v4.get(bits);
    if (!byNet) {
      byNet = new Map();
      this.v4.set(bits, byNet);
      this.v4Bits = [...this.v4.keys()].sort((a, b) => b - a);
      this.v4Tables = this.v4Bits.map((b) => this.v4.get(b)!);
    }
    const had = byNet.get(net);
    if (had === undefined || (had === '' && text !== undefined)) {
      // '' marks the implicit 0.0.0.0/0 of an IPv6 entry covering the mapped range; not counted.
      byNet.set(net, text ?? '');
      if (text !== undefined) this.count++;
    }
  }

  /**
   * True when `ip` (IPv4, IPv6, IPv4-mapped IPv6; a `%zone` suffix is ignored) is inside one of
   * the entries. Anything that is not an address is simply not inside: this never throws.
   */
  has(ip: string): boolean {
    const family = classifyIp(ip, lookupV4, lookupV6);
    if (family === 4) {
      const addr = lookupV4[0]!;
      const lens = this.v4Bits;
      const tables = this.v4Tables;
      for (let i = 0; i < lens.length; i++) {
        if (tables[i]!.has((addr & v4Mask(lens[i]!)) >>> 0)) return true;
      }
      return false;
    }
    if (family === 6) {
      const lens = this.v6Bits;
      const tables = this.v6Tables;
      for (let i = 0; i < lens.length; i++) {
        probeV6.set(lookupV6);
        maskV6(probeV6, lens[i]!);
        if (tables[i]!.has(v6Key(probeV6))) return true;
      }
    }
    return false;
  }

  /** The entries as canonical text, IPv4 first, longest prefixes first. */
  *[Symbol.iterator](): Iterator<string> {
    for (const bits of this.v4Bits) for (const t of this.v4.get(bits)!.values()) if (t !== '') yield t;
    for (const bits of this.v6Bits) yield* this.v6.get(bits)!.values();
  }

  toJSON(): string[] {
    return [...this];
  }
}
