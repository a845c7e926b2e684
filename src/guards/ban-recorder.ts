/**
 * The one place a guard's decision to ban becomes a ban: the guard chain's ban verdicts and
 * the answer-watching guards' (through the watch's Reporter) both come here. It applies the
 * BanPolicy (what one source is, who is never banned), writes the store (not in monitor mode)
 * and emits the one `ban` event. Bans another process adds arrive through the store's change
 * feed instead (core/ban-feed.ts).
 */
import type { EventBus } from '../core/events.js';
import type { Source } from '../core/verdict.js';
import type { BanStore } from '../store/types.js';
import type { BanOutcome, BanPolicy } from './ban-policy.js';

/** A guard's ban of the source of one message. */
export interface BanDecision {
  /** Epoch milliseconds. */
  readonly time: number;
  readonly source: Source;
  readonly guard: string;
  readonly rule: string;
  /** Specifics; may contain attacker text (consumers escape and bound it). */
  readonly detail: string;
  /** Method of the request, when there is one. */
  readonly method: string | undefined;
  readonly monitor: boolean;
  /** What to ban when the guard names it (a network); default: the source's key. */
  readonly target: string | undefined;
  /** Why, as stored with the ban (no attacker text). */
  readonly reason: string;
  /** Milliseconds. */
  readonly duration: number;
  /**
   * What the message gets when `guards.never_ban` spares the source: then a `block` event with
   * this action and the note is emitted. Undefined: no event; the caller reports it.
   */
  readonly spared: 'drop' | 'reply' | undefined;
}

export class BanRecorder {
  constructor(
    private readonly events: EventBus,
    private readonly store: BanStore | undefined,
    /** The policy in force (it changes on reload). */
    private readonly policy: () => BanPolicy,
    /** Told when a ban could not be written to the store (it is still enforced from memory). */
    private readonly onStoreError: (err: unknown) => void,
  ) {}

  /** Records the ban (or, monitoring, reports the one that would be made) and emits its event. */
  record(d: BanDecision): BanOutcome {
    const o = this.policy().record(
      this.store,
      this.onStoreError,
      d.guard,
      d.source.address,
      d.target,
      d.reason,
      d.duration,
      d.time,
      d.monitor,
    );
    const note = o.note === '' ? undefined : o.note;
    const fields = {
      time: d.time,
      source: {
        transport: d.source.transport,
        address: d.source.address,
        port: d.source.port,
        family: d.source.family,
      },
      guard: d.guard,
      rule: d.rule,
      monitor: d.monitor,
      detail: d.detail,
    };
    if (o.ban !== undefined) {
      this.events.emit({
        kind: 'ban',
        origin: 'guard',
        ...fields,
        action: 'ban',
        ban: o.ban,
        method: d.method,
        note,
      });
    } else if (d.spared !== undefined) {
      this.events.emit({ kind: 'block', ...fields, action: d.spared, ban: undefined, method: d.method, note });
    }
    return o;
  }
}
