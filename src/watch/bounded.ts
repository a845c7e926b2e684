/**
 * Bounded, time-aware tables shared by the trackers of the transaction watch. Every table
 * has a fixed cap: when it is full the least recently touched entry makes room (a Map keeps
 * insertion order, and touching an entry re-inserts it), so an attacker rotating through
 * addresses or usernames costs memory only up to the cap.
 */

/** A Map with a cap; `touch` moves an entry to the young end, the old end is evicted. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly cap: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The value without changing its age. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  /** The value, made the youngest. */
  touch(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Sets (as the youngest), evicting the oldest entry when full. */
  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.cap) this.evictOldest();
    this.map.set(key, value);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Removes entries from the old end while `stale(value)` holds; stops at the first fresh one. */
  pruneOldest(stale: (value: V) => boolean, max = 64): void {
    let n = 0;
    for (const [k, v] of this.map) {
      if (n++ >= max || !stale(v)) return;
      this.map.delete(k);
    }
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  private evictOldest(): void {
    const first = this.map.keys().next();
    if (first.done !== true) this.map.delete(first.value);
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
