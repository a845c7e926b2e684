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
  readonly family: 4 | 6;
  readonly bits: number;
  /** IPv4: the network as a signed 32-bit integer; IPv6: the hash of the network's words. */
  readonly key: number;
  /** IPv6 network words (masked); an empty array for IPv4, so every entry has the same shape. */
  readonly words: Uint16Array;
  /** IPv6 only: true when the network contains `::ffff:0:0/96`, i.e. every IPv4 peer. */
  readonly coversAllV4: boolean;
  /** Next entry with the same IPv6 hash in the same table. */
  next: Entry | undefined = undefined;
  /** Position in the expiry heap. */
  heapIndex = -1;

  constructor(ban: Ban, cidr: Cidr, key: number) {
    this.ban = ban;
    this.family = cidr.family;
    this.bits = cidr.bits;
    this.key = key;
    this.words = cidr.v6 ?? EMPTY_WORDS;
    this.coversAllV4 = cidr.coversAllV4;
  }
}

const EMPTY_WORDS = new Uint16Array(0);

/** The entries of one prefix length of one family. */
class PrefixTable {
  readonly bits: number;
  /** IPv4 network mask as a signed 32-bit integer (unused for IPv6). */
  readonly mask: number;
  readonly map = new Map<number, Entry>();
  /** Entries in the table (IPv6 chains hold several per map slot). */
  count = 0;

  constructor(bits: number, family: 4 | 6) {
    this.bits = bits;
    this.mask = family === 4 ? v4Mask(bits) | 0 : 0;
  }
}

/**
 * Per-process random seed of the IPv6 hash, so that the slots addresses land in cannot be
 * computed in advance (bans are made from attacker addresses).
 */
const SEED = (Math.random() * 0x100000000) | 0;

/** Hash of the first `bits` bits of `w` (the rest counts as zero). */
function hashV6(w: Uint16Array, bits: number): number {
  let h = SEED ^ bits;
  for (let i = 0; i < 8; i++) {
    const keep = bits - i * 16;
    const x = keep >= 16 ? w[i]! : keep <= 0 ? 0 : w[i]! & ((0xffff << (16 - keep)) & 0xffff);
    h = Math.imul(h ^ x, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) | 0;
}

/** True when the first `bits` bits of `w` equal `net` (already masked). */
function sameNetwork(net: Uint16Array, w: Uint16Array, bits: number): boolean {
  for (let i = 0; i < 8; i++) {
    const keep = bits - i * 16;
    if (keep <= 0) return true;
    const x = keep >= 16 ? w[i]! : w[i]! & ((0xffff << (16 - keep)) & 0xffff);
    if (x !== net[i]) return false;
  }
  return true;
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
        if (e !== undefined && now < e.ban.expires) return e.ban;
      }
      if (this.v6CoveringV4 === 0) return undefined;
      // An IPv6 network that covers the mapped range covers this peer as ::ffff:a.b.c.d.
      lookupV6.fill(0, 0, 5);
      lookupV6[5] = 0xffff;
      lookupV6[6] = addr >>> 16;
      lookupV6[7] = addr & 0xffff;
      return this.findV6(now);
    }
    if (family === 6) return this.findV6(now);
    return undefined;
  }

  private findV6(now: number): Ban | undefined {
    const tables = this.v6Tables;
    for (let i = 0; i < tables.length; i++) {
      const t = tables[i]!;
      let e = t.map.get(hashV6(lookupV6, t.bits));
      while (e !== undefined) {
        if (sameNetwork(e.words, lookupV6, t.bits) && now < e.ban.expires) return e.ban;
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
      this.heapFix(existing.heapIndex);
      return old;
    }
    const cidr = parseCidr(ban.target);
    if (cidr.text !== ban.target) throw new Error(`ban target ${ban.target} is not canonical (${cidr.text})`);
    const entry =
      cidr.family === 4 ? new Entry(ban, cidr, cidr.v4 | 0) : new Entry(ban, cidr, hashV6(cidr.v6!, cidr.bits));
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
      if (p.ban.expires <= entry.ban.expires) break;
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
      const child = right < n && heap[right]!.ban.expires < heap[left]!.ban.expires ? right : left;
      const c = heap[child]!;
      if (c.ban.expires >= entry.ban.expires) break;
      heap[i] = c;
      c.heapIndex = i;
      i = child;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }
}
