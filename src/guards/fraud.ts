import type { FraudConfig } from '../config/types.js';
import type { SipMessage } from '../sip/message.js';
import { FraudTracker, isInternational, matchPrefix, normalizeNumber } from '../watch/fraud.js';
import { FORBIDDEN, type Reporter } from '../watch/report.js';
import type { WatchedRequest } from '../watch/transactions.js';
import { bounded, credentials, type ResponseWatcher } from '../watch/watch.js';
import { type Guard, PASS, type ReplySpec, type Source, type Verdict } from './types.js';

/** Name in events and log lines. */
export const FRAUD = 'fraud';

/**
 * Toll-fraud limits on new calls (initial INVITEs from the outside), as OpenSIPS'
 * fraud_detection:
 *
 * - destination prefixes: `deny_prefixes` are refused (403) for everyone; with
 *   `allow_prefixes` set, an international number (`+`, `00`) must start with one of them;
 * - per authenticated user (the digest username and realm of the INVITE's credentials):
 *   calls per minute, calls up at once, calls to the same number within a window, each
 *   with a `warn` threshold (an alert log line) and a `block` threshold (403, an event).
 *
 * An INVITE without credentials is not counted: the PBX challenges it, and the same call
 * comes back with credentials (counted once per Call-ID). The From user is not used: anyone
 * can write any From. Trunks the PBX admits by address alone are therefore not limited here.
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

  checkMessage(msg: SipMessage, source: Source, now: number): Verdict {
    if (msg.method !== 'INVITE' || msg.to.tag !== undefined) return PASS;
    const number = normalizeNumber(bounded(msg.requestUri.user));
    const c = this.config;
    if (this.prefixChecks && number !== '') {
      const denied = matchPrefix(number, c.denyPrefixes);
      if (denied !== undefined) return refuse('denied-prefix', `${number} (prefix ${denied})`);
      if (c.allowPrefixes.length > 0 && isInternational(number) && matchPrefix(number, c.allowPrefixes) === undefined) {
        return refuse('prefix-not-allowed', number);
      }
    }
    if (!this.tracker.counting) return PASS;
    const creds = credentials(msg);
    if (creds === undefined || this.reporter.isExempt(source)) return PASS;
    const user = userKey(bounded(creds.username), bounded(creds.realm));
    const r = this.tracker.newCall(user, number, msg.callId, now);
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
    if (req.method === 'INVITE' && req.hasCredentials && msg.status < 300 && this.tracker.counting) {
      this.tracker.callStarted(userKey(req.authUser, req.authRealm), req.callId, now);
    }
    return undefined;
  }

  onRequest(msg: SipMessage, _fromOutside: boolean, _now: number, callId: string): void {
    if (msg.method === 'BYE') this.tracker.callEnded(callId);
  }
}

function refuse(rule: string, detail: string): Verdict {
  return { action: 'reply', rule, detail, reply: FORBIDDEN };
}

function userKey(user: string, realm: string): string {
  return realm === '' ? user : `${user}@${realm}`;
}
