import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ArrivalClock } from '../core/clock.js';
import { MessageContext, type RoutingView } from '../core/context.js';
import { KeyedQueue } from '../core/keyed-queue.js';
import { type Hook, type Pipeline, runDetached, runHooks } from '../core/module.js';
import type { EventLogger } from '../log/types.js';
import { type Destination, hostPort, type Peer, type TransportName } from '../net/peer.js';
import { SipParseError } from '../sip/errors.js';
import type { ParseLimits } from '../sip/limits.js';
import type { SipMessage } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { MessageWriter } from '../sip/writer.js';
import type { TransportManager } from '../transport/manager.js';
import { Answers } from './answers.js';
import { BRANCH_PREFIX, BranchSigner, PING_PREFIX } from './branch.js';
import type { FlowTokens } from './flow-token.js';
import { OwnIdentity } from './identity.js';
import { createsDialog, popOwnRoutes, recordRoute } from './route-set.js';
import { ProxyStats } from './stats.js';
import { type Prechecked, precheck } from './transaction.js';
import type { Target, Upstreams } from './upstreams.js';
import {
  ownVia,
  removeOwnVia,
  responseRoute,
  routeOf,
  stampedClientVia,
  uriDestination,
  viaDestination,
} from './via.js';

export interface ProxyOptions {
  limits: ParseLimits;
  /** Global rate of `400` answers to malformed requests (and 420, 482, 483). */
  badRequestPerSecond: number;
  /** Addresses (besides upstream targets) whose messages come from the inside. */
  isTrusted: (address: string) => boolean;
  /** Seed for branch hashes (differs per installation so branches are not predictable). */
  branchSeed: number;
  /** Key of the MAC in sipwarden's branches (responses are routed only by branches it signed). */
  branchKey: Buffer;
  /** Answers to blocked requests per second (all sources together). */
  guardRepliesPerSecond: number;
  /** Authentication challenges per second (all sources together), a budget of their own. */
  challengesPerSecond: number;
  /** The modules in force: guards, honeypot, auth, topology hiding, the transaction watch. */
  pipeline: Pipeline;
}

const NO_HOOKS: readonly Hook[] = [];
/** What a keep-alive weighs for the per-source hooks (a CRLFCRLF). */
const KEEPALIVE = Buffer.from('\r\n\r\n');

/**
 * The stateless proxy core (RFC 3261 section 16, 16.11): requests from the outside go to
 * an upstream target, requests from the inside go back out by their Route (flow tokens) or
 * Request-URI, responses follow the Via. It never keeps per-transaction state. Everything
 * else (guards, honeypot, authentication, topology hiding, the watch of answers) is a module
 * on the hooks of `core/module.ts`, run at the points marked `runHooks`.
 */
export class SipProxy {
  readonly stats = new ProxyStats();
  private readonly answers: Answers;
  private readonly signer: BranchSigner;
  private readonly identity = new OwnIdentity();
  /** Order of messages per source while a source hook waits, and per Call-ID after parsing. */
  private readonly bySource: KeyedQueue;
  private readonly byCallId: KeyedQueue;
  private readonly routing: RoutingView;
  private readonly clock = new ArrivalClock();

  constructor(
    private readonly transports: TransportManager,
    private upstreams: Upstreams,
    private readonly tokens: FlowTokens,
    private options: ProxyOptions,
    private readonly log: EventLogger,
  ) {
    this.answers = new Answers(options, options.limits, this.stats, (p, d) => this.transports.send(p, d), log);
    this.signer = new BranchSigner(options.branchKey);
    this.bySource = new KeyedQueue(this.hookFailed);
    this.byCallId = new KeyedQueue(this.hookFailed);
    this.routing = {
      isOwnUri: this.identity.isOwnUri,
      isInsideAddress: (host) => this.isTrustedAddress(host),
      isInsideDestination: (t, a, p) => this.isInsideDestination(t, a, p),
      listener: (i) => this.transports.listeners[i],
      listenerFor: (d) => this.transports.listeners[d.listener] ?? this.transports.pick(d.transport, d.family),
    };
    this.refreshIdentity();
  }

  /** The upstreams in force (they change on reload). */
  readonly upstreamSet = (): Upstreams => this.upstreams;

  /** Applies a reloaded configuration; in-flight dialogs keep working (no state is lost). */
  reconfigure(upstreams: Upstreams, options: ProxyOptions): void {
    this.upstreams = upstreams;
    this.answers.reconfigure(options, options.limits);
    this.options = options;
    this.refreshIdentity();
  }

  /** Recomputes the addresses that mean "sipwarden itself" in Route and Request-URI. */
  refreshIdentity(): void {
    this.identity.refresh(this.transports.listeners);
  }

  /** True for a trusted address or any upstream target's address (whatever the port). */
  isTrustedAddress(address: string): boolean {
    return this.options.isTrusted(address) || this.upstreams.isTargetAddress(address);
  }

  /** True when host[:port] (port undefined: any) names sipwarden itself. */
  isOwnHost(host: string, port: number | undefined): boolean {
    return this.identity.isOwnHost(host, port);
  }

  /** False when a module refuses a TCP/TLS connection from this address (a banned source). */
  acceptsConnection(address: string): boolean {
    return this.isTrustedAddress(address) || this.options.pipeline.acceptsConnection(address);
  }

  /** A hook threw or its promise rejected outside a message's own way (a source hook, a keep-alive's). */
  private readonly hookFailed = (err: unknown): void => this.answers.hookFailed(err);

  /** Set by the upstream health checker to receive answers to its OPTIONS pings. */
  onPingResponse: ((branch: string, msg: SipMessage, peer: Peer) => void) | undefined = undefined;

  // ---- arrival ---------------------------------------------------------------------------

  /** Entry point for every message the transports read. */
  readonly onMessage = (data: Buffer, peer: Peer): void => {
    const time = this.clock.read();
    const ctx = new MessageContext(data, peer, time, this.isInsideSource(peer), this.routing, this.clock.fine);
    if (ctx.inside || this.options.pipeline.stages.onSource.length === 0) this.parse(ctx);
    else this.bySource.run(peer.address, this.sourceStage, ctx);
  };

  /**
   * `count` CRLF keep-alives read at once. From the outside they meet the source hooks like
   * messages (flood counts them; a blocked source's get no pong), once each but at most
   * KEEPALIVE_CHECKS times per call: megabytes of CRLFs cost bounded work. A source hook that
   * would wait is not waited for. False: refused.
   */
  readonly onKeepAlive = (peer: Peer, count: number): boolean => {
    this.stats.keepAlives += count;
    const pipeline = this.options.pipeline;
    if (pipeline.stages.onSource.length === 0 || this.isInsideSource(peer)) return true;
    const checks = Math.min(count, SipProxy.KEEPALIVE_CHECKS);
    const now = Date.now();
    for (let i = 0; i < checks; i++) {
      const ctx = new MessageContext(KEEPALIVE, peer, now, false, this.routing);
      const run = runDetached(pipeline, 'onSource', ctx, this.hookFailed);
      if (run !== 'done') return run === 'waiting';
      if (ctx.accepted) return true;
      if (ctx.blocked || ctx.ended) {
        this.stats.count(this.stats.blocked, ctx.verdictBy);
        return false;
      }
    }
    return true;
  };

  private static readonly KEEPALIVE_CHECKS = 32;

  /**
   * Inside: a trusted address, or an upstream target an outsider cannot impersonate: over UDP its
   * own address and port, over TCP/TLS only a connection sipwarden opened to it (a connection
   * accepted from its address could be anyone's behind a NAT: docs/proxy.md, "Inside and outside").
   */
  private isInsideSource(peer: Peer): boolean {
    if (this.options.isTrusted(peer.address)) return true;
    if (this.options.pipeline.isInsidePeer(peer.transport, peer.address, peer.port)) return true;
    if (this.upstreams.find(peer.address, peer.port) === undefined) return false;
    return peer.transport === 'udp' || this.transports.isOutbound(peer.connId);
  }

  /** A destination is inside when it is a trusted address or an upstream target's address and port. */
  private isInsideDestination(transport: TransportName, address: string, port: number): boolean {
    if (this.options.isTrusted(address)) return true;
    if (this.options.pipeline.isInsidePeer(transport, address, port)) return true;
    return this.upstreams.find(address, port) !== undefined;
  }

  private readonly sourceStage = (ctx: MessageContext): Promise<void> | undefined => {
    const p = runHooks(this.options.pipeline.stages.onSource, ctx);
    return p === undefined ? this.parse(ctx) : p.then(() => this.parse(ctx));
  };

  private readonly parse = (ctx: MessageContext): undefined => {
    if (ctx.ended || (ctx.blocked && ctx.verdict.action !== 'honeypot')) {
      this.answers.carryOut(ctx);
      return;
    }
    const peer = ctx.source;
    let callId: string;
    try {
      ctx.msg = parseMessage(ctx.data, { limits: this.options.limits, requireContentLength: peer.transport !== 'udp' });
      callId = ctx.msg.callId;
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      if (ctx.blocked) this.stats.count(this.stats.blocked, ctx.verdictBy);
      else this.answers.malformed(err, peer);
      return;
    }
    // Messages of one Call-ID keep their order while a hook waits (retransmissions, CANCEL, ACK).
    this.byCallId.run(callId, this.dispatch, ctx);
  };

  private readonly dispatch = (ctx: MessageContext): Promise<void> | undefined => {
    try {
      const p = ctx.msg.isRequest ? this.request(ctx) : this.response(ctx);
      return p?.catch((err: unknown) => this.answers.failed(ctx, err));
    } catch (err) {
      this.answers.failed(ctx, err);
      return undefined;
    }
  };

  // ---- requests ------------------------------------------------------------------------

  private request(ctx: MessageContext): Promise<void> | undefined {
    const pipeline = this.options.pipeline;
    if (ctx.inside) {
      const p = runHooks(pipeline.stages.onRequestFromInside, ctx);
      return p === undefined ? this.fromInside(ctx) : p.then(() => this.fromInside(ctx));
    }
    const p = runHooks(pipeline.stages.onRequestFromOutside, ctx);
    return p === undefined ? this.fromOutside(ctx) : p.then(() => this.fromOutside(ctx));
  }

  /** Max-Forwards, Proxy-Require and loop checks; a refusal is answered within the bad-request budget. */
  private precheck(ctx: MessageContext, insideCallId: string): Prechecked | undefined {
    const r = precheck(this.options.branchSeed, ctx.msg, ctx.source, insideCallId);
    if (!('refuse' in r)) return r;
    this.answers.answer(ctx.msg, ctx.source, r.refuse, r.why, 'bad-request');
    return undefined;
  }

  private readonly fromOutside = (ctx: MessageContext): Promise<void> | undefined => {
    if (this.answers.stopped(ctx)) return undefined;
    const msg = ctx.msg;
    this.stats.received(msg); // counted once the modules let it in
    const pre = this.precheck(ctx, ctx.insideCallId ?? msg.callId);
    if (pre === undefined) return undefined;
    const w = new MessageWriter(msg);
    ctx.writer = w;
    // Flow tokens only steer requests from the inside: the outside always goes upstream.
    const popped = popOwnRoutes(msg, w, this.identity.isOwnUri, this.tokens, false);
    ctx.ownRoutes = popped.own;
    ctx.routeSet = popped.remaining;
    ctx.loopKey = pre.loop;
    // RFC 3581 forced: the answer goes back to the address and port the request came from,
    // never to a port the outside wrote in its Via.
    ctx.branch = this.signer.sign(pre.id, responseRoute(msg.topVia, ctx.source, true));
    ctx.recordRoutes = createsDialog(msg);
    const p = runHooks(this.options.pipeline.stages.onRequestToInside, ctx);
    return p === undefined ? this.toInside(ctx) : p.then(() => this.toInside(ctx));
  };

  private readonly toInside = (ctx: MessageContext): undefined => {
    if (this.answers.stopped(ctx)) return;
    const w = ctx.writer!;
    const rest = ctx.routeSet;
    const { msg, source: peer } = ctx;
    let remaining = rest;
    const restored = ctx.restoredRoutes;
    if (restored !== undefined && restored.length > 0) {
      // prepend() puts them above the remaining Route lines, which keeps the route order.
      w.prepend('Route', restored.map((r) => `<${r.uriText}>`).join(', '));
      remaining = [...restored, ...rest];
    }
    // The outside may only ever reach upstream targets: never an address it names itself.
    let t: Pick<Destination, 'transport' | 'address' | 'port' | 'family'> | undefined = ctx.forcedTarget;
    if (t === undefined) {
      const requestUri = ctx.requestUri ?? msg.requestUri;
      let target: Target | undefined;
      const next = remaining[0];
      if (next !== undefined) target = this.upstreams.findUri(next.uri);
      if (target === undefined && !this.identity.isOwnUri(requestUri)) target = this.upstreams.findUri(requestUri);
      target ??= this.upstreams.choose(msg.callId);
      if (target === undefined) {
        this.options.pipeline.requestNotSent(ctx);
        this.answers.answer(msg, peer, { code: 503, reason: 'Service Unavailable' }, 'no-upstream', 'none');
        return;
      }
      t = target.spec;
    }
    const out = this.transports.pick(t.transport, t.family);
    if (out === undefined) {
      this.options.pipeline.requestNotSent(ctx);
      return this.stats.drop('no-listener');
    }
    const stamped = stampedClientVia(msg, peer, true);
    if (stamped !== undefined) w.replace(msg.viaAt, stamped);
    w.prepend('Via', ownVia(out, t.transport, ctx.branch, ctx.loopKey, peer) + ctx.viaParams);
    w.replace(msg.maxForwardsAt, String(msg.maxForwards! - 1));
    const arrived = this.transports.listeners[peer.listener]!;
    if (ctx.recordRoutes) recordRoute(w, this.tokens, peer, arrived, out, true, undefined);
    if (msg.method === 'REGISTER') w.prepend('Path', `<sip:${this.tokens.encode(peer)}@${hostPort(out)};lr>`);
    if (t.transport !== 'udp') w.ensureContentLength();
    this.transports.send(
      { transport: t.transport, address: t.address, port: t.port, family: t.family, listener: out.index, connId: 0 },
      w.toBuffer(),
    );
    this.stats.forwarded(ctx);
  };

  private readonly fromInside = (ctx: MessageContext): Promise<void> | undefined => {
    if (this.answers.stopped(ctx)) return undefined;
    const msg = ctx.msg;
    this.stats.received(msg);
    const pre = this.precheck(ctx, msg.callId);
    if (pre === undefined) return undefined;
    const w = new MessageWriter(msg);
    ctx.writer = w;
    const popped = popOwnRoutes(msg, w, this.identity.isOwnUri, this.tokens, true);
    if (popped.badToken) this.stats.count(this.stats.dropped, 'bad-flow-token');
    if (popped.flow !== undefined) return this.forwardFromInside(ctx, w, pre.id, pre.loop, popped.flow);
    const dest = uriDestination(popped.remaining[0]?.uri ?? msg.requestUri);
    if (dest === undefined) {
      this.answers.answer(msg, ctx.source, { code: 416, reason: 'Unsupported URI Scheme' }, 'uri-scheme', 'none');
      return undefined;
    }
    if (isIP(dest.address) !== 0) return this.forwardFromInside(ctx, w, pre.id, pre.loop, dest);
    return lookup(dest.address).then(
      (r) =>
        this.forwardFromInside(ctx, w, pre.id, pre.loop, {
          ...dest,
          address: r.address,
          family: r.family === 6 ? 6 : 4,
        }),
      () => this.answers.answer(msg, ctx.source, { code: 503, reason: 'Service Unavailable' }, 'no-route', 'none'),
    );
  };

  private forwardFromInside(
    ctx: MessageContext,
    w: MessageWriter,
    id: string,
    loop: string,
    dest: Destination,
  ): Promise<void> | undefined {
    const { msg, source: peer } = ctx;
    const out = this.transports.pick(dest.transport, dest.family, dest.listener);
    if (out === undefined) return this.stats.drop('no-listener');
    const stamped = stampedClientVia(msg, peer, false);
    if (stamped !== undefined) w.replace(msg.viaAt, stamped);
    ctx.topVia = stamped ?? msg.headerValueAt(msg.viaAt).trim();
    ctx.branch = this.signer.sign(id, responseRoute(msg.topVia, peer, false));
    ctx.destination = { ...dest, listener: out.index };
    ctx.out = out;
    ctx.recordRoutes = createsDialog(msg);
    ctx.loopKey = loop;
    // A request between two hops of the inside crosses no border: no hook edits it.
    if (this.isInsideDestination(dest.transport, dest.address, dest.port)) return this.sendFromInside(ctx);
    const p = runHooks(this.options.pipeline.stages.onRequestToOutside, ctx);
    return p === undefined ? this.sendFromInside(ctx) : p.then(() => this.sendFromInside(ctx));
  }

  private readonly sendFromInside = (ctx: MessageContext): undefined => {
    if (this.answers.stopped(ctx)) return;
    const w = ctx.writer!;
    const { msg, source: peer } = ctx;
    const dest = ctx.destination!;
    const out = ctx.out!;
    w.prepend('Via', ownVia(out, dest.transport, ctx.branch, ctx.loopKey, peer) + ctx.viaParams);
    w.replace(msg.maxForwardsAt, String(msg.maxForwards! - 1));
    if (ctx.recordRoutes) {
      const arrived = this.transports.listeners[peer.listener]!;
      recordRoute(w, this.tokens, dest, out, arrived, false, ctx.hiddenRecordRoute);
    }
    if (dest.transport !== 'udp') w.ensureContentLength();
    this.transports.send(dest, w.toBuffer());
    this.stats.forwarded(ctx);
  };

  // ---- responses -----------------------------------------------------------------------

  private response(ctx: MessageContext): Promise<void> | undefined {
    const stages = this.options.pipeline.stages;
    const p = runHooks(ctx.inside ? stages.onResponseFromInside : stages.onResponseFromOutside, ctx);
    return p === undefined ? this.routeResponse(ctx) : p.then(() => this.routeResponse(ctx));
  }

  private readonly routeResponse = (ctx: MessageContext): Promise<void> | undefined => {
    if (this.answers.stopped(ctx)) return undefined;
    const { msg, source: peer, inside } = ctx;
    this.stats.received(msg);
    const top = msg.topVia;
    const branch = top.branch;
    if (branch === undefined || !branch.startsWith(BRANCH_PREFIX)) return this.stats.drop('not-our-via');
    if (branch.startsWith(PING_PREFIX)) {
      // Only the pinged target answers pings: the outside cannot fake an upstream's health.
      if (inside) this.onPingResponse?.(branch, msg, peer);
      else this.stats.count(this.stats.dropped, 'forged-ping-response');
      return undefined;
    }
    // A hook that unfolded the inside's Vias from sipwarden's (topology hiding) names the next one.
    const next = ctx.nextVia ?? msg.secondVia;
    if (next === undefined) return this.stats.drop('no-next-via');
    const dest = viaDestination(next, top);
    if (dest === undefined) return this.stats.drop('bad-via');
    // Only a branch sipwarden signed, for exactly this route, is routed: no response goes to
    // an address, port or connection that its sender chose.
    if (!this.signer.verify(branch, routeOf(top, dest))) {
      this.log.debug({ event: 'forged-branch', source: peer.address, port: peer.port }, 'response not routed');
      return this.stats.drop('forged-branch');
    }
    // A response from the outside goes to the inside only: a forged Via cannot make
    // sipwarden reflect traffic to a third party.
    const destInside = this.isInsideDestination(dest.transport, dest.address, dest.port);
    if (!inside && !destInside) return this.stats.drop('response-to-outside');
    const w = new MessageWriter(msg);
    removeOwnVia(msg, w, ctx.unfoldedVias);
    ctx.writer = w;
    ctx.destination = dest;
    ctx.branch = branch;
    ctx.destinationInside = destInside;
    const stages = this.options.pipeline.stages;
    // A response between two hops of the inside crosses no border: no hook edits it.
    const hooks = !inside ? stages.onResponseToInside : destInside ? NO_HOOKS : stages.onResponseToOutside;
    const p = runHooks(hooks, ctx);
    return p === undefined ? this.sendResponse(ctx) : p.then(() => this.sendResponse(ctx));
  };

  private readonly sendResponse = (ctx: MessageContext): undefined => {
    if (this.answers.stopped(ctx)) return;
    const w = ctx.writer!;
    const destInside = ctx.destinationInside;
    const dest = ctx.destination!;
    if (dest.transport !== 'udp') w.ensureContentLength();
    // Towards the outside over TCP/TLS, only the connection the request came on: sipwarden
    // never opens a connection to where a phone's Via points.
    const sent = this.transports.send(dest, w.toBuffer(), !destInside);
    this.stats.forwarded(ctx);
    if (!sent) this.stats.drop('flow-gone');
  };
}
