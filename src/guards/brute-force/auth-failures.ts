import { DistinctWindow, LruMap } from '../../watch/bounded.js';

export interface AuthFailureSettings {
  maxFailures: number;
  window: number;
  maxEntries: number;
  distributed: { sources: number; window: number; lock: boolean; lockDuration: number };
}

/** What one failure led to. The same object is returned by every call (read it at once). */
export interface FailureOutcome {
  /** The source reached `maxFailures` within the window: ban it. */
  ban: boolean;
  /** Failures for this username came from `distributed.sources` sources: alert (once per window). */
  distributed: boolean;
  /** Failures of the source within the window, this one included. */
  sourceFailures: number;
  /** Distinct sources that failed for the username within the distributed window. */
  userSources: number;
}

/** The last `maxFailures` failures of one source: when, and for which user. */
class SourceFailures {
  readonly times: Float64Array;
  readonly users: string[];
  next = 0;

  constructor(n: number) {
    this.times = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.users = new Array<string>(n).fill('');
  }

  add(user: string, now: number): void {
    this.times[this.next] = now;
    this.users[this.next] = user;
    this.next = (this.next + 1) % this.times.length;
  }

  count(now: number, window: number): number {
    let n = 0;
    for (let i = 0; i < this.times.length; i++) if (this.times[i]! > now - window) n++;
    return n;
  }

  /** Forgets the failures for one user (it has just authenticated from this source). */
  forget(user: string): void {
    for (let i = 0; i < this.times.length; i++) if (this.users[i] === user) this.times[i] = Number.NEGATIVE_INFINITY;
  }

  get newest(): number {
    return this.times[(this.next - 1 + this.times.length) % this.times.length]!;
  }
}

class UserFailures {
  lastAlert = Number.NEGATIVE_INFINITY;
  constructor(readonly sources: DistinctWindow) {}
}

/**
 * Failed and successful authentications, per source and per username (+realm), in bounded
 * tables. Pure bookkeeping: the brute_force guard decides what to do with the outcome.
 *
 * A "source" here is the key the guard passes: the address masked as `sources.*` says
 * (`BanPolicy.keyOf`), so every address of one IPv6 /64 counts against the same failures,
 * the same known-good pairs and as one source of distributed guessing.
 *
 * - A source that fails `maxFailures` times within `window` is to be banned. A success for a
 *   user from a source forgets that source's failures for that user (a phone that got its
 *   password fixed starts clean; failures for other users stay).
 * - A success also marks the source as known good for the user.
 * - `distributed.sources` distinct sources failing for one user within `distributed.window`
 *   raise the distributed alert; with `distributed.lock` the user's credentials are then
 *   refused from every source that is not known good for it, for `lockDuration`.
 */
export class AuthFailureTracker {
  private readonly bySource: LruMap<string, SourceFailures>;
  private readonly byUser: LruMap<string, UserFailures>;
  private readonly knownGood: LruMap<string, number>;
  private readonly locks: LruMap<string, number>;
  private readonly outcome: FailureOutcome = { ban: false, distributed: false, sourceFailures: 0, userSources: 0 };

  constructor(readonly settings: AuthFailureSettings) {
    this.bySource = new LruMap(settings.maxEntries);
    this.byUser = new LruMap(settings.maxEntries);
    this.knownGood = new LruMap(settings.maxEntries);
    this.locks = new LruMap(Math.min(settings.maxEntries, 10_000));
  }

  /**
   * A failed authentication of `user` from `address`. `countSource` false: the request's failure
   * was already counted for the source (a request carrying credentials for several users counts
   * once for its source, once for each user).
   */
  failure(address: string, user: string, realm: string, now: number, countSource = true): FailureOutcome {
    const s = this.settings;
    const key = userKey(user, realm);
    const o = this.outcome;
    o.ban = false;
    o.distributed = false;
    o.sourceFailures = 0;

    if (countSource) {
      let src = this.bySource.touch(address);
      if (src === undefined) {
        src = new SourceFailures(s.maxFailures);
        this.bySource.set(address, src);
      }
      src.add(key, now);
      o.sourceFailures = src.count(now, s.window);
      if (o.sourceFailures >= s.maxFailures) {
        o.ban = true;
        // The ban takes over; after it the source starts from nothing.
        this.bySource.delete(address);
      }
    }

    let u = this.byUser.touch(key);
    if (u === undefined) {
      u = new UserFailures(new DistinctWindow(s.distributed.sources));
      this.byUser.set(key, u);
    }
    o.userSources = u.sources.add(address, now, s.distributed.window);
    if (o.userSources >= s.distributed.sources && now - u.lastAlert >= s.distributed.window) {
      u.lastAlert = now;
      o.distributed = true;
      if (s.distributed.lock) this.locks.set(key, now + s.distributed.lockDuration);
    }
    return o;
  }

  success(address: string, user: string, realm: string, now: number): void {
    const key = userKey(user, realm);
    this.bySource.peek(address)?.forget(key);
    this.knownGood.set(goodKey(address, key), now);
  }

  /** True when `address` authenticated as the user before (and is still remembered). */
  isKnownGood(address: string, user: string, realm: string): boolean {
    return this.knownGood.peek(goodKey(address, userKey(user, realm))) !== undefined;
  }

  /** True while the user is locked after distributed guessing and `address` is not known good for it. */
  isRefused(address: string, user: string, realm: string, now: number): boolean {
    if (this.locks.size === 0) return false;
    const key = userKey(user, realm);
    const until = this.locks.peek(key);
    if (until === undefined) return false;
    if (until <= now) {
      this.locks.delete(key);
      return false;
    }
    return this.knownGood.peek(goodKey(address, key)) === undefined;
  }

  /** Users locked now (for tests and status). */
  get lockedUsers(): number {
    return this.locks.size;
  }

  /** Failures of a source within the window. */
  failuresOf(address: string, now: number): number {
    return this.bySource.peek(address)?.count(now, this.settings.window) ?? 0;
  }

  get trackedSources(): number {
    return this.bySource.size;
  }

  get trackedUsers(): number {
    return this.byUser.size;
  }
}

function userKey(user: string, realm: string): string {
  return realm === '' ? user : `${user}@${realm}`;
}

function goodKey(address: string, key: string): string {
  return `${address}\n${key}`;
}
