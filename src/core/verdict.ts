/**
 * What a module may decide about a message: pass it on, accept it without further checks, or
 * block it (drop, answer, ban, or send it to the honeypot). Guards answer with these; the
 * routing core carries them out (it alone sends).
 */
import type { TransportName } from '../net/peer.js';

/** Where a message came from. The transport layer's `Peer` satisfies it. */
export interface Source {
  readonly transport: TransportName;
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** A SIP answer a module wants sent instead of forwarding (e.g. 403 Forbidden). */
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

/** The answer a blocking verdict asks for, if any (a reply, or a ban that answers the request). */
export function answerOf(v: BlockingVerdict): ReplySpec | undefined {
  return v.action === 'reply' || v.action === 'ban' ? v.reply : undefined;
}
