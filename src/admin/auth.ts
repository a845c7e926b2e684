/**
 * Credentials of the admin API: the bearer token, the dashboard's session cookie (an HMAC of
 * its issue time under the token, so no session is stored and changing the token ends every
 * session), and the per-address limit on failed attempts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Name of the dashboard's session cookie. */
export const SESSION_COOKIE = 'sipwarden_session';
/** How long a session cookie is valid. */
export const SESSION_LIFETIME_MS = 12 * 3_600_000;

function sessionMac(token: string, issuedAt: number): string {
  return createHmac('sha256', token).update(`sipwarden session ${issuedAt}`).digest('base64url');
}

/** Equal strings, compared in time independent of where they differ (lengths are not secret). */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The session cookie's value issued at `now` (epoch ms): `base64url(HMAC) + "." + issuedAt`. */
export function makeSessionCookie(token: string, now: number): string {
  const issuedAt = Math.floor(now);
  return `${sessionMac(token, issuedAt)}.${issuedAt}`;
}

/** True when `value` is a session cookie made with `token` that is not older than 12 h (nor from the future). */
export function checkSession(token: string, value: string, now: number): boolean {
  const dot = value.lastIndexOf('.');
  if (dot <= 0 || value.length > 200) return false;
  const stamp = value.slice(dot + 1);
  if (!/^[0-9]{1,16}$/.test(stamp)) return false;
  const issuedAt = Number(stamp);
  // A minute of clock slack forward; never older than the lifetime.
  if (issuedAt > now + 60_000 || now - issuedAt > SESSION_LIFETIME_MS) return false;
  return sameText(value.slice(0, dot), sessionMac(token, issuedAt));
}

/** True when `header` is `Bearer <token>` (scheme case-insensitive), compared timing-safe. */
export function checkBearer(token: string, header: string | undefined): boolean {
  if (header === undefined || header.length > 1024) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m === null) return false;
  // Compare digests: equal length whatever was sent, so not even the token's length leaks.
  const digest = (s: string) => createHmac('sha256', 'sipwarden bearer').update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}

/**
 * Failed attempts per client address in a sliding minute: past `limit` the address is refused
 * (429) until its oldest failure leaves the window. Bounded: at most `maxAddresses` tracked,
 * the least recently failing forgotten first.
 */
export class AuthFailures {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly limit = 10,
    readonly windowMs = 60_000,
    private readonly maxAddresses = 10_000,
  ) {}

  /** True when `address` has used up its failures. */
  blocked(address: string, now: number): boolean {
    const times = this.recent(address, now);
    return times !== undefined && times.length >= this.limit;
  }

  /** Records one failed attempt. */
  fail(address: string, now: number): void {
    const times = this.recent(address, now) ?? [];
    times.push(now);
    if (times.length > this.limit) times.shift();
    // Re-insert: the Map's order is the order of the latest failure.
    this.failures.delete(address);
    this.failures.set(address, times);
    if (this.failures.size > this.maxAddresses) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  private recent(address: string, now: number): number[] | undefined {
    const times = this.failures.get(address);
    if (times === undefined) return undefined;
    while (times.length > 0 && now - times[0]! >= this.windowMs) times.shift();
    if (times.length === 0) {
      this.failures.delete(address);
      return undefined;
    }
    return times;
  }
}
