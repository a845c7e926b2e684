/**
 * What every ban store does the same way, whatever keeps the bans: the in-memory index that
 * `find` answers from, "a later expiry wins", the cap, exact expiry with one timer for the next
 * ban to expire, and change notifications. Subclasses only persist (the `persist*` hooks) and
 * feed in changes made elsewhere (`reconcile`).
 */
import { parseCidr } from '../net/cidr.js';
import { BanIndex } from './ban-index.js';
import type { Ban, BanChange, BanChangeListener, BanStore } from './types.js';

export interface BanStoreOptions {
  /** Most bans held; beyond it the ban expiring soonest is removed to make room. Default 100000. */
  maxBans?: number;
  /**
   * Problems that no caller can be told of: a failed background write or poll, a listener that
   * threw. The store goes on (and retries what it retries); without `onError` they are ignored.
   */
  onError?: (err: Error) => void;
}

export const DEFAULT_MAX_BANS = 100_000;

/** Longest delay a Node timer takes; a later expiry is reached in several steps. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * A ban as the store keeps it: canonical target, integer times, frozen (the object `find`
 * returns is shared). Throws an Error naming the field for anything invalid.
 */
export function canonicalBan(ban: Ban): Ban {
  if (ban === null || typeof ban !== 'object') throw new Error('a ban must be an object');
  const target = parseCidr(ban.target).text;
  for (const field of ['created', 'expires'] as const) {
    if (typeof ban[field] !== 'number' || !Number.isFinite(ban[field])) {
      throw new Error(`ban of ${target}: ${field} must be a time in epoch milliseconds, got ${String(ban[field])}`);
    }
  }
  if (typeof ban.guard !== 'string' || ban.guard === '') throw new Error(`ban of ${target}: guard must be named`);
  if (typeof ban.reason !== 'string') throw new Error(`ban of ${target}: reason must be text`);
  return Object.freeze({
    target: flatten(target),
    guard: ban.guard,
    reason: ban.reason,
    created: Math.round(ban.created),
    expires: Math.round(ban.expires),
  });
}

/**
 * The same text as one flat string. Canonical targets are built by concatenation (ropes of many
 * small pieces): flattening halves the memory a held ban takes and speeds up hashing it.
 */
export function flatten(text: string): string {
  Number(text); // reading a rope as a number flattens it in place; the rope is dropped at the next GC
  return text;
}

/** True when two bans of the same target say the same. */
export function sameBan(a: Ban, b: Ban): boolean {
  return a.expires === b.expires && a.created === b.created && a.guard === b.guard && a.reason === b.reason;
}

export abstract class IndexedBanStore implements BanStore {
  private listeners: readonly BanChangeListener[] = [];
  protected readonly index = new BanIndex();
  protected readonly maxBans: number;
  private readonly onError: ((err: Error) => void) | undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** Expiry time the timer was set for (Infinity when none). */
  private timerFor = Number.POSITIVE_INFINITY;
  protected closed = false;

  protected constructor(options: BanStoreOptions) {
    const maxBans = options.maxBans ?? DEFAULT_MAX_BANS;
    if (!Number.isInteger(maxBans) || maxBans < 1) {
      throw new RangeError(`maxBans must be a positive integer, got ${String(maxBans)}`);
    }
    this.maxBans = maxBans;
    this.onError = options.onError;
  }

  // --- persistence hooks: throw an Error when the change could not be made durable ---

  /** Writes `ban` (a later expiry wins) and deletes `evicted` when the cap made room. */
  protected abstract persistAdd(ban: Ban, evicted: Ban | undefined): void;
  /** Deletes the ban of `target`; true when one was deleted. */
  protected abstract persistRemove(target: string): boolean;
  /** Deletes these expired bans (unless extended meanwhile). */
  protected abstract persistExpire(bans: readonly Ban[]): void;
  /** Deletes every ban; returns how many were deleted. */
  protected abstract persistFlush(): number;

  subscribe(listener: BanChangeListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  get size(): number {
    return this.index.size;
  }

  find(address: string, now: number): Ban | undefined {
    return this.index.find(address, now);
  }

  list(now: number): Ban[] {
    return this.index.list(now);
  }

  /**
   * Adds `ban`, or replaces the ban of its target when it expires later (otherwise the longer
   * ban stays and nothing happens). A ban already over is ignored. Throws an Error for an
   * invalid ban, and when the ban could not be made durable (it is enforced from memory
   * regardless, and `added` is emitted before the throw).
   */
  add(ban: Ban): void {
    this.assertOpen();
    const b = canonicalBan(ban);
    if (b.expires <= Date.now()) return;
    const existing = this.index.get(b.target);
    if (existing !== undefined && existing.expires >= b.expires) return;
    let evicted: Ban | undefined;
    if (existing === undefined && this.index.size >= this.maxBans) {
      evicted = this.index.soonest()!;
      this.index.delete(evicted.target);
    }
    this.index.set(b);
    let failure: unknown;
    try {
      this.persistAdd(b, evicted);
    } catch (err) {
      failure = err;
    }
    this.schedule();
    if (evicted !== undefined) this.emit({ kind: 'removed', target: evicted.target, external: false });
    this.emit({ kind: 'added', ban: b, external: false });
    if (failure !== undefined) throw failure;
  }

  /** Lifts the ban of exactly `target` (any form of it: `::ffff:192.0.2.7` is `192.0.2.7`). */
  remove(target: string): boolean {
    this.assertOpen();
    let canonical: string;
    try {
      canonical = parseCidr(target).text;
    } catch {
      return false;
    }
    const had = this.index.delete(canonical) !== undefined;
    let persisted = false;
    let failure: unknown;
    try {
      persisted = this.persistRemove(canonical);
    } catch (err) {
      failure = err;
    }
    this.schedule();
    if (had || persisted) this.emit({ kind: 'removed', target: canonical, external: false });
    if (failure !== undefined) throw failure;
    return had || persisted;
  }

  flush(): number {
    this.assertOpen();
    const held = this.index.clear();
    let deleted = 0;
    let failure: unknown;
    try {
      deleted = this.persistFlush();
    } catch (err) {
      failure = err;
    }
    this.schedule();
    const count = Math.max(held, deleted);
    this.emit({ kind: 'flushed', count, external: false });
    if (failure !== undefined) throw failure;
    return count;
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
  }

  // --- expiry ---

  /** Keeps one unref'd timer for the ban that expires next. */
  protected schedule(): void {
    const next = this.index.soonest();
    if (next === undefined || this.closed) {
      this.clearTimer();
      return;
    }
    if (this.timer !== undefined && this.timerFor === next.expires) return;
    this.clearTimer();
    const delay = Math.min(Math.max(0, next.expires - Date.now()), MAX_TIMER_DELAY_MS);
    this.timerFor = next.expires;
    this.timer = setTimeout(this.onTimer, delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerFor = Number.POSITIVE_INFINITY;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerFor = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    // A timer may fire a little before the wall clock reaches the expiry: then this finds
    // nothing and `schedule` sets the timer again for the remaining time.
    this.expireDue(Date.now());
    this.schedule();
  };

  /** Removes every ban with `expires <= now` from memory and the file, emitting `expired`. */
  protected expireDue(now: number): void {
    let expired: Ban[] | undefined;
    for (let b = this.index.soonest(); b !== undefined && b.expires <= now; b = this.index.soonest()) {
      this.index.delete(b.target);
      if (expired === undefined) expired = [];
      expired.push(b);
    }
    if (expired === undefined) return;
    try {
      this.persistExpire(expired);
    } catch (err) {
      // Left in the file, they are dropped when it is next opened or the next expiry succeeds.
      this.reportError(err);
    }
    for (const ban of expired) this.emit({ kind: 'expired', ban });
  }

  // --- changes made elsewhere ---

  /**
   * Brings memory in line with `rows`, the complete set of bans now in the file, and emits what
   * changed as `external`. `flushed` says another process flushed since the last look: the bans
   * held are reported as one `flushed` change, then the rows as `added`.
   */
  protected reconcile(rows: readonly Ban[], flushed: boolean, now: number): void {
    this.expireDue(now);
    const current = new Map<string, Ban>();
    for (const row of rows) if (row.expires > now) current.set(row.target, row);
    if (flushed) {
      const count = this.index.clear();
      this.emit({ kind: 'flushed', count, external: true });
    } else {
      const gone: Ban[] = [];
      for (const ban of this.index.values()) if (!current.has(ban.target)) gone.push(ban);
      for (const ban of gone) {
        this.index.delete(ban.target);
        this.emit({ kind: 'removed', target: ban.target, external: true });
      }
    }
    for (const row of current.values()) {
      const held = this.index.get(row.target);
      if (held !== undefined && sameBan(held, row)) continue;
      this.index.set(row);
      this.emit({ kind: 'added', ban: row, external: true });
    }
    this.enforceCap();
    this.schedule();
  }

  /** Removes the bans expiring soonest until at most `maxBans` are held (after a load). */
  protected enforceCap(): void {
    while (this.index.size > this.maxBans) {
      const evicted = this.index.soonest()!;
      this.index.delete(evicted.target);
      try {
        this.persistRemove(evicted.target);
      } catch (err) {
        this.reportError(err);
      }
      this.emit({ kind: 'removed', target: evicted.target, external: false });
    }
  }

  // --- helpers ---

  protected emit(change: BanChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.reportError(err);
      }
    }
  }

  protected reportError(err: unknown): void {
    if (this.onError === undefined) return;
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // An error handler that throws has nowhere left to report to.
    }
  }

  protected assertOpen(): void {
    if (this.closed) throw new Error('the ban store is closed');
  }
}
