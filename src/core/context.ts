/**
 * One context per message: created when the message arrives, handed to every hook on its way,
 * dropped when it is sent or ended. Everything one message's hooks decide lives here, never in a
 * module's fields, so a hook that awaits (a shared store, a media relay) cannot apply one
 * message's decision to another.
 */
import type { Destination, ListenerInfo, Peer, TransportName } from '../net/peer.js';
import type { SipMessage } from '../sip/message.js';
import type { NameAddr } from '../sip/name-addr.js';
import type { SipUri } from '../sip/uri.js';
import type { Via } from '../sip/via.js';
import type { MessageWriter } from '../sip/writer.js';
import { PASS, type ReplySpec, type Verdict } from './verdict.js';

/**
 * A typed slot a module keeps on a message's context (pjsip's `mod_data`): the auth guard marks
 * the credentials it verified, the stripping step reads the mark. Create one per use, at module
 * level; the key's identity is the slot.
 */
export class ContextKey<T> {
  /** Type witness only: keeps `T` part of the key's type. */
  declare readonly type: T;
  constructor(readonly name: string) {}
}

/** What routing knows that modules may ask about: who sipwarden is, what is inside. */
export interface RoutingView {
  /** True when the URI names sipwarden itself (a listener or its advertised address and port). */
  isOwnUri(uri: SipUri): boolean;
  /** True for a trusted address or an upstream target's address (lower case, no brackets). */
  isInsideAddress(host: string): boolean;
  /** True when a message sent there goes to the inside (a trusted address, an upstream target). */
  isInsideDestination(transport: TransportName, address: string, port: number): boolean;
  /** The listener with this index (where a message arrived or leaves from). */
  listener(index: number): ListenerInfo | undefined;
  /** The listener a message to `dest` leaves from: its own, else the first of its transport and family. */
  listenerFor(dest: Destination): ListenerInfo | undefined;
}

/** How a message's way ended before it was forwarded. */
export type Ending =
  /** Not ended: it goes on. */
  | undefined
  /** Dropped silently, counted under `reason`. */
  | { readonly kind: 'drop'; readonly reason: string }
  /** Answered by sipwarden (within the budget named), counted under the status. */
  | { readonly kind: 'reply'; readonly reply: ReplySpec; readonly budget: ReplyBudget; readonly why: string }
  /** A module took the message over (the honeypot): nothing more to do. */
  | { readonly kind: 'taken' };

/**
 * Whose rate limit an answer spends: `guard` (guards.replies_per_second), `challenge`
 * (guards.auth.challenges_per_second), `bad-request` (replies.bad_request_per_second, for
 * malformed or refused requests), `none` (routing's own answers: 503, 416).
 */
export type ReplyBudget = 'guard' | 'challenge' | 'bad-request' | 'none';

const NO_ROUTES: readonly NameAddr[] = [];

export class MessageContext {
  /** The parsed message; set before any hook after the source hooks runs. */
  msg: SipMessage = undefined as unknown as SipMessage;
  /** The first verdict other than pass so far (a blocking one, or `accept`), and who gave it. */
  verdict: Verdict = PASS;
  verdictBy = '';
  /** How the message ended, when a hook or routing ended it. */
  ending: Ending = undefined;

  // ---- what routing fills in for the hooks that edit the forwarded copy -------------------

  /** The copy being forwarded (set before the `*To*` hooks run). */
  writer: MessageWriter | undefined = undefined;
  /** Where the forwarded copy goes, and the listener it leaves from (set before the `*To*` hooks). */
  destination: Destination | undefined = undefined;
  out: ListenerInfo | undefined = undefined;
  /** sipwarden's branch for a forwarded request ('' until routing signs it), or of the response's top Via. */
  branch = '';
  /** sipwarden's own Route entries routing took off the top of a request's route set. */
  ownRoutes: readonly NameAddr[] = NO_ROUTES;
  /** The route set after sipwarden's own entries (a request from the outside). */
  routeSet: readonly NameAddr[] = NO_ROUTES;
  /** The request's loop-detection key, written in sipwarden's Via. */
  loopKey = '';
  /** A response: its destination is inside (over TCP/TLS, towards the outside only an existing connection). */
  destinationInside = false;
  /** True when routing Record-Routes the request (it creates a dialog). */
  recordRoutes = false;
  /** A request from the inside: its top Via line as it will be forwarded (received/rport stamped). */
  topVia = '';

  // ---- what hooks hand back to routing ------------------------------------------------------

  /** The Call-ID as the inside knows it (topology hiding changes it as it crosses). */
  insideCallId: string | undefined = undefined;
  /** The Call-ID as the outside knows it. */
  outsideCallId: string | undefined = undefined;
  /** Where a request from the outside goes instead of an upstream target (an external honeypot). */
  forcedTarget: Destination | undefined = undefined;
  /** The Request-URI routing targets, when a hook restored it (a sealed Contact opened). */
  requestUri: SipUri | undefined = undefined;
  /** Route entries a hook put back in place of sipwarden's own entry (a sealed route set opened). */
  restoredRoutes: NameAddr[] | undefined = undefined;
  /** Parameters appended to sipwarden's own Via (`;name=value`). */
  viaParams = '';
  /**
   * A Record-Route of sipwarden's facing the outside, hidden: only the outside entry is written,
   * with these parameters appended; the inside's entries were taken out by the hook.
   */
  hiddenRecordRoute: string | undefined = undefined;
  /** For a response: the Via under sipwarden's, and the Via text that replaces sipwarden's, when a hook unfolded them. */
  nextVia: Via | undefined = undefined;
  unfoldedVias: string | undefined = undefined;
  /** The response comes from a peer whose headers are kept as they are (an external honeypot). */
  keepHeaders = false;

  private slots: Map<ContextKey<unknown>, unknown> | undefined = undefined;

  constructor(
    /** The bytes as read. */
    readonly data: Buffer,
    /** Where it came from: transport, address, port, listener, connection. */
    readonly source: Peer,
    /** Wall-clock milliseconds (the Date.now() scale) when it arrived, read once. */
    readonly time: number,
    /** True when it comes from the inside (a trusted address, an upstream target). */
    readonly inside: boolean,
    /** What routing knows about sipwarden and the inside. */
    readonly routing: RoutingView,
    /** `performance.now()` when it arrived (the same read as `time`: `ArrivalClock`), for the forwarding latency. */
    readonly arrival = 0,
  ) {}

  /** True once a hook or routing ended the message's way. */
  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** True when a blocking verdict is pending (to be carried out, or taken by the honeypot). */
  get blocked(): boolean {
    const a = this.verdict.action;
    return a !== 'pass' && a !== 'accept';
  }

  /** An allow-listed source: later checks leave it alone. */
  get accepted(): boolean {
    return this.verdict.action === 'accept';
  }

  /**
   * Records a module's verdict. A blocking one stops the hooks of the stage; routing carries it
   * out unless a later module takes the message (the honeypot takes `honeypot` verdicts).
   */
  decide(v: Verdict, by: string): void {
    this.verdict = v;
    this.verdictBy = by;
  }

  drop(reason: string): void {
    this.ending = { kind: 'drop', reason };
  }

  reply(reply: ReplySpec, budget: ReplyBudget, why = String(reply.code)): void {
    this.ending = { kind: 'reply', reply, budget, why };
  }

  /** A module took the message over: nothing more is done with it. */
  take(): void {
    this.ending = { kind: 'taken' };
  }

  get<T>(key: ContextKey<T>): T | undefined {
    return this.slots?.get(key) as T | undefined;
  }

  set<T>(key: ContextKey<T>, value: T): void {
    this.slots ??= new Map();
    this.slots.set(key, value);
  }
}
