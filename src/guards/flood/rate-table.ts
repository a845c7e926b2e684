/**
 * A bounded table of per-source message counters over a sliding window, for the flood guard.
 *
 * Keys are IPv4 networks (one 32-bit number) or IPv6 networks (four 32-bit numbers), already
 * masked to the aggregation prefix by the caller. Everything lives in typed arrays sized once
 * per growth step: an open-addressing hash index (linear probing, backward-shift deletion, so
 * no tombstones) maps a key to a slot, and the slot's counters sit in parallel arrays. Counting
 * a message from a source already tracked allocates nothing.
 *
 * Sliding window (the two-sample approximation): time is cut into buckets of `window` ms,
 * aligned on multiples of `window`. Each slot keeps the count of the current bucket and of the
 * one before; the rate estimate at time `now` is
 *
 *     current + previous × (window − elapsed in the current bucket) / window
 *
 * i.e. the previous bucket's messages are assumed spread evenly and only the part still inside
 * the last `window` ms counts. A burst that straddles a bucket boundary is counted almost in
 * full, unlike with fixed windows.
 *
 * Bounded memory: at most `maxEntries` slots. When a new key arrives and every slot is taken,
 * a victim is chosen by sampled eviction along a clock hand: the next `EVICTION_SAMPLE` slots
 * from the hand are scored and the lowest score is evicted; the hand moves past the sample.
 * The score is the slot's estimate discounted by how long it has been silent,
 *
 *     estimate × pace / (pace + idle)
 *
 * where `pace` is the gap between messages of a source sending exactly at the limit: a slot
 * that has been silent for many such gaps is not flooding now, however high its count. A slot
 * whose last message is more than a window old scores 0 and is taken at once. (Without the
 * discount, the table silts up: the survivors of many samples, sources that sent two packets a
 * second ago, outscore every newcomer, and an attacker is always forgotten after its first
 * message.) Every slot is therefore looked at once per revolution and only given
 * up when it is the least active of its sample, so a source that keeps sending stays tracked
 * while a crowd of one-packet sources churns through the rest of the table. A flagged slot
 * (over the limit, see the flood guard) scores above every unflagged one until its counts expire.
 * The cost is O(EVICTION_SAMPLE) per new key, independent of the table size.
 *
 * Ghosts: an evicted slot leaves its counts in a direct-mapped ghost array (twice the table's
 * size, allocated at the first eviction, each position overwritten by the next eviction that
 * hashes there). A key that comes back while its ghost is still there gets its counts back.
 * So a source whose gap between messages is longer than the table's turnover still adds up
 * its messages instead of starting from one each time: under a churn of a million new
 * sources a second through 100,000 slots, a source sending 10 messages a second is still
 * counted in full (bench/guards/flood.ts measures it). A ghost is matched on the full key for IPv4 and on the hash and first 32
 * bits for IPv6.
 *
 * The hash is keyed with a random seed per table, so an attacker who picks source addresses
 * (spoofed UDP) cannot aim them all at one probe chain without seeing the table.
 */

/** A tracked source as `top` reports it: its masked key and its estimate. */
export interface TopEntry {
  readonly family: 4 | 6;
  /** key[0] for IPv4; the four 32-bit words for IPv6. */
  readonly key: readonly [number, number, number, number];
  readonly messages: number;
}

/** Slots scored for each eviction. */
export const EVICTION_SAMPLE = 8;

/** First allocation; the table doubles up to maxEntries as sources arrive. */
const INITIAL_CAPACITY = 4096;

/** Added to the score of a flagged slot, so that it outlives unflagged ones while active. */
const FLAGGED_BONUS = 2 ** 30;

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class RateTable {
  readonly maxEntries: number;
  readonly window: number;
  /** Slot of the last `hit4`/`hit6`. */
  lastSlot = -1;

  private readonly seed: number;
  private readonly pace: number;
  private capacity = 0;
  private used = 0;
  private hand = 0;

  // Slots.
  private family = new Uint8Array(0);
  private k0 = new Int32Array(0);
  private k1 = new Int32Array(0);
  private k2 = new Int32Array(0);
  private k3 = new Int32Array(0);
  private hashes = new Int32Array(0);
  /** Bucket number (floor(time / window)) the counts belong to. */
  private bucket = new Float64Array(0);
  /** Time of the last message. */
  private lastSeen = new Float64Array(0);
  private current = new Int32Array(0);
  private previous = new Int32Array(0);
  private flags = new Uint8Array(0);

  // Ghosts of evicted slots, indexed by hash & ghostMask; family 0 marks an empty position.
  private ghostFamily = new Uint8Array(0);
  private ghostHash = new Int32Array(0);
  private ghostK0 = new Int32Array(0);
  private ghostBucket = new Float64Array(0);
  private ghostCurrent = new Int32Array(0);
  private ghostPrevious = new Int32Array(0);
  private ghostFlags = new Uint8Array(0);
  private ghostMask = -1;

  // Index: slot + 1, or 0 for an empty position. Size: a power of two, at least twice capacity.
  private index = new Int32Array(0);
  private indexMask = 0;

  /**
   * @param pace ms between messages of a source at the limit (window / limit); see the eviction score.
   * @param seed hash seed (random by default).
   */
  constructor(maxEntries: number, window: number, pace: number, seed = (Math.random() * 0x100000000) | 0) {
    if (!Number.isInteger(maxEntries) || maxEntries < EVICTION_SAMPLE) {
      throw new RangeError(`maxEntries must be an integer >= ${EVICTION_SAMPLE}, got ${maxEntries}`);
    }
    if (!Number.isFinite(window) || window <= 0) throw new RangeError(`window must be > 0 ms, got ${window}`);
    if (!Number.isFinite(pace) || pace <= 0) throw new RangeError(`pace must be > 0 ms, got ${pace}`);
    this.maxEntries = maxEntries;
    this.pace = pace;
    this.window = window;
    this.seed = seed;
    this.allocate(Math.min(maxEntries, INITIAL_CAPACITY));
  }

  /** Sources tracked now. */
  get size(): number {
    return this.used;
  }

  /** Slots allocated now (at most maxEntries). */
  get allocated(): number {
    return this.capacity;
  }

  /**
   * The key of the next hit4 (an IPv4 network in [0]) or hit6 (an IPv6 network as four 32-bit
   * words), already masked. Passed here rather than as arguments: most addresses are outside
   * V8's small-integer range and would be boxed, i.e. allocated, on every call not inlined.
   */
  readonly key = new Int32Array(4);

  /**
   * Counts one message from the IPv4 key in `key[0]`; returns the estimate of the messages in
   * the last window, this one included, rounded up to a whole number.
   */
  hit4(now: number): number {
    const key = this.key[0]!;
    const h = mix(key ^ this.seed);
    const index = this.index;
    const mask = this.indexMask;
    let pos = h & mask;
    for (;;) {
      const e = index[pos]!;
      if (e === 0) break;
      const s = e - 1;
      if (this.hashes[s] === h && this.family[s] === 4 && this.k0[s] === key) return this.count(s, now);
      pos = (pos + 1) & mask;
    }
    return this.count(this.insert(4, h, now), now);
  }

  /** Counts one message from the IPv6 key in `key[0..3]`, as hit4. */
  hit6(now: number): number {
    const k = this.key;
    const a = k[0]!;
    const b = k[1]!;
    const c = k[2]!;
    const d = k[3]!;
    const h = mix(mix(mix(mix(a ^ this.seed) ^ b) ^ c) ^ d ^ 0x6);
    const index = this.index;
    const mask = this.indexMask;
    let pos = h & mask;
    for (;;) {
      const e = index[pos]!;
      if (e === 0) break;
      const s = e - 1;
      if (
        this.hashes[s] === h &&
        this.family[s] === 6 &&
        this.k0[s] === a &&
        this.k1[s] === b &&
        this.k2[s] === c &&
        this.k3[s] === d
      ) {
        return this.count(s, now);
      }
      pos = (pos + 1) & mask;
    }
    return this.count(this.insert(6, h, now), now);
  }

  isFlagged(slot: number): boolean {
    return this.flags[slot] === 1;
  }

  setFlagged(slot: number, flagged: boolean): void {
    this.flags[slot] = flagged ? 1 : 0;
  }

  /**
   * The `limit` slots with the highest estimate at `now`, highest first: for the admin API,
   * never on the message path. Reads without rolling any slot, so the counts stay as they are.
   */
  top(limit: number, now: number): TopEntry[] {
    const out: TopEntry[] = [];
    const w = this.window;
    const b = Math.floor(now / w);
    const remaining = w - (now - b * w);
    for (let s = 0; s < this.used; s++) {
      const d = b - this.bucket[s]!;
      // A bucket ahead of now (the clock went back) or two behind holds nothing current.
      const cur = d === 0 ? this.current[s]! : 0;
      const prev = d === 0 ? this.previous[s]! : d === 1 ? this.current[s]! : 0;
      const messages = Math.ceil((cur * w + prev * remaining) / w);
      if (messages === 0) continue;
      if (out.length === limit && messages <= out[out.length - 1]!.messages) continue;
      const entry: TopEntry = {
        family: this.family[s] === 6 ? 6 : 4,
        key: [this.k0[s]!, this.k1[s]!, this.k2[s]!, this.k3[s]!],
        messages,
      };
      let i = out.length;
      while (i > 0 && out[i - 1]!.messages < messages) i--;
      out.splice(i, 0, entry);
      if (out.length > limit) out.pop();
    }
    return out;
  }

  /** Frees the arrays; the table is empty (and small) afterwards. */
  clear(): void {
    this.allocate(0);
  }

  /**
   * Counts one message in slot s; returns the estimate rounded up to whole messages. Only
   * small integers and tagged values cross calls here: a double returned from, or passed to,
   * a call V8 does not inline is boxed, i.e. allocated.
   */
  private count(s: number, now: number): number {
    this.lastSlot = s;
    // roll() and estimate() written out: one division for the bucket, one for the estimate.
    const w = this.window;
    const b = Math.floor(now / w);
    const d = b - this.bucket[s]!;
    let cur = this.current[s]!;
    let prev = this.previous[s]!;
    if (d !== 0) {
      prev = d === 1 ? cur : 0;
      cur = 0;
      this.previous[s] = prev;
      this.bucket[s] = b;
    }
    cur++;
    this.current[s] = cur;
    this.lastSeen[s] = now;
    return Math.ceil((cur * w + prev * (w - (now - b * w))) / w);
  }

  /**
   * current + previous × (window − elapsed) / window, with the numerator in whole message-ms
   * (exact for integer times), so a count at the limit compares equal to it, not a hair above.
   * The slot must have been rolled to now.
   */
  private estimate(s: number, now: number): number {
    const w = this.window;
    const remaining = w - (now - Math.floor(now / w) * w);
    return (this.current[s]! * w + this.previous[s]! * remaining) / w;
  }

  /**
   * Moves a slot's counts to the bucket of `now`. A clock that went back (a wall-clock step)
   * starts the slot afresh: keeping the counts would add up every message until the clock
   * caught up.
   */
  private roll(s: number, now: number): void {
    const b = Math.floor(now / this.window);
    const d = b - this.bucket[s]!;
    if (d === 0) return;
    this.previous[s] = d === 1 ? this.current[s]! : 0;
    this.current[s] = 0;
    this.bucket[s] = b;
  }

  private score(s: number, now: number): number {
    this.roll(s, now);
    const estimate = this.estimate(s, now);
    if (estimate === 0) return 0;
    const idle = now > this.lastSeen[s]! ? now - this.lastSeen[s]! : 0;
    const value = (estimate * this.pace) / (this.pace + idle);
    return this.flags[s] === 1 ? value + FLAGGED_BONUS : value;
  }

  /** Takes a slot for the key in `key` (family 4: key[0] only), evicting one if the table is full. */
  private insert(family: number, h: number, now: number): number {
    let s: number;
    if (this.used < this.capacity) {
      s = this.used++;
    } else if (this.capacity < this.maxEntries) {
      this.allocate(Math.min(this.maxEntries, Math.max(INITIAL_CAPACITY, this.capacity * 2)));
      s = this.used++;
    } else {
      s = this.evict(now);
    }
    const k = this.key;
    this.family[s] = family;
    this.k0[s] = k[0]!;
    this.k1[s] = family === 4 ? 0 : k[1]!;
    this.k2[s] = family === 4 ? 0 : k[2]!;
    this.k3[s] = family === 4 ? 0 : k[3]!;
    this.hashes[s] = h;
    this.bucket[s] = Math.floor(now / this.window);
    this.lastSeen[s] = now;
    this.current[s] = 0;
    this.previous[s] = 0;
    this.flags[s] = 0;
    if (this.ghostMask >= 0) this.revive(s, family, h);
    this.place(s, h);
    return s;
  }

  /** Keeps the counts of slot s, about to be reused, as a ghost. */
  private bury(s: number): void {
    if (this.ghostMask < 0) this.allocateGhosts();
    const g = this.hashes[s]! & this.ghostMask;
    this.ghostFamily[g] = this.family[s]!;
    this.ghostHash[g] = this.hashes[s]!;
    this.ghostK0[g] = this.k0[s]!;
    this.ghostBucket[g] = this.bucket[s]!;
    this.ghostCurrent[g] = this.current[s]!;
    this.ghostPrevious[g] = this.previous[s]!;
    this.ghostFlags[g] = this.flags[s]!;
  }

  /** Gives a newly inserted slot the counts of its key's ghost, if there is one. */
  private revive(s: number, family: number, h: number): void {
    const g = h & this.ghostMask;
    if (this.ghostFamily[g] !== family || this.ghostHash[g] !== h || this.ghostK0[g] !== this.k0[s]) return;
    this.ghostFamily[g] = 0;
    this.bucket[s] = this.ghostBucket[g]!;
    this.current[s] = this.ghostCurrent[g]!;
    this.previous[s] = this.ghostPrevious[g]!;
    this.flags[s] = this.ghostFlags[g]!;
  }

  private allocateGhosts(): void {
    const size = nextPowerOfTwo(this.capacity * 2);
    this.ghostFamily = new Uint8Array(size);
    this.ghostHash = new Int32Array(size);
    this.ghostK0 = new Int32Array(size);
    this.ghostBucket = new Float64Array(size);
    this.ghostCurrent = new Int32Array(size);
    this.ghostPrevious = new Int32Array(size);
    this.ghostFlags = new Uint8Array(size);
    this.ghostMask = size - 1;
  }

  /** Puts slot s into the index at the first free position of its probe chain. */
  private place(s: number, h: number): void {
    const mask = this.indexMask;
    let pos = h & mask;
    while (this.index[pos] !== 0) pos = (pos + 1) & mask;
    this.index[pos] = s + 1;
  }

  /** Picks the least active slot of the next sample along the hand and removes it from the index. */
  private evict(now: number): number {
    const capacity = this.capacity;
    let victim = this.hand;
    let best = Number.POSITIVE_INFINITY;
    let s = this.hand;
    for (let i = 0; i < EVICTION_SAMPLE; i++) {
      const value = this.score(s, now);
      if (value < best) {
        best = value;
        victim = s;
        if (value === 0) {
          s = s + 1 === capacity ? 0 : s + 1;
          break;
        }
      }
      s = s + 1 === capacity ? 0 : s + 1;
    }
    this.hand = s;
    this.bury(victim);
    this.unindex(victim);
    return victim;
  }

  /** Removes slot s from the index, shifting later members of its cluster back (no tombstones). */
  private unindex(s: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let hole = this.hashes[s]! & mask;
    while (index[hole] !== s + 1) hole = (hole + 1) & mask;
    let pos = hole;
    for (;;) {
      pos = (pos + 1) & mask;
      const e = index[pos]!;
      if (e === 0) break;
      const home = this.hashes[e - 1]! & mask;
      // The entry at pos may move into the hole unless its home lies cyclically in (hole, pos].
      const stays = hole <= pos ? home > hole && home <= pos : home > hole || home <= pos;
      if (!stays) {
        index[hole] = e;
        hole = pos;
      }
    }
    index[hole] = 0;
  }

  /** (Re)allocates every array for `capacity` slots, keeping the slots in use. */
  private allocate(capacity: number): void {
    const keep = Math.min(this.used, capacity);
    const grow = <T extends Uint8Array | Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old.subarray(0, keep));
      return next;
    };
    this.family = grow(this.family, (n) => new Uint8Array(n));
    this.k0 = grow(this.k0, (n) => new Int32Array(n));
    this.k1 = grow(this.k1, (n) => new Int32Array(n));
    this.k2 = grow(this.k2, (n) => new Int32Array(n));
    this.k3 = grow(this.k3, (n) => new Int32Array(n));
    this.hashes = grow(this.hashes, (n) => new Int32Array(n));
    this.bucket = grow(this.bucket, (n) => new Float64Array(n));
    this.lastSeen = grow(this.lastSeen, (n) => new Float64Array(n));
    this.current = grow(this.current, (n) => new Int32Array(n));
    this.previous = grow(this.previous, (n) => new Int32Array(n));
    this.flags = grow(this.flags, (n) => new Uint8Array(n));
    if (capacity < this.capacity) {
      this.ghostFamily = new Uint8Array(0);
      this.ghostHash = new Int32Array(0);
      this.ghostK0 = new Int32Array(0);
      this.ghostBucket = new Float64Array(0);
      this.ghostCurrent = new Int32Array(0);
      this.ghostPrevious = new Int32Array(0);
      this.ghostFlags = new Uint8Array(0);
      this.ghostMask = -1;
    }
    this.capacity = capacity;
    this.used = keep;
    this.hand = 0;
    this.lastSlot = -1;
    const indexSize = capacity === 0 ? 1 : nextPowerOfTwo(capacity * 2);
    this.index = new Int32Array(indexSize);
    this.indexMask = indexSize - 1;
    for (let s = 0; s < keep; s++) this.place(s, this.hashes[s]!);
  }
}
