/**
 * Bounded, time-aware tables shared by the trackers of the transaction watch. Every table
 * has a fixed cap, so an attacker rotating through addresses or usernames costs memory only
 * up to the cap; old entries make room for new ones.
 */

/**
 * A bounded map in two generations: new and refreshed entries go to the young one; when it
 * holds half the cap, it becomes the old one and the previous old one is dropped whole. An
 * entry read from the old generation is moved back to the young one, so what is in use stays
 * and what is not goes within two generations. Every operation is O(1): no scan of a Map's
 * deleted slots from the front, which costs tens of microseconds under address rotation.
 */
export class LruMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(readonly cap: number) {
    this.half = Math.max(1, cap >> 1);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The value without refreshing it. */
  peek(key: K): V | undefined {
    const v = this.young.get(key);
    return v !== undefined ? v : this.old.get(key);
  }

  /** The value, refreshed (kept through the next generation change). */
  touch(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.insert(key, o);
    }
    return o;
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value);
      return;
    }
    this.old.delete(key);
    this.insert(key, value);
  }

  delete(key: K): boolean {
    return this.young.delete(key) || this.old.delete(key);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  *entries(): IterableIterator<[K, V]> {
    yield* this.old.entries();
    yield* this.young.entries();
  }

  private insert(key: K, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}

/**
 * The times of the last `cap` events (a ring), for "N events within a window" checks
 * without counting old events: `count(now, window)` is exact as long as the limit checked
 * is at most `cap`.
 */
export class EventTimes {
  private readonly times: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(cap: number) {
    this.times = new Float64Array(Math.max(1, cap));
  }

  add(now: number): void {
    this.times[this.next] = now;
    this.next = (this.next + 1) % this.times.length;
    if (this.filled < this.times.length) this.filled++;
  }

  /** Events within (now - window, now]. */
  count(now: number, window: number): number {
    let n = 0;
    const from = now - window;
    for (let i = 0; i < this.filled; i++) if (this.times[i]! > from) n++;
    return n;
  }

  /** Time of the newest event, or -Infinity. */
  get last(): number {
    if (this.filled === 0) return Number.NEGATIVE_INFINITY;
    return this.times[(this.next - 1 + this.times.length) % this.times.length]!;
  }

  clear(): void {
    this.filled = 0;
    this.next = 0;
  }
}

/**
 * Distinct items seen within a window (e.g. the numbers one source dialled), at most `cap`
 * of them: each with the time it was last seen.
 */
export class DistinctWindow {
  private readonly items = new Map<string, number>();

  constructor(private readonly cap: number) {}

  /** Adds or refreshes `item`; returns how many distinct items were seen within the window. */
  add(item: string, now: number, window: number): number {
    this.expire(now, window);
    if (this.items.has(item)) this.items.delete(item);
    else if (this.items.size >= this.cap) {
      const first = this.items.keys().next();
      if (first.done !== true) this.items.delete(first.value);
    }
    this.items.set(item, now);
    return this.items.size;
  }

  count(now: number, window: number): number {
    this.expire(now, window);
    return this.items.size;
  }

  /** Time of the newest item, or -Infinity. */
  get last(): number {
    let t = Number.NEGATIVE_INFINITY;
    for (const v of this.items.values()) t = v;
    return t;
  }

  /** Items are in the order last seen: drop the old ones from the front. */
  private expire(now: number, window: number): void {
    const from = now - window;
    for (const [k, t] of this.items) {
      if (t > from) return;
      this.items.delete(k);
    }
  }
}
