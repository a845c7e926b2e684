/**
 * sipwarden's place in the route set: its Record-Route entries (one, or two when the request
 * changes transport or address family, RFC 5658) carrying the outside flow's token, and the
 * Route entries naming it that come back in in-dialog requests.
 */
import {
  type Destination,
  hostPort,
  type ListenerInfo,
  listenerRoute,
  type Peer,
  transportParam,
} from '../net/peer.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import type { NameAddr } from '../sip/name-addr.js';
import { splitList } from '../sip/split.js';
import type { SipUri } from '../sip/uri.js';
import type { MessageWriter } from '../sip/writer.js';
import type { FlowTokens } from './flow-token.js';

/** Methods whose initial requests create dialogs: sipwarden Record-Routes them. */
const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

export function createsDialog(msg: SipMessage): boolean {
  return DIALOG_METHODS.has(msg.method) && msg.to.tag === undefined;
}

export interface PoppedRoutes {
  /** sipwarden's own entries taken off the top (one, or two after a double Record-Route). */
  own: NameAddr[];
  /** The entries after them. */
  remaining: NameAddr[];
  /** The flow named by the first own entry's token (requests from the inside only). */
  flow: Destination | undefined;
  /** True when an own entry's token did not decode. */
  badToken: boolean;
}

/**
 * Removes the Route entries that name sipwarden from the top of the route set and returns them
 * with the rest and, when `wantFlow`, the flow token they carried.
 */
export function popOwnRoutes(
  msg: SipMessage,
  w: MessageWriter,
  isOwnUri: (uri: SipUri) => boolean,
  tokens: FlowTokens,
  wantFlow: boolean,
): PoppedRoutes {
  const routes = msg.routes;
  let popped = 0;
  let flow: Destination | undefined;
  let badToken = false;
  while (popped < routes.length && popped < 2 && isOwnUri(routes[popped]!.uri)) {
    const user = routes[popped]!.uri.user;
    popped++;
    if (wantFlow && flow === undefined && user !== undefined) {
      flow = tokens.decode(user);
      if (flow === undefined) badToken = true;
    }
  }
  if (popped === 0) return { own: NONE, remaining: routes, flow, badToken };
  removeRouteEntries(msg, w, popped);
  return { own: routes.slice(0, popped), remaining: routes.slice(popped), flow, badToken };
}

const NONE: NameAddr[] = [];

/** Removes the first `n` Route entries, whether they share a header line or not. */
function removeRouteEntries(msg: SipMessage, w: MessageWriter, n: number): void {
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

/**
 * Record-Route so in-dialog requests come back through sipwarden: one entry when the same
 * listener faces both sides, two when they differ (transport or address family change,
 * RFC 5658). The entry facing the outside carries the outside flow's token; the top entry
 * faces the next hop. `hidden` (topology hiding, towards the outside): only the outside entry
 * is written, with these parameters; the hook that hid the rest sealed them into it.
 */
export function recordRoute(
  w: MessageWriter,
  tokens: FlowTokens,
  outsideFlow: Peer,
  outside: ListenerInfo,
  inside: ListenerInfo,
  towardsInside: boolean,
  hidden: string | undefined,
): void {
  const outer = `<sip:${tokens.encode(outsideFlow)}@${hostPort(outside)}${transportParam(outside)};lr`;
  if (hidden !== undefined) {
    w.prepend('Record-Route', `${outer}${hidden}>`);
    return;
  }
  if (outside.index === inside.index) {
    w.prepend('Record-Route', `${outer}>`);
    return;
  }
  const inner = listenerRoute(inside);
  // prepend() keeps call order: the first call ends up on top.
  w.prepend('Record-Route', towardsInside ? inner : `${outer}>`);
  w.prepend('Record-Route', towardsInside ? `${outer}>` : inner);
}
