import type { BruteForceConfig } from '../config/types.js';
import { SipParseError } from '../sip/errors.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { AuthFailureTracker } from '../watch/auth-failures.js';
import { FORBIDDEN, type Reporter, TRY_LATER } from '../watch/report.js';
import type { WatchedRequest } from '../watch/transactions.js';
import { bounded, credentials, type ResponseWatcher } from '../watch/watch.js';
import { type Guard, PASS, type ReplySpec, type Source, type Verdict } from './types.js';

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
 * its username. `max_failures` from one source within `window` ban it, and the answer that
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

  /** Refuses a locked username's credentials from sources not known good for it. */
  checkMessage(msg: SipMessage, source: Source, now: number): Verdict {
    if (this.tracker.lockedUsers === 0 || !msg.isRequest || msg.method === 'ACK') return PASS;
    const c = credentials(msg);
    if (c === undefined) return PASS;
    return this.tracker.isRefused(source.address, bounded(c.username), bounded(c.realm), now) ? LOCKED : PASS;
  }

  onFinalResponse(req: WatchedRequest, msg: SipMessage, now: number): ReplySpec | undefined {
    const status = msg.status;
    if (status < 300) {
      if (req.hasCredentials) this.recordSuccess(req, req.authUser, req.authRealm, now);
      return undefined;
    }
    if (status === 401 || status === 407 || status === 403) {
      if (!req.hasCredentials || isStaleChallenge(msg, status)) return undefined;
      return this.recordFailure(req, req.authUser, req.authRealm, now, req.method);
    }
    if (status === 404 && this.config.normalizeNotFound && namesUser(req)) {
      let answer: ReplySpec | undefined;
      if (this.notFoundIsFailure(req)) {
        const user = req.hasCredentials ? req.authUser : req.toUser;
        answer = this.recordFailure(req, user, req.authRealm, now, req.method);
      }
      if (answer !== undefined || this.reporter.isExempt(req)) return answer;
      if (this.monitor) return undefined;
      return FORBIDDEN;
    }
    return undefined;
  }

  /**
   * Whether a 404 (turned into the 403 of a wrong password) is a failed authentication: to a
   * REGISTER, or to credentials this source never authenticated with, it says "no such user".
   * Otherwise it is about the destination (a misdialled number, a missing extension): dial_scan
   * counts those, so a phone that dials three wrong numbers is not taken for a guesser.
   */
  private notFoundIsFailure(req: WatchedRequest): boolean {
    if (req.method === 'REGISTER') return true;
    return req.hasCredentials && !this.tracker.isKnownGood(req.address, req.authUser, req.authRealm);
  }

  /**
   * Counts a failed authentication of `user` (+`realm`) from `source`. Bans the source when it
   * reaches the limit (an event, the fail2ban log line) and returns the answer to send instead
   * of the usual challenge (`403 Try later`); undefined otherwise or in monitor mode.
   */
  recordFailure(source: Source, user: string, realm: string, now: number, method = ''): ReplySpec | undefined {
    const r = this.reporter;
    if (r.isExempt(source)) return undefined;
    const o = this.tracker.failure(source.address, bounded(user), bounded(realm), now);
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
    );
    return banned ? TRY_LATER : undefined;
  }

  /** Records a successful authentication of `user` (+`realm`) from `source`. */
  recordSuccess(source: Source, user: string, realm: string, now: number): void {
    this.tracker.success(source.address, bounded(user), bounded(realm), now);
  }
}

/**
 * A request whose answer can tell a user that exists from one that does not: a REGISTER (its
 * To user), one with credentials (its digest username), or any other with a user in its
 * Request-URI (SUBSCRIBE, OPTIONS, MESSAGE, NOTIFY, REFER, INVITE, PUBLISH to a user).
 */
function namesUser(req: WatchedRequest): boolean {
  return req.method === 'REGISTER' || req.hasCredentials || req.ruriUser !== '';
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
