import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { GuardChain } from '../guards/chain.js';
import type { EventStream } from '../guards/events.js';
import type { BlockingVerdict, ReplySpec } from '../guards/types.js';
import type { HoneypotHook } from '../honeypot/honeypot.js';
import type { EventLogger } from '../log/types.js';
import { hash53Parts } from '../net/hash.js';
import type { Destination, ListenerInfo, Peer, TransportName } from '../net/peer.js';
import { RateLimit } from '../net/rate-limit.js';
import { SipParseError } from '../sip/errors.js';
import { H } from '../sip/header-names.js';
import type { ParseLimits } from '../sip/limits.js';
import type { SipMessage } from '../sip/message.js';
import { type NameAddr, parseNameAddr } from '../sip/name-addr.js';
import { parseMessage } from '../sip/parser.js';
import { buildReply, canReplyTo } from '../sip/reply.js';
import { firstElementEnd, splitList } from '../sip/split.js';
import { hostAddress, parseUri, type SipUri } from '../sip/uri.js';
import type { Via } from '../sip/via.js';
import { MessageWriter } from '../sip/writer.js';
import { hideDialogRefs, restoreDialogRefs } from '../topology/dialog-refs.js';
import { type HideFailure, ROUTE_PARAM, type TopologyHider, VIA_PARAM } from '../topology/hider.js';
import { applyHygiene } from '../topology/hygiene.js';
import type { TransportManager } from '../transport/manager.js';
import type { TransactionWatch } from '../watch/watch.js';
import { BRANCH_PREFIX, BranchSigner } from './branch.js';
import type { FlowTokens } from './flow-token.js';
import { ProxyStats } from './stats.js';
import type { Target, Upstreams } from './upstreams.js';

export interface ProxyOptions {
  limits: ParseLimits;
  /** Global rate of `400` answers to malformed requests. */
  badRequestPerSecond: number;
  /** Addresses (besides upstream targets) whose messages come from the inside. */
  isTrusted: (address: string) => boolean;
  /** Seed for branch hashes (differs per installation so branches are not predictable). */
  branchSeed: number;
  /** Key of the MAC in sipwarden's branches (responses are routed only by branches it signed). */
  branchKey: Buffer;
  /** The security pipeline every message from the outside passes; undefined: none. */
  guards: GuardChain | undefined;
  /** Answers to blocked requests per second (all sources together). */
  guardRepliesPerSecond: number;
  /** Authentication challenges per second (all sources together), a budget of their own. */
  challengesPerSecond: number;
  /** Edits a request from the outside before it is forwarded (the auth guard strips credentials). */
  rewriteOutside?: (msg: SipMessage, w: MessageWriter) => void;
  /** Where `honeypot` verdicts go; undefined: they are dropped. */
  honeypot?: HoneypotHook | undefined;
  /** Topology hiding and header hygiene; undefined: messages cross unchanged. */
  topology: TopologyHider | undefined;
  /** Where refused topology tokens are reported (the guards' event stream). */
  events: EventStream | undefined;
  /** Sees forwarded requests from the outside and their answers (brute_force, dial_scan, fraud). */
  watch?: TransactionWatch;
}

/** Methods whose initial requests create dialogs: sipwarden Record-Routes them. */
const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);
const PING_PREFIX = `${BRANCH_PREFIX}ping`;
const NONE: readonly string[] = [];

/**
 * The stateless proxy core (RFC 3261 section 16, 16.11): requests from the outside go to
 * an upstream target, requests from the inside go back out by their Route (flow tokens) or
 * Request-URI, responses follow the Via. It never keeps per-transaction state.
 */
export class SipProxy {
  readonly stats = new ProxyStats();
  private readonly badRequests: RateLimit;
  private guardReplies: RateLimit;
  private challenges: RateLimit;
  private readonly signer: BranchSigner;
  /** Hosts (lower-case, no brackets) sipwarden answers to, by port. */
  private ownAddresses = new Map<number, Set<string>>();

  constructor(
    private readonly transports: TransportManager,
    private upstreams: Upstreams,
    private readonly tokens: FlowTokens,
    private options: ProxyOptions,
    private readonly log: EventLogger,
  ) {
    this.badRequests = new RateLimit(options.badRequestPerSecond);
    this.guardReplies = new RateLimit(options.guardRepliesPerSecond);
    this.challenges = new RateLimit(options.challengesPerSecond);
    this.signer = new BranchSigner(options.branchKey);
    this.refreshIdentity();
  }

  /** The upstreams in force (they change on reload). */
  readonly upstreamSet = (): Upstreams => this.upstreams;

  /** Applies a reloaded configuration; in-flight dialogs keep working (no state is lost). */
  reconfigure(upstreams: Upstreams, options: ProxyOptions): void {
    this.upstreams = upstreams;
    if (options.guardRepliesPerSecond !== this.options.guardRepliesPerSecond) {
      this.guardReplies = new RateLimit(options.guardRepliesPerSecond);
    }
    if (options.challengesPerSecond !== this.options.challengesPerSecond) {
      this.challenges = new RateLimit(options.challengesPerSecond);
    }
    this.options = options;
    this.refreshIdentity();
  }

  /** Recomputes the addresses that mean "sipwarden itself" in Route and Request-URI. */
  refreshIdentity(): void {
    const own = new Map<number, Set<string>>();
    const add = (host: string, port: number) => {
      const set = own.get(port) ?? new Set<string>();
      own.set(port, set);
      set.add(hostAddress(host).toLowerCase());
    };
    for (const l of this.transports.listeners) {
      add(l.sipHost, l.sipPort);
      add(l.address, l.port);
    }
    this.ownAddresses = own;
  }

  /** Entry point for every message the transports read. */
  readonly onMessage = (data: Buffer, peer: Peer): void => {
    const inside = this.isInsideSource(peer);
    const guards = inside ? undefined : this.options.guards;
    let checkMessage = false;
    let accepted = inside;
    if (guards !== undefined) {
      // Cheap per-source guards (acl, bans, flood) before any parsing.
      const d = guards.checkSource(peer, data.length);
      const v = d.verdict;
      if (v.action !== 'pass' && v.action !== 'accept') {
        this.blockRaw(v, d.guard, data, peer);
        return;
      }
      accepted = v.action === 'accept';
      checkMessage = v.action === 'pass' && guards.hasMessageGuards;
    }
    let msg: SipMessage;
    try {
      msg = parseMessage(data, {
        limits: this.options.limits,
        requireContentLength: peer.transport !== 'udp',
      });
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      this.onMalformed(err, peer);
      return;
    }
    try {
      if (checkMessage) {
        const d = guards!.checkMessage(msg, peer);
        const v = d.verdict;
        if (v.action !== 'pass' && v.action !== 'accept') {
          this.block(v, d.guard, msg, peer);
          return;
        }
        accepted = v.action === 'accept';
      }
      // A source in the honeypot stays there: the rest of its dialogs get consistent answers.
      const hp = this.options.honeypot;
      if (!accepted && hp !== undefined && hp.holds(peer.address)) {
        this.toHoneypot(hp, msg, peer, '', 'held');
        return;
      }
      if (msg.isRequest) {
        this.stats.requestsReceived++;
        if (inside) this.requestFromInside(msg, peer);
        else this.requestFromOutside(msg, peer);
      } else {
        this.stats.responsesReceived++;
        this.response(msg, peer, inside);
      }
    } catch (err) {
      // A header decoded on demand (Route, Via list) was malformed.
      if (!(err instanceof SipParseError)) throw err;
      err.partial ??= msg;
      this.onMalformed(err, peer);
    }
  };

  /**
   * `count` CRLF keep-alives read at once. From the outside they pass the per-source guards
   * like messages (flood counts them; a blocked source's get no pong), once each but at most
   * KEEPALIVE_CHECKS times per call: a chunk of megabytes of CRLFs costs bounded work.
   * False: refused.
   */
  readonly onKeepAlive = (peer: Peer, count: number): boolean => {
    this.stats.keepAlives += count;
    const guards = this.options.guards;
    if (guards === undefined || this.isInsideSource(peer)) return true;
    const checks = Math.min(count, SipProxy.KEEPALIVE_CHECKS);
    for (let i = 0; i < checks; i++) {
      const d = guards.checkSource(peer, 4);
      if (d.verdict.action === 'accept') return true;
      if (d.verdict.action !== 'pass') {
        this.stats.count(this.stats.blocked, d.guard);
        return false;
      }
    }
    return true;
  };

  private static readonly KEEPALIVE_CHECKS = 32;

  /**
   * Where a message comes from is inside when it is a trusted address, or an upstream target
   * that an outsider cannot impersonate: over UDP the target's own address and port (PBXs send
   * from their listening port), over TCP/TLS only a connection sipwarden opened to the target.
   * A connection accepted from a target's address is outside unless the address is trusted: on
   * a shared or NATed address, any client could open one (docs/proxy.md, "Inside and outside").
   */
  private isInsideSource(peer: Peer): boolean {
    if (this.options.isTrusted(peer.address)) return true;
    const hp = this.options.honeypot;
    if (hp?.forwardTarget !== undefined && hp.isForwardTarget(peer.transport, peer.address, peer.port)) return true;
    if (this.upstreams.find(peer.address, peer.port) === undefined) return false;
    return peer.transport === 'udp' || this.transports.isOutbound(peer.connId);
  }

  /** A destination is inside when it is a trusted address or an upstream target's address and port. */
  private isInsideDestination(transport: TransportName, address: string, port: number): boolean {
    if (this.options.isTrusted(address)) return true;
    const hp = this.options.honeypot;
    if (hp?.forwardTarget !== undefined && hp.isForwardTarget(transport, address, port)) return true;
    return this.upstreams.find(address, port) !== undefined;
  }

  /** Carries out a guard's verdict on a message that was not parsed yet. */
  private blockRaw(v: BlockingVerdict, guard: string, data: Buffer, peer: Peer): void {
    if (answerOf(v) === undefined && (v.action !== 'honeypot' || this.options.honeypot === undefined)) {
      this.stats.count(this.stats.blocked, guard);
      return;
    }
    let msg: SipMessage | undefined;
    try {
      msg = parseMessage(data, { limits: this.options.limits, requireContentLength: peer.transport !== 'udp' });
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      msg = err.partial;
    }
    if (msg === undefined) this.stats.count(this.stats.blocked, guard);
    else this.block(v, guard, msg, peer);
  }

  /**
   * Carries out a guard's verdict: drop, or answer (rate limited, never to an ACK or a
   * response). `honeypot` goes to the honeypot when it is enabled, else it drops.
   */
  private block(v: BlockingVerdict, guard: string, msg: SipMessage, peer: Peer): void {
    const hp = this.options.honeypot;
    if (v.action === 'honeypot' && hp !== undefined) {
      this.toHoneypot(hp, msg, peer, guard, v.rule);
      return;
    }
    this.stats.count(this.stats.blocked, guard);
    const reply = answerOf(v);
    if (reply === undefined || !msg.isRequest || msg.method === 'ACK' || !canReplyTo(msg)) return;
    if (reply.challenge === true ? !this.challenges.take() : !this.guardReplies.take()) {
      this.stats.count(this.stats.dropped, reply.challenge === true ? 'challenge-rate' : 'guard-reply-rate');
      return;
    }
    this.stats.count(this.stats.replies, reply.code);
    this.transports.send(peer, buildReply(msg, reply.code, reply.reason, reply.headers));
  }

  /**
   * Hands a message to the honeypot (counted by the guard that sent it, `held` for a held
   * source). With an external honeypot, requests are forwarded to it like to an upstream.
   */
  private toHoneypot(hp: HoneypotHook, msg: SipMessage, peer: Peer, guard: string, rule: string): void {
    this.stats.count(this.stats.honeypot, guard === '' ? 'held' : guard);
    if (!hp.take(msg, peer, msg.end - msg.start, guard, rule)) return;
    const target = hp.forwardTarget;
    if (target === undefined) return;
    if (msg.isRequest) this.requestFromOutside(msg, peer, target);
    else this.response(msg, peer, false);
  }

  private onMalformed(err: SipParseError, peer: Peer): void {
    this.stats.count(this.stats.malformed, err.code);
    const req = err.partial;
    if (req === undefined || !req.isRequest || req.method === 'ACK' || !canReplyTo(req)) {
      this.stats.count(this.stats.dropped, req?.isRequest === false ? 'malformed-response' : 'malformed');
      this.log.debug({ event: 'malformed', source: peer.address, port: peer.port, code: err.code }, err.reason);
      return;
    }
    if (!this.badRequests.take()) {
      this.stats.count(this.stats.dropped, 'bad-request-rate');
      return;
    }
    const status = err.code === 'bad-version' ? 505 : 400;
    this.reply(req, peer, status, status === 505 ? 'Version Not Supported' : err.reason);
  }

  private reply(req: SipMessage, peer: Peer, status: number, reason: string): void {
    this.stats.count(this.stats.replies, status);
    this.transports.send(peer, buildReply(req, status, reason));
  }

  // ---- requests ------------------------------------------------------------------------

  /**
   * Common checks: Max-Forwards (483), Proxy-Require (420) and loops (482), answered within the
   * bad-request budget. Returns the transaction id and loop key to use, or undefined.
   */
  private precheck(msg: SipMessage, peer: Peer, insideCallId: string = msg.callId): Prechecked | undefined {
    const mf = msg.maxForwards!;
    if (mf === 0) {
      this.refuse(msg, peer, 483, 'Too Many Hops', 'max-forwards');
      return undefined;
    }
    // RFC 3261 16.3 step 5: sipwarden supports no extension a proxy must understand.
    const proxyRequire = msg.findHeaderId(H.ProxyRequire) === -1 ? NONE : msg.headerValues('Proxy-Require');
    if (proxyRequire.length > 0 && msg.method !== 'ACK' && msg.method !== 'CANCEL') {
      this.refuse(msg, peer, 420, 'Bad Extension', 'proxy-require', unsupportedHeader(proxyRequire));
      return undefined;
    }
    const loop = this.loopKey(msg, insideCallId);
    if (this.hasOwnVia(msg, loop)) {
      this.refuse(msg, peer, 482, 'Loop Detected', 'loop');
      return undefined;
    }
    return { id: this.transactionId(msg, peer), loop };
  }

  /**
   * A proxy's own refusal (420, 482, 483): never to an ACK, and within the budget of answers
   * to bad requests, so a flood of them cannot turn sipwarden into a reflector.
   */
  private refuse(
    msg: SipMessage,
    peer: Peer,
    status: number,
    reason: string,
    why: string,
    headers: readonly string[] = NONE,
  ): void {
    if (msg.method === 'ACK') {
      this.stats.count(this.stats.dropped, why);
      return;
    }
    if (!this.badRequests.take()) {
      this.stats.count(this.stats.dropped, 'bad-request-rate');
      return;
    }
    this.stats.count(this.stats.replies, status);
    this.transports.send(peer, buildReply(msg, status, reason, headers));
  }

  /** `forced`: the external honeypot, instead of an upstream target. */
  private requestFromOutside(msg: SipMessage, peer: Peer, forced?: Destination): void {
    const topo = this.options.topology;
    const insideCallId = topo === undefined ? msg.callId : topo.insideCallId(msg.callId);
    const pre = this.precheck(msg, peer, insideCallId);
    if (pre === undefined) return;
    const w = new MessageWriter(msg);
    // Flow tokens only steer requests from the inside: the outside always goes upstream.
    const popped = this.popOwnRoutes(msg, w, false);
    if (popped === 'forged-route') {
      this.refuseToken(msg, peer, popped);
      return;
    }
    const { remaining } = popped;
    this.options.rewriteOutside?.(msg, w);
    let requestUri = msg.requestUri;
    if (topo !== undefined) {
      // Put back what topology hiding sealed: the PBX's Contact (now the Request-URI), the Call-ID.
      if (this.isOwnUri(requestUri)) {
        const original = topo.openContact(requestUri.user);
        if (original === 'forged-contact') {
          this.refuseToken(msg, peer, original);
          return;
        }
        if (original !== undefined) {
          w.setRequestUri(original);
          requestUri = parseUri(original, 0, original.length, 'request-uri', 'Request-URI');
        }
      }
      topo.callIdIn(msg, w, insideCallId);
      restoreDialogRefs(msg, w, topo, (uri) => this.isOwnUri(uri));
      applyHygiene(msg, w, topo.inHygiene, { fromTrusted: false });
    }

    // The outside may only ever reach upstream targets: never an address it names itself.
    let target: Target | undefined;
    if (forced === undefined) {
      const next = remaining[0];
      if (next !== undefined) target = this.targetOfUri(next.uri);
      if (target === undefined && this.isOwnUri(requestUri) === false) target = this.targetOfUri(requestUri);
      if (target === undefined) target = this.upstreams.choose(msg.callId);
      if (target === undefined) {
        if (msg.method !== 'ACK') this.reply(msg, peer, 503, 'Service Unavailable');
        else this.stats.count(this.stats.dropped, 'no-upstream');
        return;
      }
    }
    const t = forced ?? target!.spec;
    const out = this.transports.pick(t.transport, t.family);
    if (out === undefined) {
      this.stats.count(this.stats.dropped, 'no-listener');
      return;
    }
    // RFC 3581 forced: the answer goes back to the address and port the request came from,
    // never to a port the outside wrote in its Via.
    const stamped = this.stampedClientVia(msg, peer, true);
    if (stamped !== undefined) w.replace(msg.viaAt, stamped);
    const branch = this.signer.sign(pre.id, responseRoute(msg.topVia, peer, true));
    w.prepend('Via', this.ownVia(out, t.transport, branch, pre.loop, peer));
    w.replace(msg.maxForwardsAt, String(msg.maxForwards! - 1));
    if (this.createsDialog(msg)) this.recordRoute(w, peer, this.transports.listeners[peer.listener]!, out, true);
    if (msg.method === 'REGISTER') w.prepend('Path', `<sip:${this.tokens.encode(peer)}@${hostPort(out)};lr>`);
    if (t.transport !== 'udp') w.ensureContentLength();
    this.stats.requestsForwarded++;
    this.options.watch?.request(msg, peer, branch);
    this.transports.send(
      { transport: t.transport, address: t.address, port: t.port, family: t.family, listener: out.index, connId: 0 },
      w.toBuffer(),
    );
  }

  private requestFromInside(msg: SipMessage, peer: Peer): void {
    const pre = this.precheck(msg, peer);
    if (pre === undefined) return;
    const w = new MessageWriter(msg);
    const popped = this.popOwnRoutes(msg, w, true);
    if (popped === 'forged-route') return; // only the outside's tokens carry `tr`
    const { remaining, flow } = popped;
    if (flow !== undefined) {
      this.forwardFromInside(msg, peer, w, pre, flow);
      return;
    }
    const uri = remaining[0]?.uri ?? msg.requestUri;
    const dest = uriDestination(uri);
    if (dest === undefined) {
      this.reply(msg, peer, 416, 'Unsupported URI Scheme');
      return;
    }
    if (isIP(dest.address) !== 0) {
      this.forwardFromInside(msg, peer, w, pre, dest);
      return;
    }
    lookup(dest.address).then(
      (r) => this.forwardFromInside(msg, peer, w, pre, { ...dest, address: r.address, family: r.family === 6 ? 6 : 4 }),
      () => {
        if (msg.method !== 'ACK') this.reply(msg, peer, 503, 'Service Unavailable');
      },
    );
  }

  private forwardFromInside(msg: SipMessage, peer: Peer, w: MessageWriter, pre: Prechecked, dest: Destination): void {
    const out = this.transports.pick(dest.transport, dest.family, dest.listener);
    if (out === undefined) {
      this.stats.count(this.stats.dropped, 'no-listener');
      return;
    }
    const stamped = this.stampedClientVia(msg, peer, false);
    const topo = this.isInsideDestination(dest.transport, dest.address, dest.port) ? undefined : this.options.topology;
    const branch = this.signer.sign(pre.id, responseRoute(msg.topVia, peer, false));
    let via = this.ownVia(out, dest.transport, branch, pre.loop, peer);
    if (topo === undefined) {
      if (stamped !== undefined) w.replace(msg.viaAt, stamped);
    } else {
      // The inside's Vias leave only as one sealed parameter of sipwarden's own.
      const token = topo.foldVias(msg, w, stamped ?? msg.headerValueAt(msg.viaAt).trim());
      if (token === undefined) {
        this.tooLong(msg);
        return;
      }
      via += `;${VIA_PARAM}=${token}`;
    }
    w.prepend('Via', via);
    w.replace(msg.maxForwardsAt, String(msg.maxForwards! - 1));
    if (this.createsDialog(msg)) {
      const flow: Peer = { ...dest, listener: out.index };
      if (topo === undefined) this.recordRoute(w, flow, out, this.transports.listeners[peer.listener]!, false);
      else if (!this.hiddenRecordRoute(msg, w, flow, out, this.transports.listeners[peer.listener]!)) {
        this.tooLong(msg);
        return;
      }
    }
    if (topo !== undefined) {
      if (!topo.hideContacts(msg, w, { hostPort: hostPort(out), transportParam: transportParam(out) })) {
        this.tooLong(msg);
        return;
      }
      if (!topo.callIdOut(msg, w)) {
        this.tooLong(msg);
        return;
      }
      // Replaces, Target-Dialog, Refer-To and sipfrag name dialogs and hosts of the inside too.
      const own = { hostPort: hostPort(out), transportParam: transportParam(out) };
      if (!hideDialogRefs(msg, w, topo, own, this.isInternalHost)) {
        this.tooLong(msg);
        return;
      }
      topo.hideIdentityHosts(msg, w, hostPort(out), this.isInternalHost);
      applyHygiene(msg, w, topo.outHygiene, { fromTrusted: true });
    }
    if (dest.transport !== 'udp') w.ensureContentLength();
    this.stats.requestsForwarded++;
    this.options.watch?.insideRequest(msg, this.options.topology?.outsideCallId(msg.callId));
    this.transports.send({ ...dest, listener: out.index }, w.toBuffer());
  }

  /**
   * Record-Route so in-dialog requests come back through sipwarden: one entry when the same
   * listener faces both sides, two when they differ (transport or address family change,
   * RFC 5658). The entry facing the outside carries the outside flow's token; the top entry
   * faces the next hop.
   */
  private recordRoute(
    w: MessageWriter,
    outsideFlow: Peer,
    outside: ListenerInfo,
    inside: ListenerInfo,
    towardsInside: boolean,
  ): void {
    const outer = `<sip:${this.tokens.encode(outsideFlow)}@${hostPort(outside)}${transportParam(outside)};lr>`;
    if (outside.index === inside.index) {
      w.prepend('Record-Route', outer);
      return;
    }
    const inner = `<sip:${hostPort(inside)}${transportParam(inside)};lr>`;
    // prepend() keeps call order: the first call ends up on top.
    w.prepend('Record-Route', towardsInside ? inner : outer);
    w.prepend('Record-Route', towardsInside ? outer : inner);
  }

  /**
   * Record-Route of a request leaving for the outside with topology hiding: the outside sees
   * one entry, sipwarden's, and the entries of the inside (with sipwarden's inside-facing one
   * after a transport change) travel sealed in its `tr` parameter. False when too long.
   */
  private hiddenRecordRoute(
    msg: SipMessage,
    w: MessageWriter,
    outsideFlow: Peer,
    outside: ListenerInfo,
    inside: ListenerInfo,
  ): boolean {
    const sealed: string[] = [];
    if (outside.index !== inside.index) sealed.push(`<sip:${hostPort(inside)}${transportParam(inside)};lr>`);
    for (let k = msg.findHeaderId(H.RecordRoute); k !== -1; k = msg.findHeaderId(H.RecordRoute, k + 1)) {
      const value = msg.headerValueAt(k);
      for (const [a, b] of splitList(value)) sealed.push(value.slice(a, b));
      w.remove(k);
    }
    let outer = `<sip:${this.tokens.encode(outsideFlow)}@${hostPort(outside)}${transportParam(outside)};lr`;
    if (sealed.length > 0) {
      const token = this.options.topology!.sealRoutes(sealed);
      if (token === undefined) return false;
      outer += `;${ROUTE_PARAM}=${token}`;
    }
    w.prepend('Record-Route', `${outer}>`);
    return true;
  }

  /** A message whose inside values are too long to seal is not sent out unhidden. */
  private tooLong(msg: SipMessage): void {
    this.stats.count(this.stats.dropped, 'topology-too-long');
    this.log.debug({ event: 'topology-too-long', method: msg.method }, 'headers too long to hide');
  }

  /**
   * A topology token that does not open: forged, modified, or sealed under a key no longer
   * accepted. Counted and reported; a request (not an ACK) gets 481, as for an unknown dialog.
   */
  private refuseToken(msg: SipMessage, peer: Peer, failure: HideFailure): void {
    this.stats.count(this.stats.dropped, `topology-${failure}`);
    this.options.events?.emit({
      time: Date.now(),
      source: peer,
      guard: 'topology',
      rule: failure,
      action: msg.isRequest && msg.method !== 'ACK' ? 'reply' : 'drop',
      monitor: false,
      detail: '',
      method: msg.isRequest ? msg.method : undefined,
    });
    if (!msg.isRequest || msg.method === 'ACK' || !this.badRequests.take()) return;
    this.reply(msg, peer, 481, 'Call/Transaction Does Not Exist');
  }

  private createsDialog(msg: SipMessage): boolean {
    return DIALOG_METHODS.has(msg.method) && msg.to.tag === undefined;
  }

  /**
   * Removes the Route entries that name sipwarden from the top of the route set (one, or two
   * after a double Record-Route) and returns the rest, with the flow token they carried. From
   * the outside, an entry's `tr` parameter (topology hiding) stands for the inside's entries:
   * they are put back, and 'forged-route' is returned when it does not open.
   */
  private popOwnRoutes(
    msg: SipMessage,
    w: MessageWriter,
    wantFlow: boolean,
  ): { remaining: NameAddr[]; flow: Destination | undefined } | 'forged-route' {
    const routes = msg.routes;
    if (routes.length === 0) return { remaining: routes, flow: undefined };
    let popped = 0;
    let flow: Destination | undefined;
    let restored: NameAddr[] | undefined;
    while (popped < routes.length && popped < 2 && this.isOwnUri(routes[popped]!.uri)) {
      const uri = routes[popped]!.uri;
      popped++;
      const user = uri.user;
      if (wantFlow && flow === undefined && user !== undefined) {
        const f = this.tokens.decode(user);
        if (f !== undefined) flow = f;
        else this.stats.count(this.stats.dropped, 'bad-flow-token');
      }
      const sealed = wantFlow ? undefined : uri.params.get(ROUTE_PARAM);
      if (sealed === undefined || sealed === null || this.options.topology === undefined) continue;
      const entries = this.options.topology.openRoutes(sealed);
      if (entries === undefined) return 'forged-route';
      restored = entries.map((e) => parseNameAddr(e, 0, e.length, 'Route'));
      // Its first entry can be sipwarden's own inside-facing one (double Record-Route).
      while (restored.length > 0 && this.isOwnUri(restored[0]!.uri)) restored.shift();
      break;
    }
    if (popped > 0) this.removeRouteEntries(msg, w, popped);
    const rest = routes.slice(popped);
    if (restored === undefined || restored.length === 0) return { remaining: rest, flow };
    // prepend() puts them above the remaining Route lines, which keeps the route order.
    w.prepend('Route', restored.map((r) => `<${r.uriText}>`).join(', '));
    return { remaining: [...restored, ...rest], flow };
  }

  /** Removes the first `n` Route entries, whether they share a header line or not. */
  private removeRouteEntries(msg: SipMessage, w: MessageWriter, n: number): void {
    for (let k = 0; k < msg.headerCount && n > 0; k++) {
      if (msg.headerIdAt(k) !== H.Route) continue;
      const value = msg.headerValueAt(k);
      const parts = splitList(value);
      if (parts.length <= n) {
        w.remove(k);
        n -= parts.length;
      } else {
        w.replace(
          k,
          parts
            .slice(n)
            .map(([a, b]) => value.slice(a, b))
            .join(', '),
        );
        n = 0;
      }
    }
  }

  /** A host of the inside (lower case, no brackets): an upstream target, a trusted address, or a configured internal host. */
  private readonly isInternalHost = (host: string): boolean =>
    this.isTrustedAddress(host) || this.options.topology?.isInternalHost(host) === true;

  /** True for a trusted address or any upstream target's address (whatever the port). */
  isTrustedAddress(address: string): boolean {
    return this.options.isTrusted(address) || this.upstreams.isTargetAddress(address);
  }

  /** True when host[:port] (port undefined: any) names sipwarden itself. */
  isOwnHost(host: string, port: number | undefined): boolean {
    const h = hostAddress(host).toLowerCase();
    if (port !== undefined) return this.ownAddresses.get(port)?.has(h) === true;
    for (const hosts of this.ownAddresses.values()) if (hosts.has(h)) return true;
    return false;
  }

  private isOwnUri(uri: SipUri): boolean {
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return false;
    const port =
      uri.port ?? (uri.scheme === 'sips' || uri.params.get('transport')?.toLowerCase() === 'tls' ? 5061 : 5060);
    const hosts = this.ownAddresses.get(port);
    if (hosts === undefined) return false;
    const host = hostAddress(uri.host);
    return hosts.has(host) || hosts.has(host.toLowerCase());
  }

  private targetOfUri(uri: SipUri): Target | undefined {
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return undefined;
    const port = uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
    return this.upstreams.find(hostAddress(uri.host), port);
  }

  /**
   * RFC 3261 18.2.1 and RFC 3581: tell the next hops where the request really came from. The
   * first Via line with received/rport set, or undefined when it needs no change. A client's
   * own `received` or `rport` value is never kept: it would choose where the answer goes.
   * `forceRport` (every request from the outside) stamps rport even when the client did not
   * ask for it, as Kamailio's force_rport() does at an edge.
   */
  private stampedClientVia(msg: SipMessage, peer: Peer, forceRport: boolean): string | undefined {
    const via = msg.topVia;
    const rport = forceRport || via.params.has('rport');
    if (!rport && hostAddress(via.host) === peer.address && !via.params.has('received')) return undefined;
    const value = msg.headerValueAt(msg.viaAt);
    const cut = firstElementEnd(value);
    let top = value.slice(0, cut).trimEnd();
    const received = via.params.has('received');
    // Common cases first: a bare ";rport" (what phones send) and no received yet, or neither.
    const at = rport && !received ? top.indexOf(';rport') : -1;
    const after = at === -1 ? -1 : at + 6;
    if (rport && !received && at === -1 && !via.params.has('rport')) {
      top = `${top};received=${peer.address};rport=${peer.port}`;
    } else if (after !== -1 && (after === top.length || top.charCodeAt(after) === 0x3b)) {
      top = `${top.slice(0, after)}=${peer.port}${top.slice(after)};received=${peer.address}`;
    } else {
      top = setParam(top, 'received', peer.address);
      if (rport) top = setParam(top, 'rport', String(peer.port));
    }
    return top + value.slice(cut);
  }

  private ownVia(out: ListenerInfo, transport: TransportName, branch: string, loop: string, from: Peer): string {
    return `SIP/2.0/${transport.toUpperCase()} ${hostPort(out)};branch=${branch};${LOOP_PARAM}=${loop};sw=${flowParam(from)}`;
  }

  /**
   * Stateless transaction id (RFC 3261 16.11): with a magic-cookie branch, a hash of the
   * received top branch (with the sending address and CSeq number, so one client cannot make
   * its request collide with another's). A hop-by-hop CANCEL and the ACK of
   * a non-2xx carry the INVITE's top branch, so they get the INVITE's branch even when the
   * previous hop is a proxy whose INVITE carries more Vias than its CANCEL. RFC 2543 clients'
   * branches are not unique: their top Via, From tag, Request-URI and Call-ID stand in.
   */
  private transactionId(msg: SipMessage, peer: Peer): string {
    const top = msg.topVia;
    const b = top.branch;
    const cookie = b?.startsWith('z9hG4bK') === true;
    const h = hash53Parts(
      this.options.branchSeed,
      cookie ? b! : `${b ?? ''}|${top.host}:${top.port ?? ''}|${msg.from.tag}`,
      peer.address,
      cookie ? '' : msg.requestUriText,
      cookie ? '' : msg.callId,
      String(msg.cseq.seq),
    );
    return h.toString(36);
  }

  /**
   * Loop detection (RFC 3261 16.3 step 4), apart from the branch: a hash of what identifies the
   * originating request (the bottom Via, the client's own, Request-URI, Route set, Call-ID and CSeq
   * number), carried in sipwarden's Via. The same request coming round again carries it and is
   * a loop (482); a spiral (another Request-URI) is not. The Vias proxies added do not count.
   */
  private loopKey(msg: SipMessage, insideCallId: string): string {
    const bottom = this.hasSeveralVias(msg) ? msg.vias[msg.vias.length - 1]! : msg.topVia;
    const b = bottom.branch;
    const cookie = b?.startsWith('z9hG4bK') === true;
    // RFC 3261 16.6 step 8: the Route set too. An in-dialog request between two phones that
    // crosses sipwarden twice (out to a record-routing PBX and back) is a spiral: it comes back
    // with the Route entries before the PBX's consumed.
    let routes = '';
    for (let k = msg.findHeaderId(H.Route); k !== -1; k = msg.findHeaderId(H.Route, k + 1)) {
      routes += `${msg.headerValueAt(k)},`;
    }
    const h = hash53Parts(
      this.options.branchSeed ^ 0x6c6f6f70,
      b ?? '',
      `${bottom.host}:${bottom.port ?? ''}`,
      routes === '' ? msg.requestUriText : `${msg.requestUriText}|${routes}`,
      // Topology hiding changes the Call-ID as it crosses: the inside's form on both sides.
      insideCallId,
      // RFC 2543 clients' branches are not unique: add the From tag for them.
      cookie ? String(msg.cseq.seq) : `${msg.cseq.seq}|${msg.from.tag}`,
    );
    return h.toString(36);
  }

  private hasSeveralVias(msg: SipMessage): boolean {
    return msg.findHeaderId(H.Via, msg.viaAt + 1) !== -1 || msg.headerValueAt(msg.viaAt).indexOf(',') !== -1;
  }

  /** Loop detection (RFC 3261 16.3 step 4): the request already carries a Via of sipwarden's with this loop key. */
  private hasOwnVia(msg: SipMessage, loop: string): boolean {
    if (isOwnLoopVia(msg.topVia, loop)) return true;
    // Most requests from phones carry one Via: decode the others only when there are some.
    if (!this.hasSeveralVias(msg)) return false;
    for (const v of msg.vias) if (isOwnLoopVia(v, loop)) return true;
    return false;
  }

  // ---- responses -----------------------------------------------------------------------

  private response(msg: SipMessage, peer: Peer, inside: boolean): void {
    const top = msg.topVia;
    const branch = top.branch;
    if (branch === undefined || !branch.startsWith(BRANCH_PREFIX)) {
      this.stats.count(this.stats.dropped, 'not-our-via');
      return;
    }
    if (branch.startsWith(PING_PREFIX)) {
      // Only the pinged target answers pings: the outside cannot fake an upstream's health.
      if (inside) this.onPingResponse?.(branch, msg, peer);
      else this.stats.count(this.stats.dropped, 'forged-ping-response');
      return;
    }
    const topo = this.options.topology;
    // Topology hiding folded the inside's Vias into our own: unfold them.
    const sealed = inside || topo === undefined ? undefined : top.params.get(VIA_PARAM);
    let unfolded: string | undefined;
    let next: Via | undefined;
    if (sealed !== undefined && sealed !== null) {
      const u = topo!.unfoldVias(sealed);
      if (typeof u === 'string') {
        this.refuseToken(msg, peer, u);
        return;
      }
      unfolded = u.value;
      next = u.next;
    } else {
      next = msg.secondVia;
    }
    if (next === undefined) {
      this.stats.count(this.stats.dropped, 'no-next-via');
      return;
    }
    const dest = viaDestination(next, top);
    if (dest === undefined) {
      this.stats.count(this.stats.dropped, 'bad-via');
      return;
    }
    // Only a branch sipwarden signed, for exactly this route, is routed: no response goes to
    // an address, port or connection that its sender chose.
    if (!this.signer.verify(branch, routeOf(top, dest))) {
      this.stats.count(this.stats.dropped, 'forged-branch');
      this.log.debug({ event: 'forged-branch', source: peer.address, port: peer.port }, 'response not routed');
      return;
    }
    // A response from the outside goes to the inside only: a forged Via cannot make
    // sipwarden reflect traffic to a third party.
    const destInside = this.isInsideDestination(dest.transport, dest.address, dest.port);
    if (!inside && !destInside) {
      this.stats.count(this.stats.dropped, 'response-to-outside');
      return;
    }
    const w = new MessageWriter(msg);
    if (unfolded === undefined) {
      w.removeFirstElement(msg.viaAt);
    } else {
      const line = msg.headerValueAt(msg.viaAt);
      const cut = firstElementEnd(line);
      w.replace(msg.viaAt, cut >= line.length ? unfolded : `${unfolded}, ${line.slice(cut + 1).trim()}`);
    }
    if (topo !== undefined) {
      if (inside && !destInside) {
        // An external honeypot's banner is the point of it: its answers keep their headers.
        const hp = this.options.honeypot;
        const fromHoneypot =
          hp?.forwardTarget !== undefined && hp.isForwardTarget(peer.transport, peer.address, peer.port);
        if (!this.hideResponse(msg, w, dest, topo, !fromHoneypot)) {
          this.tooLong(msg);
          return;
        }
      } else if (!inside && !this.restoreResponse(msg, w, topo)) {
        this.refuseToken(msg, peer, 'forged-route');
        return;
      }
    }
    // After hiding: a rewritten answer (403 Try later) keeps only the hidden core headers.
    if (inside) this.options.watch?.response(msg, branch, w);
    if (dest.transport !== 'udp') w.ensureContentLength();
    this.stats.responsesForwarded++;
    // Towards the outside over TCP/TLS, only the connection the request came on: sipwarden
    // never opens a connection to where a phone's Via points.
    if (!this.transports.send(dest, w.toBuffer(), !destInside)) this.stats.count(this.stats.dropped, 'flow-gone');
  }

  /** A response from the inside going out: Record-Route, Contact, Call-ID and banners hidden. */
  private hideResponse(
    msg: SipMessage,
    w: MessageWriter,
    dest: Destination,
    topo: TopologyHider,
    hygiene: boolean,
  ): boolean {
    const isOwn = (uri: SipUri) => this.isOwnUri(uri);
    if (!topo.hideResponseRecordRoute(msg, w, isOwn)) return false;
    if (msg.cseq.method === 'REGISTER') {
      // A REGISTER's Contacts are the phone's own bindings; Path and Service-Route name the inside.
      w.removeAll('Path');
      w.removeAll('Service-Route');
    } else {
      const own = this.transports.listeners[dest.listener] ?? this.transports.pick(dest.transport, dest.family);
      if (own === undefined) return false;
      if (!topo.hideContacts(msg, w, { hostPort: hostPort(own), transportParam: transportParam(own) })) return false;
    }
    const out = this.transports.listeners[dest.listener] ?? this.transports.pick(dest.transport, dest.family);
    if (out !== undefined) topo.hideIdentityHosts(msg, w, hostPort(out), this.isInternalHost);
    if (!topo.callIdOut(msg, w)) return false;
    if (hygiene) applyHygiene(msg, w, topo.outHygiene, { fromTrusted: true });
    return true;
  }

  /** A response from the outside going in: sealed Record-Route entries, Contacts and Call-ID restored. */
  private restoreResponse(msg: SipMessage, w: MessageWriter, topo: TopologyHider): boolean {
    const isOwn = (uri: SipUri) => this.isOwnUri(uri);
    if (!topo.restoreResponseRecordRoute(msg, w, isOwn)) return false;
    if (!topo.restoreContacts(msg, w, isOwn)) return false;
    topo.callIdIn(msg, w);
    applyHygiene(msg, w, topo.inHygiene, { fromTrusted: false });
    return true;
  }

  /** Set by the upstream health checker to receive answers to its OPTIONS pings. */
  onPingResponse: ((branch: string, msg: SipMessage, peer: Peer) => void) | undefined = undefined;
}

/** The answer a blocking verdict asks for, if any (a reply, or a ban that answers the request). */
function answerOf(v: BlockingVerdict): ReplySpec | undefined {
  return v.action === 'reply' || v.action === 'ban' ? v.reply : undefined;
}

function hostPort(l: ListenerInfo): string {
  return `${l.sipHost}:${l.sipPort}`;
}

function transportParam(l: ListenerInfo): string {
  return l.transport === 'udp' ? '' : `;transport=${l.transport}`;
}

/** `sw` Via parameter: the inbound listener and connection, so the response takes the same flow. */
function flowParam(p: Peer): string {
  return `${p.transport[1]}${p.listener}-${p.connId}`;
}

function parseFlowParam(v: string | null | undefined): { listener: number; connId: number } | undefined {
  if (!v) return undefined;
  const dash = v.indexOf('-');
  const listener = Number(v.slice(1, dash));
  const connId = Number(v.slice(dash + 1));
  if (dash < 2 || !Number.isInteger(listener) || !Number.isInteger(connId)) return undefined;
  return { listener, connId };
}

/** Where a response goes (RFC 3261 18.2.2, RFC 3581 4): received / rport of the next Via. */
function viaDestination(next: Via, ours: Via): Destination | undefined {
  const transport = next.transport.toLowerCase();
  if (transport !== 'udp' && transport !== 'tcp' && transport !== 'tls') return undefined;
  // RFC 5118 4.5: received may hold an IPv6 address with or without brackets.
  const address = hostAddress(next.received ?? next.host);
  const family = isIP(address);
  if (family === 0) return undefined;
  const rport = next.rport;
  const port = typeof rport === 'number' && rport > 0 ? rport : (next.port ?? (transport === 'tls' ? 5061 : 5060));
  const flow = parseFlowParam(ours.params.get('sw'));
  return {
    transport,
    address,
    port,
    family: family === 6 ? 6 : 4,
    listener: flow?.listener ?? -1,
    connId: transport === 'udp' ? 0 : (flow?.connId ?? 0),
  };
}

/** Where a request for this URI goes (RFC 3263 without DNS SRV: transport param, host, port). */
function uriDestination(uri: SipUri): Destination | undefined {
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return undefined;
  const tp = uri.params.get('transport')?.toLowerCase();
  const transport: TransportName = uri.scheme === 'sips' || tp === 'tls' ? 'tls' : tp === 'tcp' ? 'tcp' : 'udp';
  const address = hostAddress(uri.host);
  const family = isIP(address);
  return {
    transport,
    address,
    port: uri.port ?? (transport === 'tls' ? 5061 : 5060),
    family: family === 6 ? 6 : 4,
    listener: -1,
    connId: 0,
  };
}

const PARAM_RE: Record<string, RegExp> = {
  received: /\s*;\s*received(?:\s*=\s*[^;,\s]*)?(?=\s*(?:;|$))/gi,
  rport: /\s*;\s*rport(?:\s*=\s*[^;,\s]*)?(?=\s*(?:;|$))/gi,
};

/**
 * Sets `;name=value` (received or rport) in a single Via element's text: every value the
 * client wrote is removed (a repeated parameter must not leave a choice to the next hop).
 */
function setParam(via: string, name: 'received' | 'rport', value: string): string {
  return `${via.replace(PARAM_RE[name]!, '')};${name}=${value}`;
}

/** sipwarden's Via parameter that carries the loop-detection key. */
const LOOP_PARAM = 'lp';

/** What precheck() hands to the forwarding step. */
interface Prechecked {
  /** The transaction id, signed into the branch. */
  id: string;
  /** The loop-detection key. */
  loop: string;
}

function isOwnLoopVia(v: Via, loop: string): boolean {
  return v.branch?.startsWith(BRANCH_PREFIX) === true && v.params.get(LOOP_PARAM) === loop;
}

/**
 * The route a response to this request must take, as the response path will read it back:
 * the `sw` flow, the Via's transport, and the address and port received/rport will give (the
 * client's Via as stamped: the source address, and its port when rport is set or forced).
 */
function responseRoute(via: Via, peer: Peer, forceRport: boolean): string {
  const transport = via.transport.toLowerCase();
  const port = forceRport || via.params.has('rport') ? peer.port : (via.port ?? (transport === 'tls' ? 5061 : 5060));
  return `${flowParam(peer)}|${transport}|${peer.address}|${port}`;
}

/** The same route, read from a response: sipwarden's Via and where the next Via sends it. */
function routeOf(ours: Via, dest: Destination): string {
  return `${ours.params.get('sw') ?? ''}|${dest.transport}|${dest.address}|${dest.port}`;
}

/** `Unsupported` for a 420: the option tags, bounded (the request must not choose the answer's size). */
function unsupportedHeader(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tags) {
    const tag = t.trim();
    if (out.length === 8) break;
    if (tag.length > 0 && tag.length <= 32 && /^[A-Za-z0-9.!%*_+`'~-]+$/.test(tag)) out.push(tag);
  }
  return out.length === 0 ? [] : [`Unsupported: ${out.join(', ')}`];
}
