/**
 * Topology hiding as a module on the message hooks. Going out (inside -> outside) it folds the
 * inside's Vias into a parameter of sipwarden's own Via, seals the inside's Record-Route entries
 * into sipwarden's outside entry, and hides Contacts, Call-IDs, dialog references and identity
 * hosts; coming back it opens them again. What a token is and how values are sealed lives in
 * `hider.ts`; this file says when each step runs.
 */
import type { MessageContext } from '../core/context.js';
import type { DecisionSink } from '../core/events.js';
import type { Module } from '../core/module.js';
import type { EventLogger } from '../log/types.js';
import { hostPort, type ListenerInfo, listenerRoute, transportParam } from '../net/peer.js';
import { H } from '../sip/header-names.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { splitList } from '../sip/split.js';
import { parseUri } from '../sip/uri.js';
import { hideDialogRefs, restoreDialogRefs } from './dialog-refs.js';
import { type HideFailure, ROUTE_PARAM, type TopologyHider, VIA_PARAM } from './hider.js';
import { applyHygiene } from './hygiene.js';

export class TopologyModule implements Module {
  readonly name = 'topology';

  constructor(
    private readonly topo: TopologyHider,
    /** Where refused tokens are reported, as decisions on the event bus. */
    private readonly events: DecisionSink | undefined,
    private readonly log: EventLogger,
  ) {}

  /** The loop key and the watch use the Call-ID as the inside knows it. */
  onRequestFromOutside(ctx: MessageContext): void {
    ctx.insideCallId = this.topo.insideCallId(ctx.msg.callId);
  }

  onRequestFromInside(ctx: MessageContext): void {
    ctx.outsideCallId = this.topo.outsideCallId(ctx.msg.callId);
  }

  /**
   * Puts back what hiding sealed: the inside's route set (the `tr` parameter of sipwarden's own
   * Route entry), the PBX's Contact (now the Request-URI), the Call-ID, dialog references.
   */
  onRequestToInside(ctx: MessageContext): void {
    const { msg, routing } = ctx;
    const w = ctx.writer!;
    const topo = this.topo;
    for (const own of ctx.ownRoutes) {
      const sealed = own.uri.params.get(ROUTE_PARAM);
      if (sealed === undefined || sealed === null) continue;
      const entries = topo.openRoutes(sealed);
      if (entries === undefined) {
        this.refuseToken(ctx, 'forged-route');
        return;
      }
      const restored = entries.map((e) => parseNameAddr(e, 0, e.length, 'Route'));
      // Its first entry can be sipwarden's own inside-facing one (double Record-Route).
      while (restored.length > 0 && routing.isOwnUri(restored[0]!.uri)) restored.shift();
      ctx.restoredRoutes = restored;
      break;
    }
    const requestUri = msg.requestUri;
    if (routing.isOwnUri(requestUri)) {
      const original = topo.openContact(requestUri.user);
      if (original === 'forged-contact') {
        this.refuseToken(ctx, original);
        return;
      }
      if (original !== undefined) {
        w.setRequestUri(original);
        ctx.requestUri = parseUri(original, 0, original.length, 'request-uri', 'Request-URI');
      }
    }
    topo.callIdIn(msg, w, ctx.insideCallId);
    restoreDialogRefs(msg, w, topo, routing.isOwnUri);
    applyHygiene(msg, w, topo.inHygiene, { fromTrusted: false });
  }

  /** A request leaving for the outside: nothing of the inside goes with it. */
  onRequestToOutside(ctx: MessageContext): void {
    const { msg } = ctx;
    const w = ctx.writer!;
    const out = ctx.out!;
    const topo = this.topo;
    // The inside's Vias leave only as one sealed parameter of sipwarden's own.
    const token = topo.foldVias(msg, w, ctx.topVia);
    if (token === undefined) {
      this.tooLong(ctx);
      return;
    }
    ctx.viaParams += `;${VIA_PARAM}=${token}`;
    if (ctx.recordRoutes && !this.hideRecordRoute(ctx, out, ctx.routing.listener(ctx.source.listener)!)) {
      this.tooLong(ctx);
      return;
    }
    const own = { hostPort: hostPort(out), transportParam: transportParam(out) };
    if (!topo.hideContacts(msg, w, own)) {
      this.tooLong(ctx);
      return;
    }
    if (!topo.callIdOut(msg, w)) {
      this.tooLong(ctx);
      return;
    }
    // Replaces, Target-Dialog, Refer-To and sipfrag name dialogs and hosts of the inside too.
    const internal = this.internalHost(ctx);
    if (!hideDialogRefs(msg, w, topo, own, internal)) {
      this.tooLong(ctx);
      return;
    }
    topo.hideIdentityHosts(msg, w, own.hostPort, internal);
    applyHygiene(msg, w, topo.outHygiene, { fromTrusted: true });
  }

  /**
   * The outside sees one Record-Route entry, sipwarden's: the inside's entries (with sipwarden's
   * inside-facing one after a transport change) travel sealed in its `tr` parameter. False when too long.
   */
  private hideRecordRoute(ctx: MessageContext, outside: ListenerInfo, inside: ListenerInfo): boolean {
    const { msg } = ctx;
    const w = ctx.writer!;
    const sealed: string[] = [];
    if (outside.index !== inside.index) sealed.push(listenerRoute(inside));
    for (let k = msg.findHeaderId(H.RecordRoute); k !== -1; k = msg.findHeaderId(H.RecordRoute, k + 1)) {
      const value = msg.headerValueAt(k);
      for (const [a, b] of splitList(value)) sealed.push(value.slice(a, b));
      w.remove(k);
    }
    if (sealed.length === 0) {
      ctx.hiddenRecordRoute = '';
      return true;
    }
    const token = this.topo.sealRoutes(sealed);
    if (token === undefined) return false;
    ctx.hiddenRecordRoute = `;${ROUTE_PARAM}=${token}`;
    return true;
  }

  /** A response from the outside: the inside's Vias folded into sipwarden's come back unfolded. */
  onResponseFromOutside(ctx: MessageContext): void {
    const sealed = ctx.msg.topVia.params.get(VIA_PARAM);
    if (sealed === undefined || sealed === null) return;
    const u = this.topo.unfoldVias(sealed);
    if (typeof u === 'string') {
      this.refuseToken(ctx, u);
      return;
    }
    ctx.unfoldedVias = u.value;
    ctx.nextVia = u.next;
  }

  /** A response from the inside going out: Record-Route, Contact, Call-ID and banners hidden. */
  onResponseToOutside(ctx: MessageContext): void {
    const { msg, routing } = ctx;
    const w = ctx.writer!;
    const dest = ctx.destination!;
    const topo = this.topo;
    if (!topo.hideResponseRecordRoute(msg, w, routing.isOwnUri)) {
      this.tooLong(ctx);
      return;
    }
    const own = routing.listenerFor(dest);
    if (msg.cseq.method === 'REGISTER') {
      // A REGISTER's Contacts are the phone's own bindings; Path and Service-Route name the inside.
      w.removeAll('Path');
      w.removeAll('Service-Route');
    } else {
      if (own === undefined) {
        this.tooLong(ctx);
        return;
      }
      if (!topo.hideContacts(msg, w, { hostPort: hostPort(own), transportParam: transportParam(own) })) {
        this.tooLong(ctx);
        return;
      }
    }
    if (own !== undefined) topo.hideIdentityHosts(msg, w, hostPort(own), this.internalHost(ctx));
    if (!topo.callIdOut(msg, w)) {
      this.tooLong(ctx);
      return;
    }
    // An external honeypot's banner is the point of it: its answers keep their headers.
    if (!ctx.keepHeaders) applyHygiene(msg, w, topo.outHygiene, { fromTrusted: true });
  }

  /** A response from the outside going in: sealed Record-Route entries, Contacts and Call-ID restored. */
  onResponseToInside(ctx: MessageContext): void {
    const { msg, routing } = ctx;
    const w = ctx.writer!;
    const topo = this.topo;
    if (!topo.restoreResponseRecordRoute(msg, w, routing.isOwnUri) || !topo.restoreContacts(msg, w, routing.isOwnUri)) {
      this.refuseToken(ctx, 'forged-route');
      return;
    }
    topo.callIdIn(msg, w);
    applyHygiene(msg, w, topo.inHygiene, { fromTrusted: false });
  }

  /** A host of the inside (lower case, no brackets): a trusted address, an upstream target, or a configured internal host. */
  private internalHost(ctx: MessageContext): (host: string) => boolean {
    return (host) => ctx.routing.isInsideAddress(host) || this.topo.isInternalHost(host);
  }

  /** A message whose inside values are too long to seal is not sent out unhidden. */
  private tooLong(ctx: MessageContext): void {
    ctx.drop('topology-too-long');
    this.log.debug(
      { event: 'topology-too-long', method: ctx.msg.isRequest ? ctx.msg.method : undefined },
      'headers too long to hide',
    );
  }

  /**
   * A topology token that does not open: forged, modified, or sealed under a key no longer
   * accepted. Reported; a request (not an ACK) gets 481, as for an unknown dialog, within the
   * budget of answers to bad requests.
   */
  private refuseToken(ctx: MessageContext, failure: HideFailure): void {
    const msg = ctx.msg;
    const answers = msg.isRequest && msg.method !== 'ACK';
    this.events?.emit({
      time: ctx.time,
      source: ctx.source,
      guard: 'topology',
      rule: failure,
      action: answers ? 'reply' : 'drop',
      monitor: false,
      detail: '',
      method: msg.isRequest ? msg.method : undefined,
    });
    if (answers)
      ctx.reply({ code: 481, reason: 'Call/Transaction Does Not Exist' }, 'bad-request', `topology-${failure}`);
    else ctx.drop(`topology-${failure}`);
  }
}
