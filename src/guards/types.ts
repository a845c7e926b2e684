/**
 * The guard chain's vocabulary: what a guard sees (a source, then the parsed message), what it
 * answers (a verdict), and what every decision becomes (a security event).
 *
 * Guards know nothing of sockets or of each other: the chain runs them in the configured
 * order, the proxy carries out the verdict, and logs, metrics, fail2ban lines and the
 * dashboard all consume the one event stream.
 */

import type { TransportName } from '../net/peer.js';
import type { SipMessage } from '../sip/message.js';

/** Where a message came from. The transport layer's `Peer` satisfies it. */
export interface Source {
  readonly transport: TransportName;
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** A SIP answer a guard wants sent instead of forwarding (e.g. 403 Forbidden). */
export interface ReplySpec {
  readonly code: number;
  readonly reason: string;
  /** Extra header lines (`Name: value`), e.g. `Retry-After: 60`. */
  readonly headers?: readonly string[];
  /**
   * An authentication challenge (auth guard): sent within its own budget
   * (guards.auth.challenges_per_second), not guards.replies_per_second, so a flood of
   * blocked requests cannot starve legitimate phones of their challenges.
   */
  readonly challenge?: boolean;
}

/** The message goes on to the next guard (and, after the last one, to the proxy). */
export interface PassVerdict {
  readonly action: 'pass';
}

/** The message is accepted without asking the remaining guards (an allow-listed source). */
export interface AcceptVerdict {
  readonly action: 'accept';
}

interface Decided {
  /** Short, stable name of the rule that fired (`density`, `user-agent`, `sql-injection`). */
  readonly rule: string;
  /** Human-readable specifics; may contain attacker text (consumers escape and bound it). */
  readonly detail?: string;
}

export interface DropVerdict extends Decided {
  readonly action: 'drop';
}

export interface ReplyVerdict extends Decided {
  readonly action: 'reply';
  readonly reply: ReplySpec;
}

export interface BanVerdict extends Decided {
  readonly action: 'ban';
  /** Ban length in milliseconds. */
  readonly duration: number;
  /** Why, as stored with the ban and shown by `sipwarden bans list` (no attacker text). */
  readonly reason: string;
  /**
   * What to ban: a canonical address or network (`2001:db8:1:2::/64` when a guard aggregates
   * by prefix). Default: the source address.
   */
  readonly target?: string;
  /** Answer the request that caused the ban (e.g. `403 Try later`); default: drop it. */
  readonly reply?: ReplySpec;
}

export interface HoneypotVerdict extends Decided {
  readonly action: 'honeypot';
}

export type Verdict = PassVerdict | AcceptVerdict | DropVerdict | ReplyVerdict | BanVerdict | HoneypotVerdict;

/** Every verdict other than pass and accept. */
export type BlockingVerdict = DropVerdict | ReplyVerdict | BanVerdict | HoneypotVerdict;
export type BlockingAction = BlockingVerdict['action'];

/** Shared constants, so the hot path allocates nothing for a pass. */
export const PASS: PassVerdict = Object.freeze({ action: 'pass' });
export const ACCEPT: AcceptVerdict = Object.freeze({ action: 'accept' });

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
  checkMessage?(msg: SipMessage, source: Source, now: number): Verdict;
  /** Stops timers and file watchers. */
  close?(): void;
}

/** One decision of the chain, for logs, metrics, fail2ban and the dashboard. */
export interface SecurityEvent {
  /** Epoch milliseconds. */
  readonly time: number;
  readonly source: Source;
  readonly guard: string;
  readonly rule: string;
  readonly action: BlockingAction;
  /** True when the guard runs in monitor mode: this is what it would have done. */
  readonly monitor: boolean;
  /** Specifics; may contain attacker text (escape and bound it before output). */
  readonly detail: string;
  /** For bans: what was banned, until when (epoch ms) and why. */
  readonly ban?: { readonly target: string; readonly until: number; readonly reason: string };
  /**
   * Why a ban the guard asked for was narrowed or not made (`guards.never_ban`). When it was not
   * made, `action` is what the message got instead (`drop`, or `reply` when the ban answers).
   */
  readonly note?: string;
  /** Method of the request, when the message was parsed. */
  readonly method?: string;
}

export type SecurityEventListener = (event: SecurityEvent) => void;
