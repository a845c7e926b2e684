import { createHash } from 'node:crypto';
import { EventTimes, LruMap } from '../../watch/bounded.js';
import { INVITE_TRANSACTION_TIMEOUT_MS } from '../../watch/transactions.js';

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

/** Most numbers remembered per user for the repeated-calls limit, most calls up and most recent attempts per user. */
const MAX_DESTINATIONS_PER_USER = 256;
const MAX_ACTIVE_PER_USER = 4096;
const MAX_ATTEMPTS_PER_USER = 256;
const MINUTE = 60_000;

/** One limit's verdict on a new call: `block` refuses it, `warn` only reports. */
export interface LimitCheck {
  level: 'ok' | 'warn' | 'block';
  rule: string;
  /** The value that crossed the threshold (this call included). */
  value: number;
}

/** An attempt's state: waiting for its final answer, refused (a retry follows), answered 2xx. */
const PENDING = 0;
const FAILED = 1;
const ANSWERED = 2;

/**
 * One request that places a call: an INVITE outside a dialog, or a REFER (a transfer, which
 * has the PBX place the call). Identified by `attemptId` (its dialog's identifiers so far and
 * its method) and its CSeq.
 */
class Attempt {
  state = PENDING;
  /** An INVITE waiting for its final answer counts as a call up until then (or this time). */
  pendingUntil: number;

  constructor(
    public cseq: number,
    now: number,
    readonly invite: boolean,
  ) {
    this.pendingUntil = now + INVITE_TRANSACTION_TIMEOUT_MS;
  }

  /** A request of this attempt with `cseq` was sent: waiting for its answer. */
  arm(cseq: number, now: number): void {
    this.cseq = cseq;
    this.state = PENDING;
    this.pendingUntil = now + INVITE_TRANSACTION_TIMEOUT_MS;
  }
}

class UserCalls {
  readonly starts: EventTimes;
  /** Recent call attempts by attempt id: a retransmission or a retry after a challenge counts once. */
  readonly attempts = new LruMap<string, Attempt>(MAX_ATTEMPTS_PER_USER);
  /** Calls up: dialog id -> when they are forgotten. */
  readonly active = new Map<string, number>();
  readonly destinations = new LruMap<string, EventTimes>(MAX_DESTINATIONS_PER_USER);

  constructor(ring: number) {
    this.starts = new EventTimes(ring);
  }

  activeCount(now: number): number {
    for (const [id, until] of this.active) if (until <= now) this.active.delete(id);
    return this.active.size;
  }

  /** INVITEs sent and not answered yet: each may become a call at any moment. */
  pendingCount(now: number): number {
    let n = 0;
    for (const [, a] of this.attempts.entries()) if (a.invite && a.state === PENDING && a.pendingUntil > now) n++;
    return n;
  }
}

/**
 * Per-user call accounting for the fraud limits, in bounded tables. It counts **dialogs**, not
 * Call-IDs (RFC 3261 12: a dialog is its Call-ID, From tag and To tag): one Call-ID can carry
 * several calls, with different From tags, or one after the other, or forked.
 *
 * - calls started per minute and calls to the same number within a window: each call attempt
 *   (an INVITE outside a dialog, or a REFER) counts once, whatever its retransmissions and its
 *   retry with credentials after a challenge (same Call-ID, From tag and method, a higher CSeq
 *   after a failure); a new request on the same identifiers while one is pending or after one
 *   was answered counts again;
 * - calls up at once: every dialog a 2xx confirmed, plus every INVITE still waiting for its
 *   final answer; a BYE ends a dialog, and a dialog not seen ending is forgotten after
 *   `maxCallDuration`.
 *
 * Thresholds mean "more than": `block: 5` admits five calls a minute and refuses the sixth;
 * `warn: 3` reports the fourth (once each time it is crossed).
 */
export class FraudTracker {
  private readonly users: LruMap<string, UserCalls>;
  /** Dialog id -> user, to end a call by its BYE and to know whose call a REFER transfers. */
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
   * Checks a call attempt of `user` to `destination` against the limits and, unless refused,
   * counts it. `invite` false (a REFER): the transfer counts as a call placed (per minute, to the
   * same number), not as a call up, since the transferring call usually ends. Returns the
   * strongest finding (the same object every call: read it at once).
   */
  newCall(user: string, destination: string, attempt: string, cseq: number, invite: boolean, now: number): LimitCheck {
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
    const seen = u.attempts.touch(attempt);
    if (seen !== undefined) {
      if (seen.cseq === cseq) return r; // a retransmission
      if (seen.state === FAILED) {
        // The same call again after a challenge (RFC 3261 22.2: a higher CSeq): counted already.
        seen.arm(cseq, now);
        return r;
      }
    }

    const perMinute = u.starts.count(now, MINUTE) + 1;
    const concurrent = invite ? u.activeCount(now) + u.pendingCount(now) + 1 : 0;
    let times = destination === '' ? undefined : u.destinations.touch(destination);
    const repeated = (times?.count(now, s.repeatedCalls.window) ?? 0) + 1;

    if (over(perMinute, s.callsPerMinute.block)) return set(r, 'block', 'calls-per-minute', perMinute);
    if (over(concurrent, s.concurrentCalls.block)) return set(r, 'block', 'concurrent-calls', concurrent);
    if (destination !== '' && over(repeated, s.repeatedCalls.block)) {
      return set(r, 'block', 'repeated-calls', repeated);
    }

    if (seen === undefined) u.attempts.set(attempt, new Attempt(cseq, now, invite));
    else seen.arm(cseq, now);
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

  /**
   * The final answer to a counted attempt: a 2xx ends it (a new request on the same identifiers
   * is a new call), a failure makes the next one its retry (counted already).
   */
  attemptAnswered(user: string, attempt: string, cseq: number, status: number): void {
    const a = this.users.peek(user)?.attempts.peek(attempt);
    if (a === undefined) return;
    if (status < 300) a.state = ANSWERED;
    else this.attemptFailed(user, attempt, cseq);
  }

  /** A counted attempt failed (a final non-2xx, or not sent at all): its retry is the same call. */
  attemptFailed(user: string, attempt: string, cseq: number): void {
    const a = this.users.peek(user)?.attempts.peek(attempt);
    if (a !== undefined && a.cseq === cseq && a.state === PENDING) a.state = FAILED;
  }

  /** A 2xx to an INVITE of `user` confirmed dialog `dialog`: the call is up. */
  callStarted(user: string, dialog: string, now: number): void {
    const u = this.users.peek(user);
    if (u === undefined || u.active.has(dialog)) return;
    if (u.active.size >= MAX_ACTIVE_PER_USER) u.activeCount(now);
    if (u.active.size >= MAX_ACTIVE_PER_USER) return;
    u.active.set(dialog, now + this.settings.maxCallDuration);
    this.owners.set(dialog, user);
  }

  /** Dialog `dialog` ended (its BYE): the call is over. */
  callEnded(dialog: string): void {
    const user = this.owners.peek(dialog);
    if (user === undefined) return;
    this.owners.delete(dialog);
    this.users.peek(user)?.active.delete(dialog);
  }

  /** The user whose call `dialog` is, while it is up. */
  ownerOf(dialog: string): string | undefined {
    return this.owners.peek(dialog);
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

/** Longest identifier kept as it is; longer ones are kept as their SHA-256 (attacker text, bounded). */
const MAX_ID = 256;

function compact(id: string): string {
  return id.length <= MAX_ID ? id : `#${createHash('sha256').update(id).digest('base64url')}`;
}

/**
 * A dialog's identity (RFC 3261 12): Call-ID and both tags, in either order, so the BYE of
 * either side finds it.
 */
export function dialogId(callId: string, tagA: string, tagB: string): string {
  return compact(tagA <= tagB ? `${callId}\n${tagA}\n${tagB}` : `${callId}\n${tagB}\n${tagA}`);
}

/** A call attempt's identity apart from its CSeq: Call-ID, From tag, To tag (in a dialog), method. */
export function attemptId(callId: string, fromTag: string, toTag: string, method: string): string {
  return compact(`${method}\n${callId}\n${fromTag}\n${toTag}`);
}

const DECODER = new TextDecoder('utf-8', { fatal: true });

/**
 * A dialled number as compared with prefixes: %-escapes decoded as bytes, then read as UTF-8
 * (RFC 3986 2.5), visual separators (RFC 3966: `-`, `.`, `(`, `)`, spaces) removed.
 * `%2B882...` and `+8-82...` are `+882...`.
 *
 * Undefined when the number cannot be decoded: a `%` not followed by two hex digits, bytes
 * that are not UTF-8 (`%FF`, `%C0`) or a control character. Such a number must be refused,
 * never compared as written (`%2B882...%FF` would slip past a `+882` prefix).
 */
export function normalizeNumber(user: string): string | undefined {
  let s = user;
  // The URI parser admits no raw character outside ASCII: never guess at one.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return undefined;
  if (s.indexOf('%') !== -1) {
    const bytes = Buffer.allocUnsafe(s.length);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x25) {
        const hi = hexValue(s.charCodeAt(i + 1));
        const lo = hexValue(s.charCodeAt(i + 2));
        if (hi < 0 || lo < 0) return undefined;
        bytes[n++] = (hi << 4) | lo;
        i += 2;
      } else {
        bytes[n++] = c;
      }
    }
    try {
      s = DECODER.decode(bytes.subarray(0, n));
    } catch {
      return undefined;
    }
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return undefined;
  }
  return s.replace(/[-.() ]/g, '');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
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
