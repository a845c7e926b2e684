/**
 * The sanity guard: the checks of Kamailio's sanity module on every parsed message, answered
 * as the RFC says. A failed request is answered (400 with a short specific reason, 416 for
 * a Request-URI scheme, 420 with `Unsupported:` for Proxy-Require, 505 for the version);
 * ACKs and responses are dropped, as nothing answers them. The checks run in CHECK_ORDER,
 * whatever the order of the configuration, and the first failure decides.
 *
 * The guard never throws: a header that fails to decode on demand (From, To and the
 * Request-URI are decoded lazily) becomes the failure of the check that read it.
 */
import { PASS, type Source, type Verdict } from '../../core/verdict.js';
import type { SipMessage } from '../../sip/message.js';
import type { Guard } from '../types.js';
import {
  failureOf,
  SANITY_CHECK_FUNCTIONS,
  type SanityCheckFunction,
  SanityContext,
  type SanityFailure,
} from './checks.js';
import type { SanityCheck, SanityConfig } from './config.js';

/**
 * The order the checks run in: the Request-Line and the headers every message needs first,
 * then the specific before the general. `to_tag` runs before `uris` because a second tag
 * makes From or To undecodable, and "Bad To Tag" says more than "Bad To"; `uris` runs
 * before `expires` so a Contact that does not decode is reported as a URI error.
 */
export const CHECK_ORDER: readonly SanityCheck[] = [
  'required_headers',
  'request_uri',
  'via',
  'cseq',
  'max_forwards',
  'content_length',
  'to_tag',
  'uris',
  'expires',
  'proxy_require',
  'credentials',
];

export class SanityGuard implements Guard {
  readonly name = 'sanity';
  /** The enabled checks, in CHECK_ORDER, and the rule name of each (`to-tag`). */
  private readonly checks: SanityCheckFunction[] = [];
  private readonly rules: string[] = [];
  private readonly context = new SanityContext();

  /** `ownRealms`: the realms sipwarden's auth guard checks (see `checkCredentials`). */
  constructor(config: Pick<SanityConfig, 'checks'>, ownRealms?: ReadonlySet<string>) {
    if (ownRealms !== undefined) this.context.ownRealms = ownRealms;
    const enabled = new Set<SanityCheck>(config.checks);
    for (const check of CHECK_ORDER) {
      if (!enabled.has(check)) continue;
      this.checks.push(SANITY_CHECK_FUNCTIONS[check]);
      this.rules.push(ruleName(check));
    }
  }

  checkMessage(msg: SipMessage, source: Source, _now: number): Verdict {
    const ctx = this.context;
    ctx.reset(msg, source);
    const checks = this.checks;
    for (let k = 0; k < checks.length; k++) {
      let failure: SanityFailure | undefined;
      try {
        failure = checks[k]!(ctx);
      } catch (err) {
        failure = failureOf(err);
      }
      if (failure !== undefined) {
        ctx.clear();
        return verdictFor(msg, this.rules[k]!, failure);
      }
    }
    ctx.clear();
    return PASS;
  }
}

/** `to_tag` -> `to-tag`. */
export function ruleName(check: SanityCheck): string {
  return check.replaceAll('_', '-');
}

/** A reply for a request that can be answered; a drop for ACK and for responses. */
export function verdictFor(msg: SipMessage, rule: string, failure: SanityFailure): Verdict {
  const detail = failure.detail.length > 200 ? `${failure.detail.slice(0, 200)}…` : failure.detail;
  if (!msg.isRequest || msg.method === 'ACK') return { action: 'drop', rule, detail };
  return {
    action: 'reply',
    rule,
    detail,
    reply:
      failure.headers === undefined
        ? { code: failure.code, reason: failure.reason }
        : { code: failure.code, reason: failure.reason, headers: failure.headers },
  };
}
