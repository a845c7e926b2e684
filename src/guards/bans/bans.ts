/**
 * The bans guard: a source covered by a ban in the store (its address, or a banned network
 * around it) gets the configured action before its message is even parsed.
 *
 * It runs on every datagram, floods included: one `store.find` (no allocation for a source that
 * is not banned) and, for a banned one, a verdict built once per ban and reused.
 */
import {
  type BanVerdict,
  type DropVerdict,
  type HoneypotVerdict,
  PASS,
  type ReplySpec,
  type ReplyVerdict,
  type Source,
  type Verdict,
} from '../../core/verdict.js';
import { normalizeCidr, normalizeIp } from '../../net/cidr.js';
import type { Ban, BanStore } from '../../store/types.js';
import type { GuardReplyConfig } from '../config.js';
import type { Guard } from '../types.js';
import type { BansGuardConfig } from './config.js';

export const BANNED_RULE = 'banned';

type BannedVerdict = DropVerdict | ReplyVerdict | HoneypotVerdict;

export class BansGuard implements Guard {
  readonly name = 'bans';
  private readonly action: BansGuardConfig['action'];
  private readonly reply: ReplySpec;
  private readonly store: BanStore;
  /** Verdict per ban object: a replaced ban is a new object, so a stale verdict is never reused. */
  private readonly verdicts = new WeakMap<Ban, BannedVerdict>();

  constructor(config: Readonly<BansGuardConfig>, store: BanStore, reply: Readonly<GuardReplyConfig>) {
    this.action = config.action;
    this.store = store;
    this.reply = Object.freeze({ code: reply.code, reason: reply.reason });
  }

  checkSource(source: Source, _bytes: number, now: number): Verdict {
    const ban = this.store.find(source.address, now);
    if (ban === undefined) return PASS;
    let verdict = this.verdicts.get(ban);
    if (verdict === undefined) {
      verdict = this.verdictFor(ban);
      this.verdicts.set(ban, verdict);
    }
    return verdict;
  }

  private verdictFor(ban: Ban): BannedVerdict {
    const detail = `ban of ${ban.target} by ${ban.guard} until ${new Date(ban.expires).toISOString()}: ${ban.reason}`;
    switch (this.action) {
      case 'reply':
        return Object.freeze({ action: 'reply', rule: BANNED_RULE, detail, reply: this.reply });
      case 'honeypot':
        return Object.freeze({ action: 'honeypot', rule: BANNED_RULE, detail });
      default:
        return Object.freeze({ action: 'drop', rule: BANNED_RULE, detail });
    }
  }
}

/**
 * The ban a `ban` verdict asks for: its target (canonical) or else the source's address,
 * created `now`, expiring `now + verdict.duration`, recorded as made by `guard`. Throws an
 * Error when `verdict.target` is not an address or network.
 */
export function banFromVerdict(verdict: BanVerdict, source: Source, guard: string, now: number): Ban {
  const target = verdict.target === undefined ? normalizeIp(source.address) : normalizeCidr(verdict.target);
  return Object.freeze({ target, guard, reason: verdict.reason, created: now, expires: now + verdict.duration });
}
