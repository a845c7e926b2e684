/**
 * What identifies a request to a stateless proxy: its transaction id (signed into sipwarden's
 * branch), its loop key (RFC 3261 16.3 step 4), and the checks routing makes before
 * forwarding (Max-Forwards, Proxy-Require).
 */

import type { ReplySpec } from '../core/verdict.js';
import { hash53Parts } from '../net/hash.js';
import type { Peer } from '../net/peer.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { isOwnLoopVia } from './via.js';

/**
 * Stateless transaction id (RFC 3261 16.11): with a magic-cookie branch, a hash of the
 * received top branch (with the sending address and CSeq number, so one client cannot make
 * its request collide with another's). A hop-by-hop CANCEL and the ACK of
 * a non-2xx carry the INVITE's top branch, so they get the INVITE's branch even when the
 * previous hop is a proxy whose INVITE carries more Vias than its CANCEL. RFC 2543 clients'
 * branches are not unique: their top Via, From tag, Request-URI and Call-ID stand in.
 */
export function transactionId(seed: number, msg: SipMessage, peer: Peer): string {
  const top = msg.topVia;
  const b = top.branch;
  const cookie = b?.startsWith('z9hG4bK') === true;
  const h = hash53Parts(
    seed,
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
export function loopKey(seed: number, msg: SipMessage, insideCallId: string): string {
  const bottom = hasSeveralVias(msg) ? msg.vias[msg.vias.length - 1]! : msg.topVia;
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
    seed ^ 0x6c6f6f70,
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

function hasSeveralVias(msg: SipMessage): boolean {
  return msg.findHeaderId(H.Via, msg.viaAt + 1) !== -1 || msg.headerValueAt(msg.viaAt).indexOf(',') !== -1;
}

/** Loop detection (RFC 3261 16.3 step 4): the request already carries a Via of sipwarden's with this loop key. */
export function hasOwnVia(msg: SipMessage, loop: string): boolean {
  if (isOwnLoopVia(msg.topVia, loop)) return true;
  // Most requests from phones carry one Via: decode the others only when there are some.
  if (!hasSeveralVias(msg)) return false;
  for (const v of msg.vias) if (isOwnLoopVia(v, loop)) return true;
  return false;
}

/** `Unsupported` for a 420: the option tags, bounded (the request must not choose the answer's size). */
export function unsupportedHeader(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tags) {
    const tag = t.trim();
    if (out.length === 8) break;
    if (tag.length > 0 && tag.length <= 32 && /^[A-Za-z0-9.!%*_+`'~-]+$/.test(tag)) out.push(tag);
  }
  return out.length === 0 ? [] : [`Unsupported: ${out.join(', ')}`];
}

/** What a request that passed the checks is known by: its transaction id (signed into the branch) and loop key. */
export interface Prechecked {
  id: string;
  loop: string;
}

/**
 * The checks routing makes before forwarding: Max-Forwards (483), Proxy-Require (420) and loops
 * (482, RFC 3261 16.3 steps 3 to 5). `insideCallId`: the Call-ID as the inside knows it.
 */
export function precheck(
  seed: number,
  msg: SipMessage,
  peer: Peer,
  insideCallId: string,
): Prechecked | { refuse: ReplySpec; why: string } {
  if (msg.maxForwards === 0) return { refuse: { code: 483, reason: 'Too Many Hops' }, why: 'max-forwards' };
  // RFC 3261 16.3 step 5: sipwarden supports no extension a proxy must understand.
  if (msg.method !== 'ACK' && msg.method !== 'CANCEL' && msg.findHeaderId(H.ProxyRequire) !== -1) {
    const tags = msg.headerValues('Proxy-Require');
    if (tags.length > 0) {
      return { refuse: { code: 420, reason: 'Bad Extension', headers: unsupportedHeader(tags) }, why: 'proxy-require' };
    }
  }
  const loop = loopKey(seed, msg, insideCallId);
  if (hasOwnVia(msg, loop)) return { refuse: { code: 482, reason: 'Loop Detected' }, why: 'loop' };
  return { id: transactionId(seed, msg, peer), loop };
}
