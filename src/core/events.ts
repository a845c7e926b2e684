/**
 * The one event bus of a running sipwarden. Every ban, unban, block, alert and state change
 * is one typed event; logs (ops/event-log.ts), metrics (core/metrics.ts), the fail2ban line
 * and the dashboard all subscribe here, and nothing else reports them.
 *
 * - `block`: a guard stopped a message (drop, reply, honeypot): today's SecurityEvent.
 * - `ban`: a source or network was banned. `origin: 'guard'` carries the guard's decision
 *   (SecurityEvent fields, `action: 'ban'`, also in monitor mode: what would have been banned);
 *   `origin: 'external'` is a ban another process (the CLI on the same store file) added: it
 *   has no source, only the ban.
 * - `unban`, `ban-expired`, `bans-flushed`: the store's other changes.
 * - `upstream`: an upstream target left or rejoined the rotation.
 * - `honeypot`: a source entered the honeypot.
 * - `alert`: a warning that blocks nothing (fraud, distributed guessing).
 *
 * Listeners run synchronously in the order they subscribed (`subscribe`, or `on` for one kind).
 * One that throws is reported to `onListenerError` and stops neither the others nor the sender.
 */

import type { Ban } from '../store/types.js';
import { Subscribers } from './subscribers.js';
import type { BlockingAction, Source } from './verdict.js';

/** A ban as reported in events: what, until when, why. */
export interface BanRecord {
  readonly target: string;
  readonly until: number;
  readonly reason: string;
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

/** A guard stopped a message without banning its source. */
export interface BlockEvent extends SecurityEvent {
  readonly kind: 'block';
}

/** A guard banned a source (or, `monitor`, would have). */
export interface GuardBanEvent extends SecurityEvent {
  readonly kind: 'ban';
  readonly origin: 'guard';
  readonly action: 'ban';
  readonly ban: BanRecord;
}

/** A ban another process wrote to the store (`sipwarden bans add`). */
export interface ExternalBanEvent {
  readonly kind: 'ban';
  readonly origin: 'external';
  readonly time: number;
  readonly ban: Ban;
}

export type BanEvent = GuardBanEvent | ExternalBanEvent;

/** `local`: this process lifted it (a ban evicted by the cap); `external`: another process did. */
export type ChangeOrigin = 'local' | 'external';

export interface UnbanEvent {
  readonly kind: 'unban';
  readonly time: number;
  readonly target: string;
  readonly origin: ChangeOrigin;
}

export interface BanExpiredEvent {
  readonly kind: 'ban-expired';
  readonly time: number;
  readonly ban: Ban;
}

export interface BansFlushedEvent {
  readonly kind: 'bans-flushed';
  readonly time: number;
  readonly count: number;
  readonly origin: ChangeOrigin;
}

export interface UpstreamEvent {
  readonly kind: 'upstream';
  readonly time: number;
  /** Upstream name. */
  readonly upstream: string;
  /** The target's URL as configured. */
  readonly target: string;
  readonly state: 'up' | 'down';
  /** Why a target went down (`3 pings unanswered`, `unreachable`); '' when it came back. */
  readonly why: string;
}

export interface HoneypotEvent {
  readonly kind: 'honeypot';
  readonly time: number;
  readonly source: SecurityEvent['source'];
  /** Guard that sent the source there ('' for a source already held). */
  readonly guard: string;
  readonly rule: string;
}

export interface AlertEvent {
  readonly kind: 'alert';
  readonly time: number;
  readonly guard: string;
  readonly rule: string;
  readonly message: string;
  /** Specifics, already escaped and bounded. */
  readonly fields: Readonly<Record<string, string | number>>;
}

export type SipwardenEvent =
  | BlockEvent
  | BanEvent
  | UnbanEvent
  | BanExpiredEvent
  | BansFlushedEvent
  | UpstreamEvent
  | HoneypotEvent
  | AlertEvent;

export type EventKind = SipwardenEvent['kind'];
export type EventOf<K extends EventKind> = Extract<SipwardenEvent, { kind: K }>;
export type EventListener = (event: SipwardenEvent) => void;

/** A guard's decision about one message: a `block`, or a `ban` a guard made. */
export type DecisionEvent = BlockEvent | GuardBanEvent;

export function isDecision(e: SipwardenEvent): e is DecisionEvent {
  return e.kind === 'block' || (e.kind === 'ban' && e.origin === 'guard');
}

/** Where a guard decision that bans nobody is reported (the shape of a guard's SecurityEvent). */
export interface DecisionSink {
  emit(event: SecurityEvent): void;
}

export class EventBus extends Subscribers<SipwardenEvent> {
  /** Subscribes to the events of one kind. */
  on<K extends EventKind>(kind: K, listener: (event: EventOf<K>) => void): () => void {
    return this.subscribe((e) => {
      if (e.kind === kind) listener(e as EventOf<K>);
    });
  }

  /** Subscribes to guard decisions: blocks and the bans guards made (SecurityEvent fields). */
  onDecision(listener: (event: DecisionEvent) => void): () => void {
    return this.subscribe((e) => {
      if (isDecision(e)) listener(e);
    });
  }

  /**
   * A guard's decision as the guards word it: a ban with its record is a `ban` event, anything
   * else a `block`. For senders that only know SecurityEvent (the proxy's topology refusals).
   */
  decision(e: SecurityEvent): void {
    if (e.action === 'ban' && e.ban !== undefined) {
      this.emit({ ...e, kind: 'ban', origin: 'guard', action: 'ban', ban: e.ban });
    } else {
      this.emit({ ...e, kind: 'block' });
    }
  }

  /** This bus as a DecisionSink. */
  readonly decisions: DecisionSink = { emit: (e) => this.decision(e) };
}
