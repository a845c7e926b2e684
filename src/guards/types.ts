/**
 * The guard chain's vocabulary: what a guard sees (a source, then the parsed message), what it
 * answers (a verdict), and what every decision becomes (a security event).
 *
 * Guards know nothing of sockets or of each other: the chain runs them in the configured
 * order, the proxy carries out the verdict, and logs, metrics, fail2ban lines and the
 * dashboard all consume the one event stream.
 */

import type { MessageContext } from '../core/context.js';
import type { Source, Verdict } from '../core/verdict.js';
import type { SipMessage } from '../sip/message.js';

/** `enforce` carries verdicts out; `monitor` only reports them (events marked `monitor`); `off` skips the guard. */
export type { GuardMode } from '../config/fields.js';

/**
 * One guard: one job. A guard implements either hook or both.
 *
 * - `checkSource` runs before the datagram or stream message is parsed: cheap per-source
 *   checks (acl, bans, flood) that must hold up under a flood. `bytes` is the message size.
 * - `checkMessage` runs on the parsed message (sanity, scanner).
 *
 * `now` is `Date.now()` read once per message by the chain. A guard keeps its own state and
 * never throws for bad input (a malformed header decoded on demand throws `SipParseError`,
 * which the chain treats as a sanity failure).
 */
export interface Guard {
  readonly name: string;
  checkSource?(source: Source, bytes: number, now: number): Verdict;
  /** `ctx`: the message's context, for guards that leave a mark for later hooks (auth); absent in unit use. */
  checkMessage?(msg: SipMessage, source: Source, now: number, ctx?: MessageContext): Verdict;
  /** Stops timers and file watchers. */
  close?(): void;
}
