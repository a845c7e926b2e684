import { verifiedHeader } from '../../auth/strip.js';
import type { MessageContext } from '../../core/context.js';
import { PASS, type ReplySpec, type Source, type Verdict } from '../../core/verdict.js';
import { H } from '../../sip/header-names.js';
import type { SipMessage } from '../../sip/message.js';
import { parseNameAddr } from '../../sip/name-addr.js';
import { FORBIDDEN, type Reporter } from '../../watch/report.js';
import type { WatchedRequest } from '../../watch/transactions.js';
import { attributedCredentials, bounded, type ResponseWatcher } from '../../watch/watch.js';
import type { Guard } from '../types.js';
import type { FraudConfig } from './config.js';
import { attemptId, dialogId, FraudTracker, isInternational, matchPrefix, normalizeNumber } from './tracker.js';

/** Name in events and log lines. */
export const FRAUD = 'fraud';

/**
 * Toll-fraud limits on the requests that place calls, as OpenSIPS' fraud_detection: initial
 * INVITEs from the outside, and REFERs (a transfer has the PBX place the call to the Refer-To
 * target, RFC 3515):
 *
 * - destination prefixes: `deny_prefixes` are refused (403) for everyone; with
 *   `allow_prefixes` set, an international number (`+`, `00`) must start with one of them. A
 *   number whose %-escapes do not decode is refused, never compared as written;
 * - per authenticated user (the digest username and realm of the request's credentials, or for
 *   a REFER without them the user whose call it transfers): calls per minute, calls up at once,
 *   calls to the same number within a window, each with a `warn` threshold (an alert log line)
 *   and a `block` threshold (403, an event). Calls are counted by dialog, not by Call-ID.
 *
 * An INVITE without credentials is not counted: the PBX challenges it, and the same call comes
 * back with credentials (counted once). The From user is not used: anyone can write any From.
 * Trunks the PBX admits by address alone are therefore not limited here.
 */
export class FraudGuard implements Guard, ResponseWatcher {
  readonly name = FRAUD;
  readonly tracker: FraudTracker;
  private readonly prefixChecks: boolean;

  constructor(
    private readonly config: FraudConfig,
    private readonly reporter: Reporter,
  ) {
    this.tracker = new FraudTracker(config);
    this.prefixChecks = config.denyPrefixes.length > 0 || config.allowPrefixes.length > 0;
  }

  /** `ctx` carries the auth guard's mark: the credentials it verified are the ones a call counts for. */
  checkMessage(msg: SipMessage, source: Source, now: number, ctx?: MessageContext): Verdict {
    const method = msg.method;
    const verified = verifiedHeader(ctx);
    if (method === 'REFER') return this.checkRefer(msg, source, now, verified);
    if (method !== 'INVITE' || msg.to.tag !== undefined) return PASS;
    if (!this.prefixChecks && !this.tracker.counting) return PASS;
    const user = msg.requestUri.user;
    const number = user === undefined ? '' : normalizeNumber(user);
    if (number === undefined) return refuse('undecodable-number', bounded(user));
    const denied = this.checkPrefixes(number);
    if (denied !== undefined) return denied;
    if (!this.tracker.counting) return PASS;
    const creds = attributedCredentials(msg, verified);
    if (creds === undefined || this.reporter.isExempt(source)) return PASS;
    const caller = userKey(bounded(creds.username), bounded(creds.realm));
    const attempt = attemptId(msg.callId, msg.from.tag ?? '', '', method);
    return this.count(caller, bounded(number), attempt, msg.cseq.seq, true, source, now);
  }

  /**
   * A transfer: the Refer-To URI's user goes through the same prefix rules and call rates as
   * an INVITE's Request-URI user (its embedded headers, such as Replaces, do not matter). RFC
   * 3515 2.4.1: exactly one Refer-To; a REFER with several is refused rather than guessed at.
   */
  private checkRefer(msg: SipMessage, source: Source, now: number, verified: number): Verdict {
    if (!this.prefixChecks && !this.tracker.counting) return PASS;
    const k = msg.findHeaderId(H.ReferTo);
    if (k === -1) return PASS; // the PBX answers 400: nothing is placed
    if (msg.findHeaderId(H.ReferTo, k + 1) !== -1) return refuse('refer-to-count', 'several Refer-To headers');
    const value = msg.headerValueAt(k);
    const target = parseNameAddr(value, 0, value.length, 'Refer-To').uri; // throws SipParseError: 400
    if (target.user === undefined) return PASS; // no number: not a call to one
    const number = normalizeNumber(target.user);
    if (number === undefined) return refuse('undecodable-number', bounded(target.user));
    const denied = this.checkPrefixes(number);
    if (denied !== undefined) return denied;
    if (!this.tracker.counting || this.reporter.isExempt(source)) return PASS;
    const fromTag = msg.from.tag ?? '';
    const toTag = msg.to.tag ?? '';
    const caller = this.referrer(msg, msg.callId, fromTag, toTag, verified);
    if (caller === undefined) return PASS;
    const attempt = attemptId(msg.callId, fromTag, toTag, 'REFER');
    return this.count(caller, bounded(number), attempt, msg.cseq.seq, false, source, now);
  }

  /** Who a REFER places a call for: its credentials' user, else the user whose call it transfers. */
  private referrer(
    msg: SipMessage,
    callId: string,
    fromTag: string,
    toTag: string,
    verified: number,
  ): string | undefined {
    const creds = attributedCredentials(msg, verified);
    if (creds !== undefined) return userKey(bounded(creds.username), bounded(creds.realm));
    return toTag === '' ? undefined : this.tracker.ownerOf(dialogId(callId, fromTag, toTag));
  }

  private checkPrefixes(number: string): Verdict | undefined {
    if (!this.prefixChecks || number === '') return undefined;
    const c = this.config;
    const denied = matchPrefix(number, c.denyPrefixes);
    if (denied !== undefined) return refuse('denied-prefix', `${bounded(number)} (prefix ${denied})`);
    if (c.allowPrefixes.length > 0 && isInternational(number) && matchPrefix(number, c.allowPrefixes) === undefined) {
      return refuse('prefix-not-allowed', bounded(number));
    }
    return undefined;
  }

  private count(
    user: string,
    number: string,
    attempt: string,
    cseq: number,
    invite: boolean,
    source: Source,
    now: number,
  ): Verdict {
    const r = this.tracker.newCall(user, number, attempt, cseq, invite, now);
    if (r.level === 'ok') return PASS;
    if (r.level === 'warn') {
      this.reporter.alert(FRAUD, r.rule, 'fraud warning', {
        user,
        destination: number,
        value: r.value,
        source: source.address,
      });
      return PASS;
    }
    return refuse(r.rule, `${user}: ${r.value} (to ${number})`);
  }

  onFinalResponse(req: WatchedRequest, msg: SipMessage, now: number): ReplySpec | undefined {
    if (!this.tracker.counting) return undefined;
    const method = req.method;
    if (method === 'INVITE' || method === 'REFER') {
      const attempt = this.attemptOf(req);
      if (attempt === undefined) return undefined;
      this.tracker.attemptAnswered(attempt.user, attempt.id, req.cseq, msg.status);
      // Each 2xx confirms one dialog: a forked INVITE may confirm several (RFC 3261 13.2.2.4).
      if (method === 'INVITE' && msg.status < 300) {
        this.tracker.callStarted(attempt.user, dialogId(req.callId, req.fromTag, msg.to.tag ?? ''), now);
      }
    } else if (method === 'BYE' && (msg.status < 300 || msg.status === 481)) {
      // The call is over once the other side took the BYE (or knew no such call): a BYE the
      // PBX refused (wrong CSeq, wrong tags) ends nothing.
      this.tracker.callEnded(dialogId(req.callId, req.fromTag, req.toTag));
    }
    return undefined;
  }

  /** A call or transfer sipwarden answered itself (no upstream up) failed: it is no longer waiting. */
  onNotSent(req: WatchedRequest): void {
    if (!this.tracker.counting || (req.method !== 'INVITE' && req.method !== 'REFER')) return;
    const attempt = this.attemptOf(req);
    if (attempt !== undefined) this.tracker.attemptFailed(attempt.user, attempt.id, req.cseq);
  }

  /**
   * The counted attempt a watched INVITE or REFER is: a new call by the user of its credentials,
   * or a transfer by them or by the owner of its dialog.
   */
  private attemptOf(req: WatchedRequest): { user: string; id: string } | undefined {
    if (req.method === 'INVITE') {
      if (!req.hasCredentials || req.toTag !== '') return undefined;
      return { user: userKey(req.authUser, req.authRealm), id: attemptId(req.callId, req.fromTag, '', req.method) };
    }
    const user = req.hasCredentials
      ? userKey(req.authUser, req.authRealm)
      : req.toTag === ''
        ? undefined
        : this.tracker.ownerOf(dialogId(req.callId, req.fromTag, req.toTag));
    return user === undefined ? undefined : { user, id: attemptId(req.callId, req.fromTag, req.toTag, req.method) };
  }

  onRequest(msg: SipMessage, fromOutside: boolean, _now: number, callId: string): void {
    // The PBX's own BYE ends the call at once; the outside's, when it is answered (above).
    if (!fromOutside && msg.method === 'BYE') {
      this.tracker.callEnded(dialogId(callId, msg.from.tag ?? '', msg.to.tag ?? ''));
    }
  }
}

function refuse(rule: string, detail: string): Verdict {
  return { action: 'reply', rule, detail, reply: FORBIDDEN };
}

function userKey(user: string, realm: string): string {
  return realm === '' ? user : `${user}@${realm}`;
}
