/**
 * The in-memory index of bans shared by every store: lookups whose cost does not depend on the
 * number of bans, and the order of expiry.
 *
 * - One hash map per prefix length in use and per family (exact addresses are the /32 and /128
 *   tables). `find` parses the address once into scratch buffers and probes only the lengths
 *   present, longest first: with the usual bans (addresses and IPv6 /64s) that is one or two
 *   `Map.get`s. IPv4 keys are the masked address as a signed 32-bit integer (a Smi: no boxing);
 *   IPv6 keys are a seeded 32-bit hash of the masked words, with a chain of entries per hash
 *   whose words are compared exactly. A miss allocates nothing.
 * - A binary min-heap on `expires` gives the ban that expires next (for the expiry timer and for
 *   the cap) in O(1), and O(log n) insert, update and removal.
 *
 * IPv4-mapped IPv6 addresses and networks are their IPv4 form (as `normalizeIp`/`parseCidr` make
 * them). An IPv6 network that contains the whole mapped range (`::/0`, `::/64`) also covers IPv4
 * peers.
 */
import { type Cidr, parseCidr } from '../net/cidr.js';
import { classifyIp, v4Mask } from '../net/ip.js';
import type { Ban } from './types.js';

/** One ban in the index. */
class Entry {
  ban: Ban;
  /** `ban.expires`, one pointer hop closer for `find`. */
  expires: number;
  readonly family: 4 | 6;
  readonly bits: number;
  /** IPv4: the network as a signed 32-bit integer; IPv6: the hash of the network. */
  readonly key: number;
  /**
   * IPv6: the network as four signed 32-bit integers (words 0-1, 2-3, 4-5, 6-7), kept in the
   * entry itself so that comparing costs no further memory reads. 0 for IPv4.
   */
  readonly p0: number;
  readonly p1: number;
  readonly p2: number;
  readonly p3: number;
  /** IPv6 only: true when the network contains `::ffff:0:0/96`, i.e. every IPv4 peer. */
  readonly coversAllV4: boolean;
  /** Next entry with the same IPv6 hash in the same table. */
  next: Entry | undefined = undefined;
  /** Position in the expiry heap. */
  heapIndex = -1;

  constructor(ban: Ban, cidr: Cidr) {
    this.ban = ban;
    this.expires = ban.expires;
    this.family = cidr.family;
    this.bits = cidr.bits;
    const w = cidr.v6;
    if (w === undefined) {
      this.key = cidr.v4 | 0;
      this.p0 = this.p1 = this.p2 = this.p3 = 0;
    } else {
      this.p0 = (w[0]! << 16) | w[1]!;
      this.p1 = (w[2]! << 16) | w[3]!;
      this.p2 = (w[4]! << 16) | w[5]!;
      this.p3 = (w[6]! << 16) | w[7]!;
      this.key = hashV6(this.p0, this.p1, this.p2, this.p3, cidr.bits);
    }
    this.coversAllV4 = cidr.coversAllV4;
  }
}

/** Mask of the 32-bit part `part` (0-3) of an IPv6 address for a prefix of `bits`. */
function partMask(bits: number, part: number): number {
  const left = bits - 32 * part;
  return left >= 32 ? -1 : left <= 0 ? 0 : -1 << (32 - left);
}

/** The entries of one prefix length of one family. */
class PrefixTable {
  readonly bits: number;
  /** IPv4: the network mask as a signed 32-bit integer. IPv6: `m0`-`m3` mask the four parts. */
  readonly mask: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  readonly map = new Map<number, Entry>();
  /** Entries in the table (IPv6 chains hold several per map slot). */
  count = 0;

  constructor(bits: number, family: 4 | 6) {
    this.bits = bits;
    this.mask = family === 4 ? v4Mask(bits) | 0 : 0;
    this.m0 = partMask(bits, 0);
    this.m1 = partMask(bits, 1);
    this.m2 = partMask(bits, 2);
    this.m3 = partMask(bits, 3);
  }
}

/**
 * Per-process random seed of the IPv6 hash, so that the slots addresses land in cannot be
 * computed in advance (bans are made from attacker addresses).
 */
const SEED = (Math.random() * 0x100000000) | 0;

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1);
  return h ^ (h >>> 15);
}

/** Hash of an IPv6 network given as four masked 32-bit parts, and its prefix length. */
function hashV6(p0: number, p1: number, p2: number, p3: number, bits: number): number {
  let h = mix(mix(mix(mix(SEED ^ bits, p0), p1), p2), p3);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) | 0;
}

// Scratch buffers of `find`: JavaScript is single-threaded and `find` does not re-enter.
const lookupV4 = new Float64Array(1);
const lookupV6 = new Uint16Array(8);

export class BanIndex {
  private readonly byTarget = new Map<string, Entry>();
  /** Prefix tables in use, longest prefix first. */
  private v4Tables: PrefixTable[] = [];
  private v6Tables: PrefixTable[] = [];
  /** IPv6 entries that cover every IPv4 peer (`::/0` and the like); almost always 0. */
  private v6CoveringV4 = 0;
  /** Min-heap on `ban.expires`. */
  private readonly heap: Entry[] = [];

  get size(): number {
    return this.heap.length;
  }

  /**
   * The ban covering `address` that is still in force at `now` (`now < expires`), longest
   * prefix first; undefined for an address that is not banned or not an address at all.
   */
  find(address: string, now: number): Ban | undefined {
    if (this.heap.length === 0) return undefined;
    const family = classifyIp(address, lookupV4, lookupV6);
    if (family === 4) {
      const addr = lookupV4[0]!;
      const tables = this.v4Tables;
      for (let i = 0; i < tables.length; i++) {
        const t = tables[i]!;
        const e = t.map.get(addr & t.mask);
        if (e !== undefined && now < e.expires) return e.ban;
      }
      if (this.v6CoveringV4 === 0) return undefined;
      // An IPv6 network that covers the mapped range covers this peer as ::ffff:a.b.c.d.
      return this.findV6(0, 0, 0xffff, addr | 0, now);
    }
    if (family === 6) {
      const w = lookupV6;
      return this.findV6(
        (w[0]! << 16) | w[1]!,
        (w[2]! << 16) | w[3]!,
        (w[4]! << 16) | w[5]!,
        (w[6]! << 16) | w[7]!,
        now,
      );
    }
    return undefined;
  }

  /** Probes the IPv6 tables for the address given as four 32-bit parts. */
  private findV6(a0: number, a1: number, a2: number, a3: number, now: number): Ban | undefined {
    const tables = this.v6Tables;
    for (let i = 0; i < tables.length; i++) {
      const t = tables[i]!;
      const p0 = a0 & t.m0;
      const p1 = a1 & t.m1;
      const p2 = a2 & t.m2;
      const p3 = a3 & t.m3;
      let e = t.map.get(hashV6(p0, p1, p2, p3, t.bits));
      while (e !== undefined) {
        if (e.p0 === p0 && e.p1 === p1 && e.p2 === p2 && e.p3 === p3 && now < e.expires) return e.ban;
        e = e.next;
      }
    }
    return undefined;
  }

  /** The ban of exactly this canonical target (active or not yet removed). */
  get(target: string): Ban | undefined {
    return this.byTarget.get(target)?.ban;
  }

  /**
   * Puts `ban` in, replacing the ban of the same target whatever its expiry. `ban.target` must
   * be canonical (`parseCidr(target).text`); returns the ban it replaced.
   */
  set(ban: Ban): Ban | undefined {
    const existing = this.byTarget.get(ban.target);
    if (existing !== undefined) {
      const old = existing.ban;
      existing.ban = ban;
      existing.expires = ban.expires;
      this.heapFix(existing.heapIndex);
      return old;
    }
    const cidr = parseCidr(ban.target);
    if (cidr.text !== ban.target) throw new Error(`ban target ${ban.target} is not canonical (${cidr.text})`);
    const entry = new Entry(ban, cidr);
    this.byTarget.set(ban.target, entry);
    this.insertIntoTable(entry);
    if (entry.coversAllV4) this.v6CoveringV4++;
    this.heapPush(entry);
    return undefined;
  }

  /** Removes the ban of exactly this canonical target; returns it, or undefined when there was none. */
  delete(target: string): Ban | undefined {
    const entry = this.byTarget.get(target);
    if (entry === undefined) return undefined;
    this.byTarget.delete(target);
    this.removeFromTable(entry);
    if (entry.coversAllV4) this.v6CoveringV4--;
    this.heapRemove(entry.heapIndex);
    return entry.ban;
  }

  /** Removes everything; returns how many bans there were. */
  clear(): number {
    const count = this.heap.length;
    this.byTarget.clear();
    this.v4Tables = [];
    this.v6Tables = [];
    this.v6CoveringV4 = 0;
    this.heap.length = 0;
    return count;
  }

  /** The ban that expires first, or undefined when empty. */
  soonest(): Ban | undefined {
    return this.heap[0]?.ban;
  }

  /** Every ban held, in no particular order. */
  *values(): IterableIterator<Ban> {
    for (const e of this.byTarget.values()) yield e.ban;
  }

  /** Bans in force at `now`, soonest expiry first (then by target, for a stable order). */
  list(now: number): Ban[] {
    const out: Ban[] = [];
    for (const e of this.heap) if (now < e.ban.expires) out.push(e.ban);
    return out.sort((a, b) => a.expires - b.expires || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  }

  // --- prefix tables ---

  /** The table of this entry's family and prefix length, created when it is the first. */
  private tableFor(entry: Entry): PrefixTable {
    const tables = entry.family === 4 ? this.v4Tables : this.v6Tables;
    for (const t of tables) if (t.bits === entry.bits) return t;
    const t = new PrefixTable(entry.bits, entry.family);
    // A new array (longest first) rather than a splice, so `find` never sees one half-updated.
    const next = [...tables, t].sort((a, b) => b.bits - a.bits);
    if (entry.family === 4) this.v4Tables = next;
    else this.v6Tables = next;
    return t;
  }

  private insertIntoTable(entry: Entry): void {
    const t = this.tableFor(entry);
    t.count++;
    if (entry.family === 4) {
      t.map.set(entry.key, entry);
      return;
    }
    // IPv6: the new entry heads the chain of its hash.
    entry.next = t.map.get(entry.key);
    t.map.set(entry.key, entry);
  }

  private removeFromTable(entry: Entry): void {
    const t = this.tableFor(entry);
    if (entry.family === 4) {
      t.map.delete(entry.key);
    } else {
      const head = t.map.get(entry.key);
      if (head === entry) {
        if (entry.next === undefined) t.map.delete(entry.key);
        else t.map.set(entry.key, entry.next);
      } else {
        let prev = head;
        while (prev !== undefined && prev.next !== entry) prev = prev.next;
        if (prev !== undefined) prev.next = entry.next;
      }
      entry.next = undefined;
    }
    t.count--;
    if (t.count === 0) {
      // Drop the empty length so `find` stops probing it.
      if (entry.family === 4) this.v4Tables = this.v4Tables.filter((x) => x !== t);
      else this.v6Tables = this.v6Tables.filter((x) => x !== t);
    }
  }

  // --- expiry heap ---

  private heapPush(entry: Entry): void {
    entry.heapIndex = this.heap.length;
    this.heap.push(entry);
    this.siftUp(entry.heapIndex);
  }

  private heapRemove(i: number): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (i < heap.length) {
      heap[i] = last;
      last.heapIndex = i;
      this.heapFix(i);
    }
  }

  /** Restores the heap order after the entry at `i` changed its expiry. */
  private heapFix(i: number): void {
    if (!this.siftUp(i)) this.siftDown(i);
  }

  private siftUp(i: number): boolean {
    const heap = this.heap;
    const entry = heap[i]!;
    const start = i;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.expires <= entry.expires) break;
      heap[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    heap[i] = entry;
    entry.heapIndex = i;
    return i !== start;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.expires < heap[left]!.expires ? right : left;
      const c = heap[child]!;
      if (c.expires >= entry.expires) break;
      heap[i] = c;
      c.heapIndex = i;
      i = child;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }
}
