import { TOKEN_BYTE } from './chars.js';
import { type AuthHeader, parseAuthHeader } from './digest.js';
import { SipParseError } from './errors.js';
import {
  CANONICAL_NAMES,
  H,
  headerIdOf,
  KNOWN_METHODS,
  LIST_HEADERS,
  methodName,
  methodNumber,
  methodNumberAt,
} from './header-names.js';
import { type NameAddr, parseNameAddr } from './name-addr.js';
import { plainNameAddr, plainUri, plainVia } from './plain.js';
import { type CSeq, parseCSeq, parseDecimal, parseExpires, parseSipDate } from './scalars.js';
import { firstElementEnd, splitList } from './split.js';
import { parseUri, type SipUri } from './uri.js';
import { parseVia, type Via } from './via.js';

/**
 * Index layout of one header in `SipMessage.index`: `Slot.Size` numbers, offsets into
 * `buf`. A header starts where the previous one ends (the first at `headersStart`); use
 * the accessors (headerIdAt, headerStartAt, nameEndAt, valueStartAt...) rather than the
 * numbers.
 */
export enum Slot {
  /** id | HeaderFlag bits << 6 | name length << 8. */
  Meta = 0,
  /** The value, trimmed; folds included. */
  ValueStart = 1,
  ValueEnd = 2,
  /** Offset just past the header's final CRLF. */
  LineEnd = 3,
  Size = 4,
}

/** Bits of a header's flags (`Slot.Meta`). A value with neither is plain ASCII on one line. */
export enum HeaderFlag {
  /** The value continues on folded lines (CRLF followed by SP or HT). */
  Folded = 1,
  /** The value holds octets >= 0x80, decoded as UTF-8. */
  NonAscii = 2,
}

/** Packs a header's id, flags and name length into `Slot.Meta`. */
export function headerMeta(id: number, flags: number, nameLength: number): number {
  return id | (flags << 6) | (nameLength << 8);
}

/** Longest header name `Slot.Meta` holds (the parser rejects longer ones). */
export const MAX_NAME_LENGTH = (1 << 22) - 1;

const NO_HEADERS: number[] = [];

/**
 * buf.toString('latin1', a, b) without its argument handling: Buffer#latin1Slice, which
 * every Node version has (toString calls it) but does not document, when it is there.
 */
const latin1: (buf: Buffer, a: number, b: number) => string =
  typeof (Buffer.prototype as Partial<Latin1Slice>).latin1Slice === 'function'
    ? (buf, a, b) => (buf as unknown as Latin1Slice).latin1Slice(a, b)
    : (buf, a, b) => buf.toString('latin1', a, b);

interface Latin1Slice {
  latin1Slice(start: number, end: number): string;
}
/** Largest CSeq sequence number (RFC 3261 8.1.1.5: less than 2**31). */
const MAX_CSEQ = 2 ** 31 - 1;

/** A Contact value: either `*` (REGISTER removing all bindings) or a list of addresses. */
export type ContactValue = { star: true } | { star: false; addresses: NameAddr[] };

/**
 * A parsed SIP request or response. Header boundaries are indexed once by the parser; every
 * typed accessor decodes its header on first use and caches the result. Accessors throw
 * SipParseError if the header they decode is malformed.
 */
export class SipMessage {
  /** The buffer the message was parsed from (it may hold bytes before and after it). */
  readonly buf: Buffer;
  /** Offsets of the message in `buf`: [start, end) covers start line, headers and body. */
  start = 0;
  end = 0;
  /** Offset of the first header line (just after the start line's CRLF). */
  headersStart = 0;
  /** Offset of the empty line ending the headers; the body starts 2 bytes later. */
  headersEnd = 0;
  bodyStart = 0;
  isRequest = false;
  /** Request method as written (case-sensitive); empty for responses. */
  method = '';
  /** Response status code; 0 for requests. */
  status = 0;
  /** Header boundaries, `Slot.Size` numbers per header, in message order (set by the parser). */
  index: number[] = NO_HEADERS;
  /** Position (header number) of the first of each essential header, or -1. */
  viaAt = -1;
  fromAt = -1;
  toAt = -1;
  callIdAt = -1;
  cseqAt = -1;
  maxForwardsAt = -1;
  contentLengthAt = -1;
  /** First User-Agent and Server headers, or -1: read on most messages (scanner detection). */
  userAgentAt = -1;
  serverAt = -1;
  /** Content-Length as declared, or -1 when the header is absent. */
  contentLength = -1;

  private _requestUri: SipUri | undefined = undefined;
  private _topVia: Via | undefined = undefined;
  private _secondVia: Via | null | undefined = undefined;
  private _vias: Via[] | undefined = undefined;
  private _from: NameAddr | undefined = undefined;
  private _to: NameAddr | undefined = undefined;
  private _callId: string | undefined = undefined;
  private _cseq: CSeq | undefined = undefined;
  private _maxForwards: number | undefined = undefined;
  private _head: string | undefined = undefined;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  /**
   * buf[start, headersEnd) decoded as latin1 (one character per octet), once per message:
   * ASCII header values are slices of it (cheap, no copy), the same offsets as `index`
   * shifted by `start`. Values with octets >= 0x80 are decoded as UTF-8 instead.
   */
  private get head(): string {
    if (this._head === undefined) this._head = latin1(this.buf, this.start, this.headersEnd);
    return this._head;
  }

  /** Request-URI as written; empty for responses. */
  get requestUriText(): string {
    if (!this.isRequest) return '';
    // Method SP Request-URI SP "SIP/2.0" CRLF: the parser checked the single spaces and the version.
    return this.head.slice(this.method.length + 1, this.headersStart - this.start - 10);
  }

  /** Response reason phrase; empty for requests. */
  get reason(): string {
    if (this.isRequest) return '';
    // "SIP/2.0" SP 3DIGIT [SP Reason-Phrase] CRLF
    const a = this.start + 12;
    const b = this.headersStart - 2;
    if (a >= b) return '';
    for (let k = a; k < b; k++) if (this.buf[k]! >= 0x80) return this.buf.toString('utf8', a, b);
    return this.head.slice(12, b - this.start);
  }

  // ---- raw access ---------------------------------------------------------------------

  /** The message's bytes (without any trailing octets that followed it in a datagram). */
  get raw(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  get body(): Buffer {
    return this.buf.subarray(this.bodyStart, this.end);
  }

  get headerCount(): number {
    return this.index.length / Slot.Size;
  }

  /** Header id (see header-names.ts) of header number `k`. */
  headerIdAt(k: number): number {
    return this.index[k * Slot.Size]! & 63;
  }

  /** Offset in `buf` of the first octet of header number `k` (its name). */
  headerStartAt(k: number): number {
    return k === 0 ? this.headersStart : this.index[(k - 1) * Slot.Size + Slot.LineEnd]!;
  }

  /** Offset in `buf` just past the CRLF that ends header number `k`. */
  headerEndAt(k: number): number {
    return this.index[k * Slot.Size + Slot.LineEnd]!;
  }

  /** Offset in `buf` just past the name of header number `k`. */
  nameEndAt(k: number): number {
    return this.headerStartAt(k) + (this.index[k * Slot.Size]! >>> 8);
  }

  /** Bounds in `buf` of the value of header number `k` (trimmed; folds included). */
  valueStartAt(k: number): number {
    return this.index[k * Slot.Size + Slot.ValueStart]!;
  }

  valueEndAt(k: number): number {
    return this.index[k * Slot.Size + Slot.ValueEnd]!;
  }

  /** HeaderFlag bits of header number `k`. */
  headerFlagsAt(k: number): number {
    return (this.index[k * Slot.Size]! >> 6) & 3;
  }

  /** Header name of header number `k`, as written (compact forms stay compact). */
  headerNameAt(k: number): string {
    const a = this.headerStartAt(k) - this.start;
    return this.head.slice(a, a + (this.index[k * Slot.Size]! >>> 8));
  }

  /** Value of header number `k`: trimmed, line folding replaced by one space. */
  headerValueAt(k: number): string {
    const o = k * Slot.Size;
    const index = this.index;
    const flags = (index[o]! >> 6) & 3;
    if (flags === 0)
      return this.head.slice(index[o + Slot.ValueStart]! - this.start, index[o + Slot.ValueEnd]! - this.start);
    const v =
      (flags & HeaderFlag.NonAscii) !== 0
        ? this.buf.toString('utf8', index[o + Slot.ValueStart]!, index[o + Slot.ValueEnd]!)
        : this.head.slice(index[o + Slot.ValueStart]! - this.start, index[o + Slot.ValueEnd]! - this.start);
    return (flags & HeaderFlag.Folded) !== 0 ? v.replace(/\r\n[ \t]+/g, ' ') : v;
  }

  /** Whether header number `k` is plain ASCII on one line: then its value is head[a, b). */
  private isPlain(k: number): boolean {
    return (this.index[k * Slot.Size]! & 0xc0) === 0;
  }

  private valueStart(k: number): number {
    return this.index[k * Slot.Size + Slot.ValueStart]!;
  }

  private valueEnd(k: number): number {
    return this.index[k * Slot.Size + Slot.ValueEnd]!;
  }

  /** Position of the first header with this name (any case, compact forms too), or -1. */
  /** Position of the first header with this id (see header-names.ts) at or after `from`, or -1. */
  findHeaderId(id: number, from = 0): number {
    const n = this.headerCount;
    for (let k = from; k < n; k++) if (this.headerIdAt(k) === id) return k;
    return -1;
  }

  findHeader(name: string, from = 0): number {
    const id = headerIdOf(name);
    const n = this.headerCount;
    if (id !== H.Other) {
      for (let k = from; k < n; k++) if (this.headerIdAt(k) === id) return k;
      return -1;
    }
    const lower = name.toLowerCase();
    for (let k = from; k < n; k++) {
      if (this.headerIdAt(k) === H.Other && this.headerNameAt(k).toLowerCase() === lower) return k;
    }
    return -1;
  }

  /** First value of a header, or undefined. */
  header(name: string): string | undefined {
    const k = this.findHeader(name);
    return k === -1 ? undefined : this.headerValueAt(k);
  }

  /** Values of every header line with this name, in order. */
  headerLines(name: string): string[] {
    const out: string[] = [];
    for (let k = this.findHeader(name); k !== -1; k = this.findHeader(name, k + 1)) out.push(this.headerValueAt(k));
    return out;
  }

  /**
   * All values of a header as a list: every line, each split at the commas that separate
   * list elements (for list headers such as Via, Contact, Route, Supported).
   */
  headerValues(name: string): string[] {
    const lines = this.headerLines(name);
    if (!LIST_HEADERS.has(headerIdOf(name))) return lines;
    const out: string[] = [];
    for (const line of lines) for (const [a, b] of splitList(line)) out.push(line.slice(a, b));
    return out;
  }

  /** Every header as [name as written, value], in message order. */
  headers(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let k = 0; k < this.headerCount; k++) out.push([this.headerNameAt(k), this.headerValueAt(k)]);
    return out;
  }

  // ---- essentials (validated by the parser) ---------------------------------------------

  get requestUri(): SipUri {
    if (this._requestUri === undefined) {
      if (!this.isRequest) throw new SipParseError('bad-request-uri', 'Not a request');
      const a = this.start + this.method.length + 1;
      const b = this.headersStart - 10;
      this._requestUri =
        plainUri(this.buf, this.head, this.start, a, b, -1) ??
        parseUri(this.head, a - this.start, b - this.start, 'request-uri', 'Request-URI');
    }
    return this._requestUri;
  }

  get topVia(): Via {
    if (this._topVia === undefined) {
      const k = this.viaAt;
      if (k === -1) throw missing('Via');
      if (this.isPlain(k)) {
        const a = this.valueStart(k);
        const b = this.valueEnd(k);
        this._topVia = plainVia(this.buf, this.head, this.start, a, b);
        if (this._topVia === undefined) {
          // Parsed in place in `head`: no copy of the Via line, which may hold several entries.
          const s = this.head;
          this._topVia = parseVia(s, a - this.start, firstElementEnd(s, a - this.start, b - this.start));
        }
      } else {
        const v = this.headerValueAt(k);
        this._topVia = parseVia(v, 0, firstElementEnd(v));
      }
    }
    return this._topVia;
  }

  /**
   * The second Via entry, where a response goes next once the top one is removed, decoded
   * alone (a proxy needs no other); undefined when the message has a single Via.
   */
  get secondVia(): Via | undefined {
    if (this._secondVia === undefined) this._secondVia = this.decodeSecondVia() ?? null;
    return this._secondVia ?? undefined;
  }

  private decodeSecondVia(): Via | undefined {
    const k = this.viaAt;
    if (k === -1) return undefined;
    const first = this.headerValueAt(k);
    const cut = firstElementEnd(first);
    if (cut < first.length) return parseVia(first, cut + 1, firstElementEnd(first, cut + 1));
    const n = this.headerCount;
    let k2 = k + 1;
    while (k2 < n && this.headerIdAt(k2) !== H.Via) k2++;
    if (k2 === n) return undefined;
    if (this.isPlain(k2)) {
      const via = plainVia(this.buf, this.head, this.start, this.valueStart(k2), this.valueEnd(k2));
      if (via !== undefined) return via;
    }
    const v = this.headerValueAt(k2);
    return parseVia(v, 0, firstElementEnd(v));
  }

  /** Every Via entry, top first. A plain line holding one entry is decoded in place. */
  get vias(): Via[] {
    if (this._vias === undefined) {
      const out: Via[] = [];
      for (let k = this.viaAt; k !== -1 && k < this.headerCount; k++) {
        if (this.headerIdAt(k) !== H.Via) continue;
        if (this.isPlain(k) && !this.hasComma(k)) {
          const via =
            k === this.viaAt
              ? this.topVia
              : plainVia(this.buf, this.head, this.start, this.valueStart(k), this.valueEnd(k));
          if (via !== undefined) {
            out.push(via);
            continue;
          }
        }
        const v = this.headerValueAt(k);
        for (const [a, b] of splitList(v)) out.push(parseVia(v, a, b));
      }
      this._vias = out;
    }
    return this._vias;
  }

  /** Whether the value of header number `k` holds a comma (possibly a list separator). */
  private hasComma(k: number): boolean {
    const buf = this.buf;
    const b = this.valueEnd(k);
    for (let i = this.valueStart(k); i < b; i++) if (buf[i] === 0x2c) return true;
    return false;
  }

  get from(): NameAddr {
    if (this._from === undefined) {
      if (this.fromAt === -1) throw missing('From');
      this._from = this.nameAddrAt(this.fromAt, 'From');
    }
    return this._from;
  }

  get to(): NameAddr {
    if (this._to === undefined) {
      if (this.toAt === -1) throw missing('To');
      this._to = this.nameAddrAt(this.toAt, 'To');
    }
    return this._to;
  }

  get callId(): string {
    if (this._callId === undefined) {
      const k = this.callIdAt;
      if (k === -1) throw missing('Call-ID');
      // word [ "@" word ]: printable ASCII without whitespace, checked on the octets.
      const buf = this.buf;
      const a = this.valueStart(k);
      const b = this.valueEnd(k);
      let i = a;
      while (i < b && buf[i]! > 0x20 && buf[i]! < 0x7f) i++;
      if (i === a || i < b) throw new SipParseError('bad-header', 'Bad Call-ID', 'Call-ID');
      this._callId = this.head.slice(a - this.start, b - this.start);
    }
    return this._callId;
  }

  get cseq(): CSeq {
    if (this._cseq === undefined) {
      const k = this.cseqAt;
      if (k === -1) throw missing('CSeq');
      this._cseq = this.isPlain(k) ? this.plainCSeq(k) : undefined;
      // Anything unusual (folds, UTF-8, errors to report) goes through the string parser.
      this._cseq ??= parseCSeq(this.headerValueAt(k));
    }
    return this._cseq;
  }

  /**
   * `methodNumber` of the CSeq method (a response's request method), for counting: read on the
   * octets without parsing or allocating, never throwing; a missing or unusual CSeq counts as
   * another method.
   */
  get cseqMethodNumber(): number {
    if (this._cseq !== undefined) return methodNumber(this._cseq.method);
    const k = this.cseqAt;
    if (k === -1 || !this.isPlain(k)) return KNOWN_METHODS.length;
    const a = this.valueStart(k);
    const b = this.valueEnd(k);
    let i = b;
    while (i > a && TOKEN_BYTE[this.buf[i - 1]!] === 1) i--;
    return methodNumberAt(this.buf, i, b);
  }

  /** Max-Forwards, or undefined when absent (allowed in responses only). */
  get maxForwards(): number | undefined {
    if (this._maxForwards === undefined && this.maxForwardsAt !== -1) {
      const k = this.maxForwardsAt;
      // Fast path: 1 to 3 digits (<= 999), on the octets; else the string parser decides.
      const a = this.valueStart(k);
      const b = this.valueEnd(k);
      let n = 0;
      let i = a;
      if (b - a <= 3) {
        while (i < b) {
          const d = this.buf[i]! - 0x30;
          if (d < 0 || d > 9) break;
          n = n * 10 + d;
          i++;
        }
      }
      this._maxForwards = i === b && i > a && n <= 255 ? n : parseDecimal(this.headerValueAt(k), 255, 'Max-Forwards');
    }
    return this._maxForwards;
  }

  /**
   * CSeq = 1*DIGIT LWS Method, read from the octets of a plain value. Returns undefined for
   * anything but the common valid form; the caller then runs the string parser, which
   * reports the error or handles the rarer forms.
   */
  private plainCSeq(k: number): CSeq | undefined {
    const buf = this.buf;
    const b = this.valueEnd(k);
    let i = this.valueStart(k);
    // Leading zeros (RFC 4475 3.1.1.1) do not count towards the 10 digits.
    while (i + 1 < b && buf[i] === 0x30 && buf[i + 1]! >= 0x30 && buf[i + 1]! <= 0x39) i++;
    const ds = i;
    let seq = 0;
    while (i < b) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) break;
      seq = seq * 10 + d;
      i++;
    }
    if (i === ds || i - ds > 10 || seq > MAX_CSEQ) return undefined;
    const de = i;
    while (i < b && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    if (i === de || i === b) return undefined;
    const ms = i;
    // A request's CSeq method is normally its own (a checked token): share the string.
    const m = this.method;
    let same = m.length === b - ms;
    for (let j = 0; same && j < m.length; j++) same = buf[ms + j] === m.charCodeAt(j);
    if (same) return { seq, method: m };
    while (i < b && TOKEN_BYTE[buf[i]!] === 1) i++;
    if (i < b) return undefined;
    return { seq, method: methodName(buf, ms, b) };
  }

  /** From, To: parsed in place in `head` when plain. */
  private nameAddrAt(k: number, what: string): NameAddr {
    if (this.isPlain(k)) {
      const a = this.valueStart(k);
      const b = this.valueEnd(k);
      return (
        plainNameAddr(this.buf, this.head, this.start, a, b) ??
        parseNameAddr(this.head, a - this.start, b - this.start, what)
      );
    }
    const v = this.headerValueAt(k);
    return parseNameAddr(v, 0, v.length, what);
  }

  // ---- other typed accessors (decoded on demand) -------------------------------------------

  get userAgent(): string | undefined {
    return this.userAgentAt === -1 ? undefined : this.headerValueAt(this.userAgentAt);
  }

  get server(): string | undefined {
    return this.serverAt === -1 ? undefined : this.headerValueAt(this.serverAt);
  }

  get contentType(): string | undefined {
    return this.firstValue(H.ContentType);
  }

  /** Expires header in seconds, or undefined when absent. */
  get expires(): number | undefined {
    const v = this.firstValue(H.Expires);
    return v === undefined ? undefined : parseExpires(v);
  }

  get date(): Date | undefined {
    const v = this.firstValue(H.Date);
    return v === undefined ? undefined : parseSipDate(v);
  }

  get contact(): ContactValue | undefined {
    const k = this.findHeaderId(H.Contact);
    if (k === -1) return undefined;
    if (this.findHeaderId(H.Contact, k + 1) === -1 && this.headerValueAt(k).trim() === '*') return { star: true };
    return { star: false, addresses: this.nameAddrsOf(H.Contact, 'Contact') };
  }

  get routes(): NameAddr[] {
    return this.nameAddrsOf(H.Route, 'Route');
  }

  get recordRoutes(): NameAddr[] {
    return this.nameAddrsOf(H.RecordRoute, 'Record-Route');
  }

  get paths(): NameAddr[] {
    return this.nameAddrsOf(H.Path, 'Path');
  }

  get authorization(): AuthHeader | undefined {
    return this.auth(H.Authorization);
  }

  get proxyAuthorization(): AuthHeader | undefined {
    return this.auth(H.ProxyAuthorization);
  }

  get wwwAuthenticate(): AuthHeader | undefined {
    return this.auth(H.WwwAuthenticate);
  }

  get proxyAuthenticate(): AuthHeader | undefined {
    return this.auth(H.ProxyAuthenticate);
  }

  /** Every header line of one of the auth headers, parsed (a 401 may offer MD5 and SHA-256). */
  authHeaders(name: 'Authorization' | 'Proxy-Authorization' | 'WWW-Authenticate' | 'Proxy-Authenticate'): AuthHeader[] {
    return this.headerLines(name).map((v) => parseAuthHeader(v, name));
  }

  private auth(id: H): AuthHeader | undefined {
    const v = this.firstValue(id);
    return v === undefined ? undefined : parseAuthHeader(v, CANONICAL_NAMES[id]!);
  }

  private firstValue(id: H): string | undefined {
    const n = this.headerCount;
    for (let k = 0; k < n; k++) if (this.headerIdAt(k) === id) return this.headerValueAt(k);
    return undefined;
  }

  /** Every entry of a name-addr list header; a line holding one plain entry is decoded in place. */
  private nameAddrsOf(id: H, what: string): NameAddr[] {
    const out: NameAddr[] = [];
    const n = this.headerCount;
    for (let k = 0; k < n; k++) {
      if (this.headerIdAt(k) !== id) continue;
      if (this.isPlain(k)) {
        const one = plainNameAddr(this.buf, this.head, this.start, this.valueStart(k), this.valueEnd(k));
        if (one !== undefined) {
          out.push(one);
          continue;
        }
      }
      const line = this.headerValueAt(k);
      for (const [a, b] of splitList(line)) out.push(parseNameAddr(line, a, b, what));
    }
    return out;
  }
}

function missing(name: string): SipParseError {
  return new SipParseError('missing-header', `Missing ${name}`, name);
}
