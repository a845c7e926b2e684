import { hash53 } from '../net/hash.js';
import { H } from './header-names.js';
import type { SipMessage } from './message.js';

/**
 * Builds a response to `req` without any state (RFC 3261 8.2.6, 16.7): every Via, From,
 * To (with a To tag derived from the request, so retransmissions get the same one),
 * Call-ID and CSeq copied byte for byte. Nothing names sipwarden. Works on a request that
 * failed validation too, as long as its headers were indexed.
 */
export function buildReply(
  req: SipMessage,
  status: number,
  reason: string,
  extraHeaders: readonly string[] = [],
): Buffer {
  const parts: Buffer[] = [Buffer.from(`SIP/2.0 ${status} ${reason}\r\n`, 'latin1')];
  const src = req.buf;
  const n = req.headerCount;
  for (let k = 0; k < n; k++) {
    const id = req.headerIdAt(k);
    if (id !== H.Via && id !== H.From && id !== H.To && id !== H.CallId && id !== H.CSeq) continue;
    const start = req.headerStartAt(k);
    const lineEnd = req.headerEndAt(k);
    if (id === H.To && status > 100 && !hasTag(req, k)) {
      const valueEnd = req.valueEndAt(k);
      const tag = localToTag(req.headerValueAt(k), callIdOf(req));
      parts.push(src.subarray(start, valueEnd), Buffer.from(`;tag=${tag}`, 'latin1'), src.subarray(valueEnd, lineEnd));
    } else {
      parts.push(src.subarray(start, lineEnd));
    }
  }
  // Extra headers may echo request text: never let a line break through.
  for (const h of extraHeaders) parts.push(Buffer.from(`${h.replace(/[\r\n]+/g, ' ')}\r\n`, 'utf8'));
  parts.push(CONTENT_LENGTH_ZERO);
  return Buffer.concat(parts);
}

/**
 * The To tag sipwarden gives its own replies: derived from the request's To value (without a
 * tag) and Call-ID, so a retransmission gets the same one and the ACK of a non-2xx reply can be
 * recognised as being for sipwarden (the auth guard absorbs those of its challenges).
 */
export function localToTag(to: string, callId: string): string {
  return hash53(`${to}|${callId}`, 0x5a17).toString(36);
}

const CONTENT_LENGTH_ZERO = Buffer.from('Content-Length: 0\r\n\r\n', 'latin1');

function hasTag(req: SipMessage, k: number): boolean {
  // A malformed To cannot be decoded; look for the parameter textually then.
  return /;\s*tag\s*=/i.test(req.headerValueAt(k));
}

function callIdOf(req: SipMessage): string {
  return req.callIdAt === -1 ? '' : req.headerValueAt(req.callIdAt);
}

/** True if the request carries every header a reply must copy. */
export function canReplyTo(req: SipMessage): boolean {
  return (
    req.isRequest &&
    req.viaAt !== -1 &&
    req.fromAt !== -1 &&
    req.toAt !== -1 &&
    req.callIdAt !== -1 &&
    req.cseqAt !== -1
  );
}
