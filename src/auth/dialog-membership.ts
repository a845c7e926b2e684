import type { Source } from '../core/verdict.js';
import type { Destination } from '../net/peer.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { firstElementEnd } from '../sip/split.js';
import type { SipUri } from '../sip/uri.js';
import type { TopologyHider } from '../topology/hider.js';
import type { DialogTable } from '../watch/dialogs.js';

/**
 * Whether a request from the outside with a To tag belongs to a dialog sipwarden saw
 * established, for the auth guard's in-dialog skip (the server hands `belongs` to the guard):
 *
 * 1. its top Route is sipwarden's own Record-Route entry for this very source
 *    (`routedForSource`), and
 * 2. its Call-ID and To tag name a dialog in the transaction watch's table: under the
 *    Call-ID the outside uses for a dialog the outside opened, under the inside's (the token
 *    opened, with topology hiding) for one the inside opened.
 */
export class DialogMembership {
  /** The topology hider in force (replaced on reload), or undefined. */
  topology: TopologyHider | undefined = undefined;

  constructor(
    /** Decodes a flow token of sipwarden's Record-Route (undefined: not a valid token). */
    private readonly decodeFlow: (token: string) => Destination | undefined,
    private readonly isOwnHost: (host: string, port: number | undefined) => boolean,
    private readonly dialogs: DialogTable,
  ) {}

  readonly belongs = (msg: SipMessage, source: Source, now: number): boolean => {
    const tag = msg.to.tag;
    if (tag === undefined || !routedForSource(msg, source, this.decodeFlow, this.isOwnHost)) return false;
    const callId = msg.callId;
    if (this.dialogs.has(callId, tag, now)) return true;
    const topo = this.topology;
    if (topo === undefined) return false;
    const inside = topo.insideCallId(callId);
    return inside !== callId && this.dialogs.has(inside, tag, now);
  };
}

/**
 * True when the top Route of a request from the outside is sipwarden's own Record-Route entry
 * of a dialog with this very source: it names sipwarden (`isOwnHost`) and its user part is a
 * flow token that verifies (HMAC, so nobody makes one up) and names the request's transport and
 * address, and for UDP its port. That is what a phone's in-dialog request carries after
 * sipwarden record-routed the dialog (RFC 3261 12.2.1.1, 16.6 step 4); a request from anyone
 * else, or one that never went through sipwarden, does not. A TCP/TLS phone may come back on a
 * new connection (another port), so only the address is compared for streams.
 */
export function routedForSource(
  msg: SipMessage,
  source: Source,
  decodeFlow: (token: string) => Destination | undefined,
  isOwnHost: (host: string, port: number | undefined) => boolean,
): boolean {
  const k = msg.findHeaderId(H.Route);
  if (k === -1) return false;
  const value = msg.headerValueAt(k);
  let end = firstElementEnd(value);
  while (end > 0 && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  let uri: SipUri;
  try {
    uri = parseNameAddr(value, 0, end, 'Route').uri;
  } catch {
    return false;
  }
  if ((uri.scheme !== 'sip' && uri.scheme !== 'sips') || uri.user === undefined) return false;
  const tls = uri.scheme === 'sips' || uri.params.get('transport')?.toLowerCase() === 'tls';
  if (!isOwnHost(uri.host, uri.port ?? (tls ? 5061 : 5060))) return false;
  const flow = decodeFlow(uri.user);
  if (flow === undefined) return false;
  if (flow.transport !== source.transport || flow.address !== source.address) return false;
  return source.transport !== 'udp' || flow.port === source.port;
}
