import type { ReplySpec } from '../../core/verdict.js';
import type { SipMessage } from '../../sip/message.js';
import type { Reporter } from '../../watch/report.js';
import type { WatchedRequest } from '../../watch/transactions.js';
import type { ResponseWatcher } from '../../watch/watch.js';
import type { Guard } from '../types.js';
import type { DialScanConfig } from './config.js';
import { DialScanTracker } from './tracker.js';

/** Name in events and log lines. */
export const DIAL_SCAN = 'dial-scan';

/**
 * Extension, user and dial-prefix scanning, watched on the answers: per source (its address
 * masked as `sources.*` says, an IPv6 /64 by default, and banned as such), the distinct
 * Request-URI users of the requests that name one (by default INVITE, MESSAGE, OPTIONS,
 * SUBSCRIBE, NOTIFY, REFER, PUBLISH) that the inside refused with "no such destination" codes
 * (404, 484, 403, 480, 503, 604) within `window`. More than `max_destinations` ban the source.
 * A request without a user part (OPTIONS to a host) never counts, and neither does a
 * challenge (401/407): an unauthenticated INVITE is challenged whatever the number. REGISTER
 * scanning is brute_force's (`normalize_not_found`).
 */
export class DialScanGuard implements Guard, ResponseWatcher {
  readonly name = DIAL_SCAN;
  readonly tracker: DialScanTracker;
  private readonly methods: ReadonlySet<string>;
  private readonly codes: ReadonlySet<number>;
  private readonly monitor: boolean;

  constructor(
    private readonly config: DialScanConfig,
    private readonly reporter: Reporter,
  ) {
    this.tracker = new DialScanTracker(config);
    this.methods = new Set(config.methods);
    this.codes = new Set(config.codes);
    this.monitor = config.mode === 'monitor';
  }

  onFinalResponse(req: WatchedRequest, msg: SipMessage, now: number): ReplySpec | undefined {
    if (req.ruriUser === '' || !this.codes.has(msg.status) || !this.methods.has(req.method)) return undefined;
    if (this.reporter.isExempt(req)) return undefined;
    const key = this.reporter.keyOf(req.address);
    const n = this.tracker.refused(key, req.ruriUser, now);
    if (n <= this.config.maxDestinations) return undefined;
    this.tracker.forget(key);
    this.reporter.ban(
      DIAL_SCAN,
      this.monitor,
      req,
      'destinations',
      'scanning for extensions or numbers',
      `${n} refused destinations within ${Math.round(this.config.window / 1000)}s, last ${req.ruriUser}`,
      this.config.ban,
      req.method,
      now,
    );
    return undefined;
  }
}
