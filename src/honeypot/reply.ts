import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';

/** A message body and its Content-Type. */
export interface Body {
  readonly type: string;
  readonly text: string;
}

const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * A response to `req` as a UAS writes it (RFC 3261 8.2.6): Via, From, To, Call-ID and CSeq
 * copied byte for byte, Record-Route too for a dialog-creating answer (12.1.1), `toTag`
 * added to a To without one. Extra header lines have line breaks turned into spaces, since
 * some echo request text. Nothing but the request's own text and `extra` goes in.
 */
export function honeypotReply(
  req: SipMessage,
  status: number,
  reason: string,
  toTag: string,
  extra: readonly string[],
  body?: Body,
): Buffer {
  const parts: Buffer[] = [Buffer.from(`SIP/2.0 ${status} ${reason}\r\n`, 'latin1')];
  const src = req.buf;
  const copyRecordRoute = status > 100 && status < 300 && req.method !== 'REGISTER';
  const n = req.headerCount;
  for (let k = 0; k < n; k++) {
    const id = req.headerIdAt(k);
    const copy =
      id === H.Via ||
      id === H.From ||
      id === H.To ||
      id === H.CallId ||
      id === H.CSeq ||
      (copyRecordRoute && id === H.RecordRoute);
    if (!copy) continue;
    const start = req.headerStartAt(k);
    const lineEnd = req.headerEndAt(k);
    if (id === H.To && status > 100 && !/;\s*tag\s*=/i.test(req.headerValueAt(k))) {
      const valueEnd = req.valueEndAt(k);
      parts.push(
        src.subarray(start, valueEnd),
        Buffer.from(`;tag=${toTag}`, 'latin1'),
        src.subarray(valueEnd, lineEnd),
      );
    } else {
      parts.push(src.subarray(start, lineEnd));
    }
    // The last header line of a message may end without CRLF in the buffer's view.
    if (lineEnd === start || src[lineEnd - 1] !== 0x0a) parts.push(CRLF);
  }
  for (const h of extra) parts.push(Buffer.from(`${h.replace(/[\r\n]+/g, ' ')}\r\n`, 'utf8'));
  if (body === undefined) {
    parts.push(Buffer.from('Content-Length: 0\r\n\r\n', 'latin1'));
  } else {
    const bytes = Buffer.from(body.text, 'utf8');
    parts.push(Buffer.from(`Content-Type: ${body.type}\r\nContent-Length: ${bytes.length}\r\n\r\n`, 'latin1'), bytes);
  }
  return Buffer.concat(parts);
}
