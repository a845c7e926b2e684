import { COLON, CR, HT, LF, SP, TOKEN, TOKEN_BYTE } from './chars.js';
import { SipParseError } from './errors.js';
import {
  CANONICAL_NAMES,
  H,
  identifyHeader,
  identifyHeaderWords,
  isKnownMethod,
  LIST_HEADERS,
  methodName,
} from './header-names.js';
import { DEFAULT_LIMITS, type ParseLimits } from './limits.js';
import { HeaderFlag, headerMeta, MAX_NAME_LENGTH, SipMessage, Slot } from './message.js';
import { splitList } from './split.js';
import { validateMessage } from './validate.js';

export interface ParseOptions {
  limits?: ParseLimits;
  /**
   * Stream transports (TCP, TLS): Content-Length is mandatory (RFC 3261 18.3). On UDP a
   * missing Content-Length means the body runs to the end of the datagram.
   */
  requireContentLength?: boolean;
  /**
   * `essential` (default): framing, start line, header syntax, and the headers a proxy
   * routes by (top Via, Call-ID, CSeq, Max-Forwards, Content-Length); From, To and the
   * Request-URI are decoded on first use. `full`: additionally decodes every header
   * sipwarden knows (From, To, Request-URI, all Via entries, Contact, Route, Record-Route,
   * Path, Expires, Date, auth headers).
   */
  validate?: 'essential' | 'full';
}

const NO_OPTIONS: ParseOptions = {};
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Header boundaries of the message being parsed, `Slot.Size` numbers per header. Reused
 * from one parse to the next; each message gets an exact-size copy (no growth slack).
 */
let scratch: number[] = smiArray(128 * Slot.Size);
/** Numbers of `scratch` filled so far, for the partial message of an error. */
let scratchUsed = 0;

/**
 * Entries of each known header (by id) in the message being indexed: list elements for list
 * headers (an upper bound: half a value's length, or its commas), lines for the others. See
 * `checkEntries`.
 */
const entryCount = new Int32Array(64);
/** 1 for the ids of list headers (LIST_HEADERS): their entries are separated by commas. */
const LIST_ID = (() => {
  const t = new Uint8Array(64);
  for (const id of LIST_HEADERS) t[id] = 1;
  return t;
})();

/** An error found in the start line but raised after indexing (see parseStartLine). */
const deferred: { error: SipParseError | undefined } = { error: undefined };

/**
 * The parser's own copy of the datagram being parsed, with a DataView for 32-bit reads
 * (see parseMessage). Grown on demand up to WORK_MAX; larger buffers are read in place.
 */
const work = { bytes: Buffer.allocUnsafeSlow(0), view: new DataView(new ArrayBuffer(0)) };
/** The largest UDP datagram. */
const WORK_MAX = 65535;

/** Octets to scan (`buf` or the parser's copy of it) and a DataView over them. */
function scanSource(buf: Buffer): { bytes: Buffer; view: DataView } {
  const len = buf.length;
  if (len > WORK_MAX) return { bytes: buf, view: new DataView(buf.buffer, buf.byteOffset, len) };
  if (work.bytes.length < len) {
    work.bytes = Buffer.allocUnsafeSlow(Math.min(WORK_MAX, Math.max(len, 2 * work.bytes.length, 4096)));
    work.view = new DataView(work.bytes.buffer, work.bytes.byteOffset, work.bytes.length);
  }
  work.bytes.set(buf);
  return work;
}

/** A packed array of small integers (elements kind PACKED_SMI, so slices stay compact). */
function smiArray(n: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(0);
  return a;
}

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

  const msg = new SipMessage(buf);
  msg.start = p;
  let indexing = false;
  try {
    // The scanning loops below stop at any control character and LF is one: no loop that
    // starts at or before the buffer's last LF can run past it, so they need no bounds
    // test per byte. A line starting after it cannot be complete.
    const last = buf[len - 1] === LF ? len - 1 : buf.lastIndexOf(LF);
    if (last < p) throw incomplete();
    // The start line and headers are scanned with 32-bit reads (four octets checked at
    // once, header names compared a word at a time), in a copy held in the parser's own
    // buffer: a memmove is much cheaper than a DataView per message.
    const { bytes, view } = scanSource(buf);
    deferred.error = undefined;
    msg.headersStart = parseStartLine(bytes, view, p, last, msg) + 2;
    indexing = true;
    if (deferred.error === undefined) {
      indexHeaders(bytes, view, msg, limits, last);
    } else {
      // A bad version wins over whatever else is wrong; the headers are for the 505.
      try {
        indexHeaders(bytes, view, msg, limits, last);
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
      }
      throw deferred.error;
    }
    finishParse(buf, msg, limits, options);
  } catch (err) {
    throw explain(err, buf, msg, limits, indexing);
  }
  return msg;
}

/**
 * The error to report for a failed parse. Messages are read in one pass, but errors keep
 * the precedence of "find the end of the headers first": an unterminated or oversized
 * header block is reported as such, whatever else is wrong in it. Errors found after the
 * start line carry the message as far as it was read.
 */
function explain(err: unknown, buf: Buffer, msg: SipMessage, limits: ParseLimits, indexing: boolean): unknown {
  if (!(err instanceof SipParseError)) return err;
  const blank = buf.indexOf(CRLFCRLF, msg.start);
  if (blank === -1) return buf.length - msg.start > limits.maxMessageBytes ? tooLarge() : incomplete();
  if (blank + 4 - msg.start > limits.maxMessageBytes) return tooLarge();
  if (indexing) {
    if (msg.index.length === 0 && scratchUsed > 0) msg.index = scratch.slice(0, scratchUsed);
    msg.headersEnd = blank + 2;
    msg.bodyStart = blank + 4;
    err.partial = msg;
  }
  return err;
}

function finishParse(buf: Buffer, msg: SipMessage, limits: ParseLimits, options: ParseOptions): void {
  const len = buf.length;
  const p = msg.start;
  if (msg.bodyStart - p > limits.maxMessageBytes) throw tooLarge();
  let end: number;
  if (msg.contentLengthAt !== -1) {
    const o = msg.contentLengthAt * Slot.Size;
    const ve = msg.index[o + Slot.ValueEnd]!;
    // A folded Content-Length frames differently for different readers: refused, never guessed.
    if (buf.indexOf(0x0d, msg.headerStartAt(msg.contentLengthAt)) < ve) {
      throw new SipParseError('bad-content-length', 'Folded Content-Length', 'Content-Length');
    }
    const cl = readContentLength(buf, msg.index[o + Slot.ValueStart]!, ve);
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
}

function tooLarge(): SipParseError {
  return new SipParseError('too-large', 'Message Too Large');
}

function incomplete(): SipParseError {
  return new SipParseError('incomplete', 'Incomplete headers');
}

/** Returns the offset of the start line's CR. p is at or before buf[last], the last LF. */
function parseStartLine(buf: Buffer, view: DataView, p: number, last: number, msg: SipMessage): number {
  const lastWord = last - 3;
  // "SIP/" (any case) starts a Status-Line; no method does, '/' is not a token character.
  const isStatus =
    p + 3 < last &&
    (buf[p]! | 0x20) === 0x73 &&
    (buf[p + 1]! | 0x20) === 0x69 &&
    (buf[p + 2]! | 0x20) === 0x70 &&
    buf[p + 3] === 0x2f;
  let sp1 = -1;
  let sp2 = -1;
  let spaces = 0;
  let i = p;
  for (;;) {
    // Printable ASCII but SP (0x21-0x7e): four octets at a time (see indexHeaders), then one.
    while (i <= lastWord) {
      const w = view.getInt32(i, true);
      const special = (((w - 0x21212121) & ~w) | (w + 0x01010101) | w) & 0x80808080;
      if (special !== 0) {
        i += (31 - Math.clz32(special & -special)) >> 3;
        break;
      }
      i += 4;
    }
    let c = buf[i]!;
    while (((c + 0xdf) & 0xff) < 0x5e) c = buf[++i]!;
    if (c === SP) {
      if (spaces === 0) sp1 = i;
      else if (spaces === 1) sp2 = i;
      spaces++;
    } else if (c === CR) {
      break;
    } else if ((c < 0x20 || c === 0x7f) && !(c === HT && isStatus && spaces >= 2)) {
      // HTAB is allowed in a Reason-Phrase only (RFC 3261 25.1).
      throw new SipParseError('bad-start-line', 'Bad start line');
    }
    i++;
  }
  const eol = i; // < last, as buf[last] is LF: buf[eol + 1] exists
  if (buf[eol + 1] !== LF) throw new SipParseError('bad-start-line', 'Bad start line');

  // Status-Line: SIP-Version SP Status-Code SP Reason-Phrase
  if (isStatus) {
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
    return eol;
  }

  // Request-Line: Method SP Request-URI SP SIP-Version, single spaces only (RFC 4475 3.1.2.9).
  if (spaces !== 2 || sp1 === p || sp2 === sp1 + 1 || sp2 === eol - 1) {
    throw new SipParseError('bad-start-line', 'Bad request line');
  }
  // A known method (a shared constant) is a token; any other is checked.
  const method = methodName(buf, p, sp1);
  if (!isKnownMethod(method)) {
    for (let k = p; k < sp1; k++) {
      const c = buf[k]!;
      if (c >= 128 || TOKEN[c] === 0) throw new SipParseError('bad-method', 'Bad method');
    }
  }
  msg.isRequest = true;
  msg.method = method;
  if (!isSip20(buf, sp2 + 1, eol)) {
    const v = buf.toString('latin1', sp2 + 1, eol);
    if (!v.startsWith('SIP/')) throw new SipParseError('bad-start-line', 'Bad request line');
    // Another SIP version: reported once the headers are indexed, so that the error
    // carries them and the proxy can answer 505.
    deferred.error = new SipParseError('bad-version', 'Version Not Supported');
  }
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
 * Quote state of a value, replayed only when a control character needs it (see
 * `escapedAt`): the value it is for, the offset replayed up to, and whether that offset
 * is inside quotes.
 */
let replayValue = -1;
let replayAt = 0;
let replayQuoted = false;

/**
 * Whether buf[i] is the escaped octet of a quoted-pair in the value starting at `vs`,
 * replaying quote state from where the previous call for this value stopped: linear over
 * the value however many control characters it holds.
 */
function escapedAt(buf: Buffer, vs: number, i: number): boolean {
  if (replayValue !== vs) {
    replayValue = vs;
    replayAt = vs;
    replayQuoted = false;
  }
  let k = replayAt;
  let quoted = replayQuoted;
  while (k < i) {
    const q = buf[k]!;
    if (quoted && q === 0x5c) k += 2;
    else {
      if (q === 0x22) quoted = !quoted;
      k++;
    }
  }
  replayAt = k;
  replayQuoted = quoted;
  return k > i;
}

/**
 * Records the boundaries of every header from headersStart to the empty line, which sets
 * headersEnd. Header names must be tokens; values may hold UTF-8 and HT but no other
 * control character (except as the escaped octet of a quoted-pair), and CR only as part
 * of CRLF (a folded line continues with SP or HT). `buf[last]` is the buffer's last LF.
 */
function indexHeaders(buf: Buffer, view: DataView, msg: SipMessage, limits: ParseLimits, last: number): void {
  const lastWord = last - 3; // words read stay within buf[0, last]
  const maxSlots = limits.maxHeaders * Slot.Size;
  const maxHeaderBytes = limits.maxHeaderBytes;
  const maxEntries = limits.maxListEntries;
  let index = scratch;
  let n = 0;
  let k = 0; // header number
  let crowded = false; // some header may have more than maxEntries entries
  scratchUsed = 0;
  replayValue = -1;
  entryCount.fill(0);
  let i = msg.headersStart;
  for (;;) {
    if (i > last) throw incomplete();
    let c = buf[i]!;
    if (c === CR) {
      // The empty line ending the headers (i < last, as buf[i] is not LF).
      if (buf[i + 1] !== LF) throw new SipParseError('bad-header-name', 'Bad header');
      break;
    }
    // The name runs to the colon. Find it four octets at a time (a control octet, DEL or an
    // octet >= 0x80 stops the search too: x = w ^ 0x3a3a3a3a flags ':' as x - 0x01010101 & ~x),
    // then check the name: a known one compares equal word by word, others octet by octet.
    const ns = i;
    while (i <= lastWord) {
      const w = view.getInt32(i, true);
      const x = w ^ 0x3a3a3a3a;
      const special = (((w - 0x20202020) & ~w) | (w + 0x01010101) | w | ((x - 0x01010101) & ~x)) & 0x80808080;
      if (special !== 0) {
        i += (31 - Math.clz32(special & -special)) >> 3;
        break;
      }
      i += 4;
    }
    c = buf[i]!;
    while (c !== COLON && ((c + 0xe0) & 0xff) < 0x5f) c = buf[++i]!;
    let ne = i;
    while (ne > ns && buf[ne - 1] === SP) ne--;
    while (c === SP || c === HT) c = buf[++i]!;
    if (ne === ns || c !== COLON) throw new SipParseError('bad-header-name', 'Bad header');
    // Octets equal to a known name (0x20 OR-ed into each: exact on printable octets) are
    // that name, a token; any other name is checked octet by octet.
    const id = identifyHeaderWords(view, buf, ns, ne - ns);
    if (id === H.Other) {
      for (let t = ns; t < ne; t++) {
        if (TOKEN_BYTE[buf[t]!] === 0) throw new SipParseError('bad-header-name', 'Bad header');
      }
    }
    c = buf[++i]!;
    // Leading whitespace, including folds before the first character of the value.
    for (;;) {
      if (c === SP || c === HT) c = buf[++i]!;
      else if (c === CR && buf[i + 1] === LF && i + 2 < last && (buf[i + 2] === SP || buf[i + 2] === HT)) {
        i += 3;
        c = buf[i]!;
      } else break;
    }
    const vs = i;
    let flags = 0;
    for (;;) {
      // Printable ASCII (0x20-0x7e) goes fast, everything else is rarer and sorted out below.
      // A word w holds an octet outside 0x20-0x7e iff one of these has its high bit set:
      // w - 0x20202020 & ~w (an octet below 0x20), w + 0x01010101 (above 0x7e), w (>= 0x80).
      // The word loop never passes the last LF (not printable), so the sentinel still holds.
      // Two words per turn: values are long enough for it to pay.
      while (i <= lastWord - 4) {
        const w1 = view.getInt32(i, true);
        const w2 = view.getInt32(i + 4, true);
        const s1 = (((w1 - 0x20202020) & ~w1) | (w1 + 0x01010101) | w1) & 0x80808080;
        const s2 = (((w2 - 0x20202020) & ~w2) | (w2 + 0x01010101) | w2) & 0x80808080;
        if ((s1 | s2) === 0) {
          i += 8;
          continue;
        }
        let special = s1;
        if (s1 === 0) {
          i += 4;
          special = s2;
        }
        // The lowest flagged octet is the first special one (a borrow or carry can only
        // flag octets above it): skip straight to it.
        i += (31 - Math.clz32(special & -special)) >> 3;
        break;
      }
      c = buf[i]!;
      while (((c + 0xe0) & 0xff) < 0x5f) c = buf[++i]!;
      if (c === CR) {
        // CR ends the line or a fold; a quoted-pair may not escape it.
        if (buf[i + 1] !== LF || (buf[i - 1] === 0x5c && escapedAt(buf, vs, i))) throw badValue(buf, ns, ne);
        // A fold needs i + 2 < last: a continuation with no LF after it cannot be complete,
        // and a scan started past the last LF would have no sentinel.
        if (i + 2 < last) {
          const next = buf[i + 2];
          if (next === SP || next === HT) {
            flags |= HeaderFlag.Folded;
            i += 3;
            c = buf[i]!;
            continue;
          }
        }
        break;
      }
      if (c >= 0x80) flags |= HeaderFlag.NonAscii;
      else if (c !== HT && (c === LF || !escapedAt(buf, vs, i))) throw badValue(buf, ns, ne);
      c = buf[++i]!;
    }
    // Trailing whitespace, and a fold with nothing after it ("hi\r\n \r\n": a CRLF inside a
    // value is always a fold's).
    let ve = i;
    for (;;) {
      while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
      if (ve - 2 < vs || buf[ve - 1] !== LF) break;
      ve -= 2;
    }
    if (i + 2 - ns > maxHeaderBytes || ne - ns > MAX_NAME_LENGTH) {
      throw new SipParseError('header-too-long', 'Header Too Long');
    }
    if (n === maxSlots) throw new SipParseError('too-many-headers', 'Too Many Headers');

    if (n + Slot.Size > index.length) index = growScratch();
    // The name starts where the previous header ended: its length is enough.
    index[n + Slot.Meta] = headerMeta(id, flags, ne - ns);
    index[n + Slot.ValueStart] = vs;
    index[n + Slot.ValueEnd] = ve;
    index[n + Slot.LineEnd] = i + 2;
    n += Slot.Size;
    scratchUsed = n;
    if (id !== H.Other) {
      // A list value of L octets holds at most (L + 1) / 2 entries. That bound costs nothing and
      // does while the total stays within the limit; past it, the commas are counted (a bound
      // still: checkEntries counts exactly when even that passes the limit).
      let add = 1;
      if (LIST_ID[id] === 1) {
        add = (ve - vs + 1) >> 1 || 1;
        if (entryCount[id]! + add > maxEntries) add = 1 + commasIn(buf, view, vs, ve);
      }
      const entries = entryCount[id]! + add;
      entryCount[id] = entries;
      if (entries > maxEntries) crowded = true;
    }
    switch (id) {
      case H.Via:
        if (msg.viaAt === -1) msg.viaAt = k;
        break;
      case H.From:
        msg.fromAt = once(msg.fromAt, k, 'From');
        break;
      case H.To:
        msg.toAt = once(msg.toAt, k, 'To');
        break;
      case H.CallId:
        msg.callIdAt = once(msg.callIdAt, k, 'Call-ID');
        break;
      case H.CSeq:
        msg.cseqAt = once(msg.cseqAt, k, 'CSeq');
        break;
      case H.MaxForwards:
        msg.maxForwardsAt = once(msg.maxForwardsAt, k, 'Max-Forwards');
        break;
      case H.ContentLength:
        // Two Content-Length headers are never resolved by picking one (request smuggling).
        if (msg.contentLengthAt !== -1) {
          throw new SipParseError('bad-content-length', 'Multiple Content-Length', 'Content-Length');
        }
        msg.contentLengthAt = k;
        break;
      case H.UserAgent:
        if (msg.userAgentAt === -1) msg.userAgentAt = k;
        break;
      case H.Server:
        if (msg.serverAt === -1) msg.serverAt = k;
        break;
    }
    k++;
    i += 2;
  }
  msg.headersEnd = i;
  msg.bodyStart = i + 2;
  msg.index = index.slice(0, n);
  // Raised once every header is indexed, so that the error carries what a 400 needs.
  if (crowded) checkEntries(buf, msg.index, maxEntries);
}

/**
 * Commas in buf[a, b), four octets at a time: the number of list elements of a value is at
 * most one more. Most values hold none, and a word without a comma costs one test.
 */
function commasIn(buf: Buffer, view: DataView, a: number, b: number): number {
  let count = 0;
  let i = a;
  while (i + 4 <= b) {
    const x = view.getInt32(i, true) ^ 0x2c2c2c2c;
    // A zero octet of x (a comma) sets its high bit here; a borrow may flag octets above it.
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) {
      for (let j = i; j < i + 4; j++) if (buf[j] === 0x2c) count++;
    }
    i += 4;
  }
  for (; i < b; i++) if (buf[i] === 0x2c) count++;
  return count;
}

/**
 * Throws when a header has more than `max` entries. `entryCount` holds an upper bound for a
 * list header (half a value's length, or its commas); one over the limit is counted exactly, as splitList splits it
 * (a comma inside a quoted string or `<...>` separates nothing: a display name `"Doe, John"`).
 */
function checkEntries(buf: Buffer, index: number[], max: number): void {
  for (let id = 1; id < H.Count; id++) {
    if (entryCount[id]! <= max) continue;
    const list = LIST_ID[id] === 1;
    if (list) {
      let entries = 0;
      for (let o = 0; o < index.length && entries <= max; o += Slot.Size) {
        if ((index[o + Slot.Meta]! & 63) !== id) continue;
        entries += splitList(buf.toString('latin1', index[o + Slot.ValueStart]!, index[o + Slot.ValueEnd]!)).length;
      }
      if (entries <= max) continue;
    }
    const name = CANONICAL_NAMES[id]!;
    throw new SipParseError('too-many-entries', `Too Many ${name} ${list ? 'Entries' : 'Headers'}`, name);
  }
}

function growScratch(): number[] {
  const grown = smiArray(scratch.length * 2);
  for (let k = 0; k < scratch.length; k++) grown[k] = scratch[k]!;
  scratch = grown;
  return grown;
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
  // Decoding validates: each accessor throws SipParseError on a malformed value. From, To
  // and the Request-URI are left to first use (and to `validate: 'full'`).
  msg.topVia;
  msg.callId;
  const cseq = msg.cseq;
  msg.maxForwards;
  if (msg.isRequest) {
    if (msg.maxForwardsAt === -1) throw missing('Max-Forwards');
    if (cseq.method !== msg.method) throw new SipParseError('cseq-mismatch', 'CSeq method mismatch', 'CSeq');
  }
}

function missing(name: string): SipParseError {
  return new SipParseError('missing-header', `Missing ${name}`, name);
}
