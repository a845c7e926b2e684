import { EventTimes, LruMap } from './bounded.js';

export interface Threshold {
  /** 0: off. */
  warn: number;
  /** 0: off. */
  block: number;
}

export interface FraudSettings {
  callsPerMinute: Threshold;
  concurrentCalls: Threshold;
  repeatedCalls: Threshold & { window: number };
  maxCallDuration: number;
  maxUsers: number;
}

/** Most numbers remembered per user for the repeated-calls limit, and most calls up per user. */
const MAX_DESTINATIONS_PER_USER = 256;
const MAX_ACTIVE_PER_USER = 4096;
const MINUTE = 60_000;

/** One limit's verdict on a new call: `block` refuses it, `warn` only reports. */
export interface LimitCheck {
  level: 'ok' | 'warn' | 'block';
  rule: string;
  /** The value that crossed the threshold (this call included). */
  value: number;
}

class UserCalls {
  readonly starts: EventTimes;
  /** Call-ID of the last call counted: the same INVITE again (retransmitted, re-sent with credentials) counts once. */
  lastCallId = '';
  /** Calls up: Call-ID -> when they are forgotten. */
  readonly active = new Map<string, number>();
  readonly destinations = new LruMap<string, EventTimes>(MAX_DESTINATIONS_PER_USER);

  constructor(ring: number) {
    this.starts = new EventTimes(ring);
  }

  activeCount(now: number): number {
    for (const [id, until] of this.active) if (until <= now) this.active.delete(id);
    return this.active.size;
  }
}

/**
 * Per-user call accounting for the fraud limits, in bounded tables: calls started per
 * minute, calls up at once (a 2xx to the INVITE adds one, a BYE from either side ends it,
 * and a call not seen ending is forgotten after `maxCallDuration`), calls to the same number
 * within a window. Thresholds mean "more than": `block: 5` admits five calls a minute and
 * refuses the sixth; `warn: 3` reports the fourth (once each time it is crossed).
 */
export class FraudTracker {
  private readonly users: LruMap<string, UserCalls>;
  /** Call-ID -> user, to end a call by its BYE. */
  private readonly owners: LruMap<string, string>;
  private readonly result: LimitCheck = { level: 'ok', rule: '', value: 0 };
  private readonly ring: number;
  private readonly repeatRing: number;

  constructor(readonly settings: FraudSettings) {
    this.users = new LruMap(settings.maxUsers);
    this.owners = new LruMap(settings.maxUsers);
    const s = settings;
    this.ring = Math.max(s.callsPerMinute.warn, s.callsPerMinute.block) + 1;
    this.repeatRing = Math.max(s.repeatedCalls.warn, s.repeatedCalls.block) + 1;
  }

  /** True when some per-user limit is on (otherwise nothing needs counting). */
  get counting(): boolean {
    const s = this.settings;
    return (
      s.callsPerMinute.warn + s.callsPerMinute.block + s.concurrentCalls.warn + s.concurrentCalls.block > 0 ||
      s.repeatedCalls.warn + s.repeatedCalls.block > 0
    );
  }

  /**
   * Checks a new call of `user` to `destination` against the limits and, unless refused,
   * counts it. Returns the strongest finding (the same object every call: read it at once).
   */
  newCall(user: string, destination: string, callId: string, now: number): LimitCheck {
    const r = this.result;
    r.level = 'ok';
    r.rule = '';
    r.value = 0;
    const s = this.settings;
    let u = this.users.touch(user);
    if (u === undefined) {
      u = new UserCalls(this.ring);
      this.users.set(user, u);
    }
    if (callId === u.lastCallId) return r;

    const perMinute = u.starts.count(now, MINUTE) + 1;
    const concurrent = u.activeCount(now) + 1;
    let times = destination === '' ? undefined : u.destinations.touch(destination);
    const repeated = (times?.count(now, s.repeatedCalls.window) ?? 0) + 1;

    if (over(perMinute, s.callsPerMinute.block)) return set(r, 'block', 'calls-per-minute', perMinute);
    if (over(concurrent, s.concurrentCalls.block)) return set(r, 'block', 'concurrent-calls', concurrent);
    if (destination !== '' && over(repeated, s.repeatedCalls.block)) {
      return set(r, 'block', 'repeated-calls', repeated);
    }

    u.lastCallId = callId;
    u.starts.add(now);
    if (destination !== '' && this.repeatRing > 1) {
      if (times === undefined) {
        times = new EventTimes(this.repeatRing);
        u.destinations.set(destination, times);
      }
      times.add(now);
    }
    if (crossed(perMinute, s.callsPerMinute.warn)) return set(r, 'warn', 'calls-per-minute', perMinute);
    if (crossed(concurrent, s.concurrentCalls.warn)) return set(r, 'warn', 'concurrent-calls', concurrent);
    if (destination !== '' && crossed(repeated, s.repeatedCalls.warn)) {
      return set(r, 'warn', 'repeated-calls', repeated);
    }
    return r;
  }

  /** The INVITE of `callId` was answered 2xx: the call is up. */
  callStarted(user: string, callId: string, now: number): void {
    const u = this.users.peek(user);
    if (u === undefined || u.active.has(callId)) return;
    if (u.active.size >= MAX_ACTIVE_PER_USER) u.activeCount(now);
    if (u.active.size >= MAX_ACTIVE_PER_USER) return;
    u.active.set(callId, now + this.settings.maxCallDuration);
    this.owners.set(callId, user);
  }

  /** A BYE for `callId` went through: the call is over. */
  callEnded(callId: string): void {
    const user = this.owners.peek(callId);
    if (user === undefined) return;
    this.owners.delete(callId);
    this.users.peek(user)?.active.delete(callId);
  }

  activeCalls(user: string, now: number): number {
    return this.users.peek(user)?.activeCount(now) ?? 0;
  }

  get trackedUsers(): number {
    return this.users.size;
  }
}

function over(value: number, limit: number): boolean {
  return limit > 0 && value > limit;
}

function crossed(value: number, limit: number): boolean {
  return limit > 0 && value === limit + 1;
}

function set(r: LimitCheck, level: LimitCheck['level'], rule: string, value: number): LimitCheck {
  r.level = level;
  r.rule = rule;
  r.value = value;
  return r;
}

/**
 * A dialled number as compared with prefixes: %-escapes decoded, visual separators
 * (RFC 3966: `-`, `.`, `(`, `)`, spaces) removed. `%2B882...` and `+8-82...` are `+882...`.
 */
export function normalizeNumber(user: string): string {
  let s = user;
  if (s.indexOf('%') !== -1) {
    try {
      s = decodeURIComponent(s);
    } catch {
      // A broken escape: compare it as written.
    }
  }
  return s.replace(/[-.() ]/g, '');
}

/** True for an international number: `+` or `00` in front. */
export function isInternational(number: string): boolean {
  return number.startsWith('+') || number.startsWith('00');
}

/** The first prefix `number` starts with, or undefined. */
export function matchPrefix(number: string, prefixes: readonly string[]): string | undefined {
  for (let i = 0; i < prefixes.length; i++) if (number.startsWith(prefixes[i]!)) return prefixes[i];
  return undefined;
}
