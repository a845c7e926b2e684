/**
 * sipwarden's Via and what it reads back from Vias: the client's Via stamped with where the
 * request really came from (RFC 3261 18.2.1, RFC 3581), sipwarden's own Via with its flow and
 * loop parameters, where a response goes (RFC 3261 18.2.2) and the route its branch MAC covers.
 */
import { isIP } from 'node:net';
import { type Destination, hostPort, type ListenerInfo, type Peer, type TransportName } from '../net/peer.js';
import type { SipMessage } from '../sip/message.js';
import { firstElementEnd } from '../sip/split.js';
import { hostAddress, type SipUri } from '../sip/uri.js';
import type { Via } from '../sip/via.js';
import type { MessageWriter } from '../sip/writer.js';
import { BRANCH_PREFIX } from './branch.js';

/**
 * RFC 3261 18.2.1 and RFC 3581: tell the next hops where the request really came from. The
 * first Via line with received/rport set, or undefined when it needs no change. A client's
 * own `received` or `rport` value is never kept: it would choose where the answer goes.
 * `forceRport` (every request from the outside) stamps rport even when the client did not
 * ask for it, as Kamailio's force_rport() does at an edge.
 */
export function stampedClientVia(msg: SipMessage, peer: Peer, forceRport: boolean): string | undefined {
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

/** sipwarden's own Via: its branch, the loop key and the flow the response must take back. */
export function ownVia(out: ListenerInfo, transport: TransportName, branch: string, loop: string, from: Peer): string {
  return `SIP/2.0/${transport.toUpperCase()} ${hostPort(out)};branch=${branch};${LOOP_PARAM}=${loop};sw=${flowParam(from)}`;
}

/** `sw` Via parameter: the inbound listener and connection, so the response takes the same flow. */
export function flowParam(p: Peer): string {
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
export function viaDestination(next: Via, ours: Via): Destination | undefined {
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
export function uriDestination(uri: SipUri): Destination | undefined {
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
export const LOOP_PARAM = 'lp';

export function isOwnLoopVia(v: Via, loop: string): boolean {
  return v.branch?.startsWith(BRANCH_PREFIX) === true && v.params.get(LOOP_PARAM) === loop;
}

/**
 * The route a response to this request must take, as the response path will read it back:
 * the `sw` flow, the Via's transport, and the address and port received/rport will give (the
 * client's Via as stamped: the source address, and its port when rport is set or forced).
 */
export function responseRoute(via: Via, peer: Peer, forceRport: boolean): string {
  const transport = via.transport.toLowerCase();
  const port = forceRport || via.params.has('rport') ? peer.port : (via.port ?? (transport === 'tls' ? 5061 : 5060));
  return `${flowParam(peer)}|${transport}|${peer.address}|${port}`;
}

/** The same route, read from a response: sipwarden's Via and where the next Via sends it. */
export function routeOf(ours: Via, dest: Destination): string {
  return `${ours.params.get('sw') ?? ''}|${dest.transport}|${dest.address}|${dest.port}`;
}

/**
 * Takes sipwarden's own Via off a response, or replaces it with the inside's Vias a hook
 * unfolded from it (topology hiding).
 */
export function removeOwnVia(msg: SipMessage, w: MessageWriter, unfolded: string | undefined): void {
  if (unfolded === undefined) {
    w.removeFirstElement(msg.viaAt);
    return;
  }
  const line = msg.headerValueAt(msg.viaAt);
  const cut = firstElementEnd(line);
  w.replace(msg.viaAt, cut >= line.length ? unfolded : `${unfolded}, ${line.slice(cut + 1).trim()}`);
}
