import type { MessageContext } from '../core/context.js';
import type { EventBus } from '../core/events.js';
import { ACCEPT, type BlockingVerdict, PASS, type Source, type Verdict } from '../core/verdict.js';
import { SipParseError } from '../sip/errors.js';
import type { SipMessage } from '../sip/message.js';
import type { BanStore } from '../store/types.js';
import { BanPolicy } from './ban-policy.js';
import { BanRecorder } from './ban-recorder.js';
import type { Guard, GuardMode } from './types.js';

export interface ChainEntry {
  readonly guard: Guard;
  readonly mode: GuardMode;
}

/** What the chain decided about one message, and which guard decided it. */
export interface ChainDecision {
  readonly verdict: Verdict;
  /** Name of the guard whose verdict this is ('' for pass). */
  readonly guard: string;
}

/** Where the chain puts its decision: a message's context, or a Decision. */
export interface VerdictSink {
  decide(v: Verdict, by: string): void;
}

class Decision implements ChainDecision, VerdictSink {
  verdict: Verdict = PASS;
  guard = '';
  decide(v: Verdict, by: string): void {
    this.verdict = v;
    this.guard = by;
  }
}

/**
 * Runs the configured guards in order (reSIProcate's request chain, pike/sanity/secfilter in
 * a Kamailio route): first every guard's `checkSource` on the raw message, then every guard's
 * `checkMessage` on the parsed one. The first verdict other than pass ends the chain;
 * `accept` ends it and admits the message. A guard in monitor mode only reports: its verdict
 * becomes an event marked `monitor` and the chain goes on.
 *
 * The chain hands ban verdicts to the BanRecorder (the BanPolicy, the store, the `ban` event)
 * and turns every other blocking verdict into one `block` event. Carrying the verdict
 * out (drop, reply) is the caller's job.
 */
export class GuardChain {
  private readonly sourceGuards: ChainEntry[];
  private readonly messageGuards: ChainEntry[];
  /** Where ban verdicts become bans and `ban` events. */
  private readonly recorder: BanRecorder;

  constructor(
    readonly entries: readonly ChainEntry[],
    private readonly events: EventBus,
    bans: BanStore | undefined,
    private readonly now: () => number = Date.now,
    /** What a ban covers and who is never banned (`sources`, `guards.never_ban`). */
    policy: BanPolicy = BanPolicy.DEFAULT,
  ) {
    const active = entries.filter((e) => e.mode !== 'off');
    this.sourceGuards = active.filter((e) => e.guard.checkSource !== undefined);
    this.messageGuards = active.filter((e) => e.guard.checkMessage !== undefined);
    this.recorder = new BanRecorder(events, bans, () => policy, this.storeError);
  }

  /** Told when a ban could not be written to the store (it is still enforced from memory). */
  onStoreError: (err: unknown) => void = () => {};
  private readonly storeError = (err: unknown) => this.onStoreError(err);

  get hasMessageGuards(): boolean {
    return this.messageGuards.length > 0;
  }

  /** Runs the guards that look at the source only (before parsing). */
  checkSource(source: Source, bytes: number): ChainDecision {
    const d = new Decision();
    this.runSource(source, bytes, d);
    return d;
  }

  /** Runs the guards that look at the parsed message. */
  checkMessage(msg: SipMessage, source: Source): ChainDecision {
    const d = new Decision();
    this.runMessage(msg, source, d, undefined);
    return d;
  }

  /** The source guards, for a message's context: the first verdict other than pass goes to `into`. `now`: its arrival. */
  runSource(source: Source, bytes: number, into: VerdictSink, now = this.now()): void {
    const list = this.sourceGuards;
    if (list.length === 0) return;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      const v = e.guard.checkSource!(source, bytes, now);
      if (v.action === 'pass') continue;
      if (v.action === 'accept') {
        into.decide(ACCEPT, e.guard.name);
        return;
      }
      if (this.decide(e, v, source, now, undefined)) {
        into.decide(v, e.guard.name);
        return;
      }
    }
  }

  /** The message guards, for a message's context (`ctx` reaches the guards that keep per-message marks). */
  runMessage(
    msg: SipMessage,
    source: Source,
    into: VerdictSink,
    ctx: MessageContext | undefined,
    now = this.now(),
  ): void {
    const list = this.messageGuards;
    if (list.length === 0) return;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      let v: Verdict;
      try {
        v = e.guard.checkMessage!(msg, source, now, ctx);
      } catch (err) {
        // A header decoded on demand was malformed: the message is not fit to forward.
        if (!(err instanceof SipParseError)) throw err;
        v = malformed(msg, err);
      }
      if (v.action === 'pass') continue;
      if (v.action === 'accept') {
        into.decide(ACCEPT, e.guard.name);
        return;
      }
      if (this.decide(e, v, source, now, msg)) {
        into.decide(v, e.guard.name);
        return;
      }
    }
  }

  /** Records a blocking verdict (a ban through the ban recorder, else a `block` event); true when it is enforced. */
  private decide(e: ChainEntry, v: BlockingVerdict, source: Source, now: number, msg: SipMessage | undefined): boolean {
    const monitor = e.mode === 'monitor';
    const method = msg?.isRequest === true ? msg.method : undefined;
    if (v.action === 'ban') {
      this.recorder.record({
        time: now,
        source,
        guard: e.guard.name,
        rule: v.rule,
        detail: v.detail ?? '',
        method,
        monitor,
        target: v.target,
        reason: v.reason,
        duration: v.duration,
        // A peer in guards.never_ban: nobody is banned, the message is still blocked as the verdict says.
        spared: v.reply === undefined ? 'drop' : 'reply',
      });
      return !monitor;
    }
    this.events.emit({
      kind: 'block',
      time: now,
      source: { transport: source.transport, address: source.address, port: source.port, family: source.family },
      guard: e.guard.name,
      rule: v.rule,
      action: v.action,
      monitor,
      detail: v.detail ?? '',
      ban: undefined,
      method,
      note: undefined,
    });
    return !monitor;
  }
}

function malformed(msg: SipMessage, err: SipParseError): BlockingVerdict {
  if (!msg.isRequest || msg.method === 'ACK') return { action: 'drop', rule: 'malformed', detail: err.reason };
  return { action: 'reply', rule: 'malformed', detail: err.reason, reply: { code: 400, reason: err.reason } };
}
