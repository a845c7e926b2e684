import { PASS, type ReplySpec, type Source, type Verdict } from '../../core/verdict.js';
import { SipParseError } from '../../sip/errors.js';
import { H } from '../../sip/header-names.js';
import type { SipMessage } from '../../sip/message.js';
import { FORBIDDEN, type Reporter, TRY_LATER } from '../../watch/report.js';
import type { WatchedRequest } from '../../watch/transactions.js';
import { bounded, digestCredentials, type ResponseWatcher } from '../../watch/watch.js';
import type { Guard } from '../types.js';
import { AuthFailureTracker } from './auth-failures.js';
import type { BruteForceConfig } from './config.js';

/** Name in events and log lines (fail2ban's filter takes `[a-z0-9-]` names). */
export const BRUTE_FORCE = 'brute-force';

const LOCKED: Verdict = Object.freeze({
  action: 'reply',
  rule: 'distributed-lock',
  detail: 'username locked after distributed guessing',
  reply: FORBIDDEN,
});

/**
 * Password guessing (SIPVicious svcrack and the like), watched on the upstream's answers:
 * a request with digest credentials answered 401/407/403 is a failure for its source and
 * its username. A source is its address masked as `sources.*` says (an IPv6 /64 by default):
 * rotating addresses inside one /64 is one source. `max_failures` from one source within
 * `window` ban it (the whole /64), and the answer that
 * reached the limit is replaced by `403 Try later`. A 2xx after credentials forgets the
 * source's failures for that user and remembers the source as known good for it.
 *
 * Only credentialed failures count: the first, unauthenticated request of every phone is
 * challenged, and a 401 carrying `stale=true` only asks for a fresh nonce. With
 * `normalize_not_found`, a 404 to any request that names a user (the registrar telling an
 * unknown user from a known one) goes out as the 403 a wrong password gets: REGISTER, and
 * SUBSCRIBE, OPTIONS, MESSAGE, NOTIFY, REFER, INVITE, PUBLISH to a user. It counts as a
 * failure when it answers a REGISTER or credentials the source never authenticated with;
 * the others are refused destinations, counted by dial_scan.
 *
 * Distributed guessing (one username, many sources) raises an alert; with
 * `distributed.lock` the username's credentials are refused (403) for a while from every
 * source that never authenticated as it, which keeps the real phone working.
 *
 * sipwarden's own digest authentication reports its outcomes through `recordFailure` and
 * `recordSuccess`.
 *
 * Every Digest credentials a request carries is judged, as a registrar picks them (by realm):
 * the answer's challenge names the realm it checked, and the failure counts for the
 * credentials of that realm (for all of them when it names none, e.g. a 403). The source
 * counts one failure per request whatever it carries. A success is credited only when one set
 * of credentials was there to judge, so a second, made-up set cannot reset a victim's counts.
 * Credentials sipwarden's own auth guard verified are its to report, not the upstream's.
 */
export class BruteForceGuard implements Guard, ResponseWatcher {
  readonly name = BRUTE_FORCE;
  readonly tracker: AuthFailureTracker;
  private readonly monitor: boolean;

  constructor(
    private readonly config: BruteForceConfig,
    private readonly reporter: Reporter,
  ) {
    this.tracker = new AuthFailureTracker(config);
    this.monitor = config.mode === 'monitor';
  }

  /** Refuses a locked username's credentials (any of them) from sources not known good for it. */
  checkMessage(msg: SipMessage, source: Source, now: number): Verdict {
    if (this.tracker.lockedUsers === 0 || !msg.isRequest || msg.method === 'ACK') return PASS;
    const key = this.reporter.keyOf(source.address);
    for (const c of digestCredentials(msg)) {
      if (this.tracker.isRefused(key, bounded(c.username), bounded(c.realm), now)) return LOCKED;
    }
    return PASS;
  }

  onFinalResponse(req: WatchedRequest, msg: SipMessage, now: number): ReplySpec | undefined {
    const status = msg.status;
    const judged = req.judged;
    if (status < 300) {
      // Only when one set of credentials was judged is it known which one succeeded.
      if (judged.length === 2) this.recordSuccess(req, judged[0]!, judged[1]!, now);
      return undefined;
    }
    if (status === 401 || status === 407 || status === 403) {
      if (judged.length === 0 || isStaleChallenge(msg, status)) return undefined;
      return this.recordFailures(req, judged, challengedRealms(msg, status), now);
    }
    if (status === 404 && this.config.normalizeNotFound && namesUser(req)) {
      let answer: ReplySpec | undefined;
      if (judged.length > 0) {
        if (this.notFoundIsFailure(req, judged)) answer = this.recordFailures(req, judged, undefined, now);
      } else if (req.method === 'REGISTER') {
        answer = this.recordFailure(req, req.toUser, '', now, req.method);
      }
      if (answer !== undefined || this.reporter.isExempt(req)) return answer;
      if (this.monitor) return undefined;
      return FORBIDDEN;
    }
    return undefined;
  }

  /**
   * Whether a 404 (turned into the 403 of a wrong password) to a request with credentials
   * `judged` is a failed authentication: to a REGISTER, or to credentials the source never
   * authenticated with, it says "no such user". Otherwise it is about the destination (a
   * misdialled number, a missing extension): dial_scan counts those, so a phone that dials
   * three wrong numbers is not taken for a guesser.
   */
  private notFoundIsFailure(req: WatchedRequest, judged: readonly string[]): boolean {
    if (req.method === 'REGISTER') return true;
    for (let i = 0; i < judged.length; i += 2) {
      if (!this.tracker.isKnownGood(req.address, judged[i]!, judged[i + 1]!)) return true;
    }
    return false;
  }

  /**
   * Counts a failed authentication of `user` (+`realm`) from `source`. Bans the source when it
   * reaches the limit (an event, the fail2ban log line) and returns the answer to send instead
   * of the usual challenge (`403 Try later`); undefined otherwise or in monitor mode.
   */
  recordFailure(
    source: Source,
    user: string,
    realm: string,
    now: number,
    method = '',
    countSource = true,
  ): ReplySpec | undefined {
    const r = this.reporter;
    if (r.isExempt(source)) return undefined;
    const o = this.tracker.failure(r.keyOf(source.address), bounded(user), bounded(realm), now, countSource);
    if (o.distributed) {
      r.alert(BRUTE_FORCE, 'distributed', 'distributed password guessing', {
        user: bounded(user),
        realm: bounded(realm),
        sources: o.userSources,
        locked: this.config.distributed.lock && !this.monitor ? 'yes' : 'no',
      });
    }
    if (!o.ban) return undefined;
    const banned = r.ban(
      BRUTE_FORCE,
      this.monitor,
      source,
      'failures',
      'repeated authentication failures',
      `${o.sourceFailures} failed authentications, last as ${bounded(user)}`,
      this.config.ban,
      method,
      now,
      true,
    );
    return banned ? TRY_LATER : undefined;
  }

  /**
   * One failed request carrying the credentials `judged` (username, realm, ...): one failure
   * for the source, and one for each username whose realm the answer challenged (each of them
   * when it challenged none of theirs).
   */
  private recordFailures(
    req: WatchedRequest,
    judged: readonly string[],
    realms: readonly string[] | undefined,
    now: number,
  ): ReplySpec | undefined {
    let matched = false;
    if (realms !== undefined && judged.length > 2) {
      for (let i = 1; i < judged.length; i += 2) if (realms.includes(judged[i]!)) matched = true;
    }
    let answer: ReplySpec | undefined;
    let first = true;
    for (let i = 0; i < judged.length; i += 2) {
      if (matched && !realms!.includes(judged[i + 1]!)) continue;
      const a = this.recordFailure(req, judged[i]!, judged[i + 1]!, now, req.method, first);
      first = false;
      answer ??= a;
    }
    return answer;
  }

  /** Records a successful authentication of `user` (+`realm`) from `source`. */
  recordSuccess(source: Source, user: string, realm: string, now: number): void {
    this.tracker.success(this.reporter.keyOf(source.address), bounded(user), bounded(realm), now);
  }
}

/**
 * A request whose answer can tell a user that exists from one that does not: a REGISTER (its
 * To user), one with credentials (its digest username), or any other with a user in its
 * Request-URI (SUBSCRIBE, OPTIONS, MESSAGE, NOTIFY, REFER, INVITE, PUBLISH to a user).
 */
function namesUser(req: WatchedRequest): boolean {
  return req.method === 'REGISTER' || req.judged.length > 0 || req.ruriUser !== '';
}

/** The realms a 401/407 challenges (undefined for a 403, or when none can be read). */
function challengedRealms(msg: SipMessage, status: number): string[] | undefined {
  if (status === 403) return undefined;
  const id = status === 401 ? H.WwwAuthenticate : H.ProxyAuthenticate;
  if (msg.findHeaderId(id) === -1) return undefined;
  try {
    const realms: string[] = [];
    for (const c of msg.authHeaders(status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate')) {
      if (c.isDigest && c.realm !== undefined) realms.push(bounded(c.realm));
    }
    return realms.length === 0 ? undefined : realms;
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return undefined;
  }
}

/** A 401/407 whose challenge says `stale=true`: the nonce expired, the password was right. */
function isStaleChallenge(msg: SipMessage, status: number): boolean {
  if (status === 403) return false;
  const id = status === 401 ? H.WwwAuthenticate : H.ProxyAuthenticate;
  if (msg.findHeaderId(id) === -1) return false;
  try {
    for (const c of msg.authHeaders(status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate'))
      if (c.stale) return true;
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
  }
  return false;
}
