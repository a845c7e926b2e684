import { type AuthHeader, parseAuthHeader } from './digest.js';
import { SipParseError } from './errors.js';
import { CANONICAL_NAMES, H, headerIdOf, LIST_HEADERS } from './header-names.js';
import { type NameAddr, parseNameAddr } from './name-addr.js';
import { type CSeq, parseCSeq, parseDecimal, parseExpires, parseSipDate } from './scalars.js';
import { splitList } from './split.js';
import { parseUri, type SipUri } from './uri.js';
import { parseVia, type Via } from './via.js';

/** Index layout of one header in `SipMessage.index`. */
export enum Slot {
  Id = 0,
  NameStart = 1,
  NameEnd = 2,
  ValueStart = 3,
  ValueEnd = 4,
  /** Offset just past the header's final CRLF. */
  LineEnd = 5,
  Folded = 6,
  Size = 7,
}

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
  /** Request-URI as written; empty for responses. */
  requestUriText = '';
  /** Response status code; 0 for requests. */
  status = 0;
  /** Response reason phrase; empty for requests. */
  reason = '';
  /** Header boundaries, `Slot.Size` numbers per header, in message order. */
  readonly index: number[] = [];
  /** Position (header number) of the first of each essential header, or -1. */
  viaAt = -1;
  fromAt = -1;
  toAt = -1;
  callIdAt = -1;
  cseqAt = -1;
  maxForwardsAt = -1;
  contentLengthAt = -1;
  /** Content-Length as declared, or -1 when the header is absent. */
  contentLength = -1;

  private _requestUri: SipUri | undefined = undefined;
  private _topVia: Via | undefined = undefined;
  private _vias: Via[] | undefined = undefined;
  private _from: NameAddr | undefined = undefined;
  private _to: NameAddr | undefined = undefined;
  private _callId: string | undefined = undefined;
  private _cseq: CSeq | undefined = undefined;
  private _maxForwards: number | undefined = undefined;

  constructor(buf: Buffer) {
    this.buf = buf;
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
    return this.index[k * Slot.Size]!;
  }

  /** Header name of header number `k`, as written (compact forms stay compact). */
  headerNameAt(k: number): string {
    const o = k * Slot.Size;
    return this.buf.toString('latin1', this.index[o + Slot.NameStart]!, this.index[o + Slot.NameEnd]!);
  }

  /** Value of header number `k`: trimmed, line folding replaced by one space. */
  headerValueAt(k: number): string {
    const o = k * Slot.Size;
    const v = this.buf.toString('utf8', this.index[o + Slot.ValueStart]!, this.index[o + Slot.ValueEnd]!);
    return this.index[o + Slot.Folded] === 1 ? v.replace(/\r\n[ \t]+/g, ' ') : v;
  }

  /** Position of the first header with this name (any case, compact forms too), or -1. */
  findHeader(name: string, from = 0): number {
    const id = headerIdOf(name);
    const n = this.headerCount;
    if (id !== H.Other) {
      for (let k = from; k < n; k++) if (this.index[k * Slot.Size] === id) return k;
      return -1;
    }
    const lower = name.toLowerCase();
    for (let k = from; k < n; k++) {
      if (this.index[k * Slot.Size] === H.Other && this.headerNameAt(k).toLowerCase() === lower) return k;
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
      this._requestUri = parseUri(this.requestUriText, 0, this.requestUriText.length, 'request-uri', 'Request-URI');
    }
    return this._requestUri;
  }

  get topVia(): Via {
    if (this._topVia === undefined) {
      if (this.viaAt === -1) throw missing('Via');
      const v = this.headerValueAt(this.viaAt);
      const first = splitList(v)[0]!;
      this._topVia = parseVia(v, first[0], first[1]);
    }
    return this._topVia;
  }

  /** Every Via entry, top first. */
  get vias(): Via[] {
    if (this._vias === undefined) {
      const out: Via[] = [];
      for (let k = this.viaAt; k !== -1 && k < this.headerCount; k++) {
        if (this.headerIdAt(k) !== H.Via) continue;
        const v = this.headerValueAt(k);
        for (const [a, b] of splitList(v)) out.push(parseVia(v, a, b));
      }
      this._vias = out;
    }
    return this._vias;
  }

  get from(): NameAddr {
    if (this._from === undefined) {
      if (this.fromAt === -1) throw missing('From');
      const v = this.headerValueAt(this.fromAt);
      this._from = parseNameAddr(v, 0, v.length, 'From');
    }
    return this._from;
  }

  get to(): NameAddr {
    if (this._to === undefined) {
      if (this.toAt === -1) throw missing('To');
      const v = this.headerValueAt(this.toAt);
      this._to = parseNameAddr(v, 0, v.length, 'To');
    }
    return this._to;
  }

  get callId(): string {
    if (this._callId === undefined) {
      if (this.callIdAt === -1) throw missing('Call-ID');
      const v = this.headerValueAt(this.callIdAt);
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c <= 0x20 || c >= 0x7f) throw new SipParseError('bad-header', 'Bad Call-ID', 'Call-ID');
      }
      if (v.length === 0) throw new SipParseError('bad-header', 'Bad Call-ID', 'Call-ID');
      this._callId = v;
    }
    return this._callId;
  }

  get cseq(): CSeq {
    if (this._cseq === undefined) {
      if (this.cseqAt === -1) throw missing('CSeq');
      this._cseq = parseCSeq(this.headerValueAt(this.cseqAt));
    }
    return this._cseq;
  }

  /** Max-Forwards, or undefined when absent (allowed in responses only). */
  get maxForwards(): number | undefined {
    if (this._maxForwards === undefined && this.maxForwardsAt !== -1) {
      this._maxForwards = parseDecimal(this.headerValueAt(this.maxForwardsAt), 255, 'Max-Forwards');
    }
    return this._maxForwards;
  }

  // ---- other typed accessors (decoded on demand) -------------------------------------------

  get userAgent(): string | undefined {
    return this.firstValue(H.UserAgent);
  }

  get server(): string | undefined {
    return this.firstValue(H.Server);
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
    const lines = this.valuesOf(H.Contact);
    if (lines.length === 0) return undefined;
    if (lines.length === 1 && lines[0]!.trim() === '*') return { star: true };
    return { star: false, addresses: this.nameAddrList(lines, 'Contact') };
  }

  get routes(): NameAddr[] {
    return this.nameAddrList(this.valuesOf(H.Route), 'Route');
  }

  get recordRoutes(): NameAddr[] {
    return this.nameAddrList(this.valuesOf(H.RecordRoute), 'Record-Route');
  }

  get paths(): NameAddr[] {
    return this.nameAddrList(this.valuesOf(H.Path), 'Path');
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
    for (let k = 0; k < n; k++) if (this.index[k * Slot.Size] === id) return this.headerValueAt(k);
    return undefined;
  }

  /** Lines of a header id, in order. */
  private valuesOf(id: H): string[] {
    const out: string[] = [];
    const n = this.headerCount;
    for (let k = 0; k < n; k++) if (this.index[k * Slot.Size] === id) out.push(this.headerValueAt(k));
    return out;
  }

  private nameAddrList(lines: string[], what: string): NameAddr[] {
    const out: NameAddr[] = [];
    for (const line of lines) for (const [a, b] of splitList(line)) out.push(parseNameAddr(line, a, b, what));
    return out;
  }
}

function missing(name: string): SipParseError {
  return new SipParseError('missing-header', `Missing ${name}`, name);
}
