import { COLON, CR, HT, LF, SP, TOKEN } from './chars.js';
import { SipParseError } from './errors.js';
import { H, identifyHeader } from './header-names.js';
import { DEFAULT_LIMITS, type ParseLimits } from './limits.js';
import { SipMessage, Slot } from './message.js';
import { validateMessage } from './validate.js';

export interface ParseOptions {
  limits?: ParseLimits;
  /**
   * Stream transports (TCP, TLS): Content-Length is mandatory (RFC 3261 18.3). On UDP a
   * missing Content-Length means the body runs to the end of the datagram.
   */
  requireContentLength?: boolean;
  /**
   * `essential` (default): framing, start line, header syntax, and the headers every
   * proxy reads (Request-URI, top Via, From, To, Call-ID, CSeq, Max-Forwards,
   * Content-Length). `full`: additionally decodes every header sipwarden knows (all Via
   * entries, Contact, Route, Record-Route, Path, Expires, Date, auth headers).
   */
  validate?: 'essential' | 'full';
}

const NO_OPTIONS: ParseOptions = {};
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Parses one SIP message from the start of `buf`. Leading CRLFs are skipped (RFC 3261
 * 7.5); octets after the message (by Content-Length) are ignored, as a UDP datagram may
 * carry them (RFC 4475 3.1.1.8). Throws SipParseError, and nothing else, on bad input.
 */
export function parseMessage(buf: Buffer, options: ParseOptions = NO_OPTIONS): SipMessage {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const len = buf.length;
  let p = 0;
  while (p + 1 < len && buf[p] === CR && buf[p + 1] === LF) p += 2;
  if (p >= len) throw new SipParseError('empty', 'Empty message');
  const blank = buf.indexOf(CRLFCRLF, p);
  if (blank === -1) {
    if (len - p > limits.maxMessageBytes) throw tooLarge();
    throw new SipParseError('incomplete', 'Incomplete headers');
  }
  if (blank + 4 - p > limits.maxMessageBytes) throw tooLarge();

  const msg = new SipMessage(buf);
  msg.start = p;
  msg.headersEnd = blank + 2;
  msg.bodyStart = blank + 4;
  msg.headersStart = parseStartLine(buf, p, msg) + 2;
  indexHeaders(buf, msg, limits);

  let end: number;
  if (msg.contentLengthAt !== -1) {
    const o = msg.contentLengthAt * Slot.Size;
    const cl = readContentLength(buf, msg.index[o + Slot.ValueStart]!, msg.index[o + Slot.ValueEnd]!);
    if (cl > limits.maxMessageBytes) throw tooLarge();
    msg.contentLength = cl;
    end = msg.bodyStart + cl;
    if (end > len) throw new SipParseError('body-too-short', 'Content-Length exceeds message', 'Content-Length');
  } else if (options.requireContentLength === true) {
    throw new SipParseError('missing-header', 'Missing Content-Length', 'Content-Length');
  } else {
    end = len;
  }
  if (end - p > limits.maxMessageBytes) throw tooLarge();
  msg.end = end;

  checkEssentials(msg);
  if (options.validate === 'full') validateMessage(msg);
  return msg;
}

function tooLarge(): SipParseError {
  return new SipParseError('too-large', 'Message Too Large');
}

/** Returns the offset of the start line's CR. */
function parseStartLine(buf: Buffer, p: number, msg: SipMessage): number {
  let sp1 = -1;
  let sp2 = -1;
  let spaces = 0;
  let i = p;
  for (;;) {
    const c = buf[i]!;
    if (c === SP) {
      if (spaces === 0) sp1 = i;
      else if (spaces === 1) sp2 = i;
      spaces++;
    } else if (c === CR) {
      break;
    } else if (c < 0x20 || c === 0x7f) {
      throw new SipParseError('bad-start-line', 'Bad start line');
    }
    i++;
  }
  const eol = i;
  if (buf[eol + 1] !== LF) throw new SipParseError('bad-start-line', 'Bad start line');

  // Status-Line: SIP-Version SP Status-Code SP Reason-Phrase
  if (eol - p >= 4 && buf[p] === 0x53 && buf[p + 1] === 0x49 && buf[p + 2] === 0x50 && buf[p + 3] === 0x2f) {
    if (sp1 === -1) throw new SipParseError('bad-start-line', 'Bad start line');
    if (!isSip20(buf, p, sp1)) throw new SipParseError('bad-version', 'Version Not Supported');
    const codeEnd = sp2 === -1 ? eol : sp2;
    if (codeEnd - sp1 !== 4) throw new SipParseError('bad-status', 'Bad status code');
    let status = 0;
    for (let k = sp1 + 1; k < codeEnd; k++) {
      const d = buf[k]! - 0x30;
      if (d < 0 || d > 9) throw new SipParseError('bad-status', 'Bad status code');
      status = status * 10 + d;
    }
    if (status < 100 || status > 699) throw new SipParseError('bad-status', 'Bad status code');
    msg.isRequest = false;
    msg.status = status;
    msg.reason = sp2 === -1 ? '' : buf.toString('utf8', sp2 + 1, eol);
    return eol;
  }

  // Request-Line: Method SP Request-URI SP SIP-Version, single spaces only (RFC 4475 3.1.2.9).
  if (spaces !== 2 || sp1 === p || sp2 === sp1 + 1 || sp2 === eol - 1) {
    throw new SipParseError('bad-start-line', 'Bad request line');
  }
  for (let k = p; k < sp1; k++) {
    const c = buf[k]!;
    if (c >= 128 || TOKEN[c] === 0) throw new SipParseError('bad-method', 'Bad method');
  }
  if (!isSip20(buf, sp2 + 1, eol)) {
    const v = buf.toString('latin1', sp2 + 1, eol);
    throw v.startsWith('SIP/')
      ? new SipParseError('bad-version', 'Version Not Supported')
      : new SipParseError('bad-start-line', 'Bad request line');
  }
  msg.isRequest = true;
  msg.method = buf.toString('latin1', p, sp1);
  msg.requestUriText = buf.toString('latin1', sp1 + 1, sp2);
  return eol;
}

/** "SIP/2.0" (the protocol name is case-insensitive, RFC 3261 7.1). */
function isSip20(buf: Buffer, a: number, b: number): boolean {
  return (
    b - a === 7 &&
    (buf[a]! | 0x20) === 0x73 &&
    (buf[a + 1]! | 0x20) === 0x69 &&
    (buf[a + 2]! | 0x20) === 0x70 &&
    buf[a + 3] === 0x2f &&
    buf[a + 4] === 0x32 &&
    buf[a + 5] === 0x2e &&
    buf[a + 6] === 0x30
  );
}

/**
 * Records the boundaries of every header between headersStart and headersEnd. Header
 * names must be tokens; values may hold UTF-8 and HT but no other control character, and
 * CR only as part of CRLF (a folded line continues with SP or HT).
 */
function indexHeaders(buf: Buffer, msg: SipMessage, limits: ParseLimits): void {
  const index = msg.index;
  const stop = msg.headersEnd;
  let i = msg.headersStart;
  let count = 0;
  while (i < stop) {
    const ns = i;
    let c = buf[i]!;
    while (c < 128 && TOKEN[c] === 1) c = buf[++i]!;
    const ne = i;
    while (c === SP || c === HT) c = buf[++i]!;
    if (ne === ns || c !== COLON) throw new SipParseError('bad-header-name', 'Bad header');
    c = buf[++i]!;
    // Leading whitespace, including folds before the first character of the value.
    for (;;) {
      if (c === SP || c === HT) c = buf[++i]!;
      else if (c === CR && buf[i + 1] === LF && (buf[i + 2] === SP || buf[i + 2] === HT)) {
        i += 3;
        c = buf[i]!;
      } else break;
    }
    const vs = i;
    let folded = 0;
    let quoted = false;
    for (;;) {
      if (c >= 0x20) {
        if (c === 0x22) quoted = !quoted;
        else if (c === 0x5c && quoted) {
          // quoted-pair: any octet but CR and LF may be escaped inside a quoted string.
          const e = buf[i + 1]!;
          if (e === CR || e === LF) throw badValue(buf, ns, ne);
          i++;
        } else if (c === 0x7f) throw badValue(buf, ns, ne);
      } else if (c === CR) {
        if (buf[i + 1] !== LF) throw badValue(buf, ns, ne);
        const next = buf[i + 2];
        if (next !== SP && next !== HT) break;
        folded = 1;
        i += 2;
      } else if (c !== HT) {
        throw badValue(buf, ns, ne);
      }
      c = buf[++i]!;
    }
    let ve = i;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    if (i + 2 - ns > limits.maxHeaderBytes) throw new SipParseError('header-too-long', 'Header Too Long');
    if (count === limits.maxHeaders) throw new SipParseError('too-many-headers', 'Too Many Headers');
    const id = identifyHeader(buf, ns, ne - ns);
    index.push(id, ns, ne, vs, ve, i + 2, folded);
    switch (id) {
      case H.Via:
        if (msg.viaAt === -1) msg.viaAt = count;
        break;
      case H.From:
        msg.fromAt = once(msg.fromAt, count, 'From');
        break;
      case H.To:
        msg.toAt = once(msg.toAt, count, 'To');
        break;
      case H.CallId:
        msg.callIdAt = once(msg.callIdAt, count, 'Call-ID');
        break;
      case H.CSeq:
        msg.cseqAt = once(msg.cseqAt, count, 'CSeq');
        break;
      case H.MaxForwards:
        msg.maxForwardsAt = once(msg.maxForwardsAt, count, 'Max-Forwards');
        break;
      case H.ContentLength:
        // Two Content-Length headers are never resolved by picking one (request smuggling).
        if (msg.contentLengthAt !== -1) {
          throw new SipParseError('bad-content-length', 'Multiple Content-Length', 'Content-Length');
        }
        msg.contentLengthAt = count;
        break;
    }
    count++;
    i += 2;
  }
}

function once(previous: number, at: number, name: string): number {
  if (previous !== -1) throw new SipParseError('duplicate-header', `Multiple ${name}`, name);
  return at;
}

function badValue(buf: Buffer, ns: number, ne: number): SipParseError {
  const id = identifyHeader(buf, ns, ne - ns);
  const name = id === H.Other ? 'header' : buf.toString('latin1', ns, ne);
  return new SipParseError('bad-header', `Bad ${name} value`);
}

function readContentLength(buf: Buffer, a: number, b: number): number {
  if (a === b || b - a > 10) throw new SipParseError('bad-content-length', 'Bad Content-Length', 'Content-Length');
  let n = 0;
  for (let k = a; k < b; k++) {
    const d = buf[k]! - 0x30;
    if (d < 0 || d > 9) throw new SipParseError('bad-content-length', 'Bad Content-Length', 'Content-Length');
    n = n * 10 + d;
  }
  return n;
}

function checkEssentials(msg: SipMessage): void {
  if (msg.viaAt === -1) throw missing('Via');
  if (msg.fromAt === -1) throw missing('From');
  if (msg.toAt === -1) throw missing('To');
  if (msg.callIdAt === -1) throw missing('Call-ID');
  if (msg.cseqAt === -1) throw missing('CSeq');
  // Decoding validates: each accessor throws SipParseError on a malformed value.
  msg.topVia;
  msg.from;
  msg.to;
  msg.callId;
  const cseq = msg.cseq;
  msg.maxForwards;
  if (msg.isRequest) {
    if (msg.maxForwardsAt === -1) throw missing('Max-Forwards');
    if (cseq.method !== msg.method) throw new SipParseError('cseq-mismatch', 'CSeq method mismatch', 'CSeq');
    msg.requestUri;
  }
}

function missing(name: string): SipParseError {
  return new SipParseError('missing-header', `Missing ${name}`, name);
}
