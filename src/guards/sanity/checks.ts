/**
 * The checks of the sanity guard, one function each, after the checks of Kamailio's sanity
 * module and the RFC rules they stand for. A check returns undefined when the message
 * passes, or a `SanityFailure`: the status code and reason phrase the RFC prescribes for a
 * request (the guard turns it into a drop for ACK and responses, which are never
 * answered). A check may throw SipParseError from a lazily decoded header; the guard turns
 * that into a failure too.
 *
 * Reason phrases are short, fixed ASCII text: they never echo the message and never name
 * sipwarden. Specifics, which may quote the message, go to `detail`.
 */
import type { Source } from '../../core/verdict.js';
import { TOKEN_BYTE } from '../../sip/chars.js';
import { parseAuthHeader } from '../../sip/digest.js';
import { SipParseError } from '../../sip/errors.js';
import { H } from '../../sip/header-names.js';
import type { ContactValue, SipMessage } from '../../sip/message.js';
import { quotedStringEnd } from '../../sip/params.js';
import { DigestParam, DigestScan } from '../digest-scan.js';
import type { SanityCheck } from './config.js';

export interface SanityFailure {
  readonly code: number;
  readonly reason: string;
  /** What exactly is wrong; may quote the message (consumers escape and bound it). */
  readonly detail: string;
  /** Extra header lines for the answer (`Unsupported:` of a 420). */
  readonly headers?: readonly string[];
}

/**
 * What the checks of one message share: the message, its source, and the Contact header,
 * decoded at most once (the `uris` and `expires` checks both read it). One instance is
 * reused for every message.
 */
export class SanityContext {
  msg: SipMessage = undefined as unknown as SipMessage;
  source: Source = undefined as unknown as Source;
  /**
   * Realms sipwarden's own auth guard checks: Digest credentials for them may travel beside
   * one set for the server behind (`credentials` check).
   */
  ownRealms: ReadonlySet<string> = NO_REALMS;
  private contactOf: SipMessage | undefined = undefined;
  private contactValue: ContactValue | undefined = undefined;

  reset(msg: SipMessage, source: Source): void {
    this.msg = msg;
    this.source = source;
    this.contactOf = undefined;
    this.contactValue = undefined;
  }

  /** Drops the references to the last message, so the context does not keep it alive. */
  clear(): void {
    this.msg = undefined as unknown as SipMessage;
    this.source = undefined as unknown as Source;
    this.contactOf = undefined;
    this.contactValue = undefined;
  }

  /** The decoded Contact header (throws SipParseError when malformed). */
  get contact(): ContactValue | undefined {
    if (this.contactOf !== this.msg) {
      this.contactValue = this.msg.contact;
      this.contactOf = this.msg;
    }
    return this.contactValue;
  }
}

export type SanityCheckFunction = (ctx: SanityContext) => SanityFailure | undefined;

const NO_REALMS: ReadonlySet<string> = new Set();

/** Largest value of a 32-bit unsigned field (CSeq number, delta-seconds). */
const MAX_UINT32 = 0xffffffff;

function badRequest(reason: string, detail: string): SanityFailure {
  return { code: 400, reason, detail };
}

/** The failure for a header that did not decode. */
export function failureOf(err: unknown): SanityFailure {
  if (err instanceof SipParseError) {
    if (err.code === 'bad-version') return { code: 505, reason: 'Version Not Supported', detail: err.reason };
    return badRequest(safeReason(err.reason), err.reason);
  }
  return badRequest('Bad Request', `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
}

/** A SipParseError reason is short printable ASCII already; this keeps it that way. */
function safeReason(reason: string): string {
  return reason.length > 0 && reason.length <= 64 && /^[\x20-\x7e]+$/.test(reason) ? reason : 'Bad Request';
}

// ---- required_headers ------------------------------------------------------------------

/**
 * RFC 3261 8.1.1: every request carries To, From, CSeq, Call-ID, Max-Forwards and Via;
 * responses all but Max-Forwards (8.2.6.2). From, To, Call-ID and CSeq appear once
 * (Kamailio's sanity checks the same duplicates).
 */
export function checkRequiredHeaders(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  let from = 0;
  let to = 0;
  let callId = 0;
  let cseq = 0;
  let via = 0;
  let maxForwards = 0;
  const n = msg.headerCount;
  for (let k = 0; k < n; k++) {
    switch (msg.headerIdAt(k)) {
      case H.From:
        from++;
        break;
      case H.To:
        to++;
        break;
      case H.CallId:
        callId++;
        break;
      case H.CSeq:
        cseq++;
        break;
      case H.Via:
        via++;
        break;
      case H.MaxForwards:
        maxForwards++;
        break;
    }
  }
  if (via === 0) return badRequest('Missing Via', 'no Via header');
  if (from !== 1)
    return from === 0 ? badRequest('Missing From', 'no From header') : badRequest('Bad From', 'several From headers');
  if (to !== 1) return to === 0 ? badRequest('Missing To', 'no To header') : badRequest('Bad To', 'several To headers');
  if (callId !== 1) {
    return callId === 0
      ? badRequest('Missing Call-ID', 'no Call-ID header')
      : badRequest('Bad Call-ID', 'several Call-ID headers');
  }
  if (cseq !== 1)
    return cseq === 0 ? badRequest('Missing CSeq', 'no CSeq header') : badRequest('Bad CSeq', 'several CSeq headers');
  if (msg.isRequest && maxForwards === 0) return badRequest('Missing Max-Forwards', 'no Max-Forwards header');
  return undefined;
}

// ---- request_uri -----------------------------------------------------------------------

/**
 * The Request-Line: SIP version 2.0 (else 505, RFC 3261 21.5.26), a Request-URI that
 * decodes (else 400), in a scheme a SIP proxy can route: sip, sips, tel, and the
 * `urn:service:` URNs of emergency calls (RFC 5031); any other scheme is 416 (RFC 3261
 * 8.2.2.1, 21.4.16).
 */
export function checkRequestUri(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  if (!msg.isRequest) return undefined;
  // Method SP Request-URI SP SIP-Version CRLF: the version is the 7 octets before the CRLF.
  const end = msg.headersStart - 2;
  const buf = msg.buf;
  const v = end - 7;
  const sip20 =
    v > msg.start &&
    buf[v - 1] === 0x20 &&
    (buf[v]! | 0x20) === 0x73 &&
    (buf[v + 1]! | 0x20) === 0x69 &&
    (buf[v + 2]! | 0x20) === 0x70 &&
    buf[v + 3] === 0x2f &&
    buf[v + 4] === 0x32 &&
    buf[v + 5] === 0x2e &&
    buf[v + 6] === 0x30;
  if (!sip20) return { code: 505, reason: 'Version Not Supported', detail: 'Request-Line version is not SIP/2.0' };
  const uri = msg.requestUri;
  const scheme = uri.scheme;
  if (scheme === 'sip' || scheme === 'sips' || scheme === 'tel') return undefined;
  if (scheme === 'urn' && uri.opaque !== undefined && uri.opaque.toLowerCase().startsWith('service:')) return undefined;
  return { code: 416, reason: 'Unsupported URI Scheme', detail: `Request-URI scheme ${scheme}` };
}

// ---- via -------------------------------------------------------------------------------

/** Transports sipwarden can answer over, and those SIP defines (RFC 3261, 4168, 7118). */
const VIA_TRANSPORTS: ReadonlySet<string> = new Set(['UDP', 'TCP', 'TLS', 'SCTP', 'TLS-SCTP', 'WS', 'WSS']);

/**
 * Via (RFC 3261 20.42): every entry decodes as `SIP/2.0/transport sent-by` with a host, and
 * the top one names a SIP transport. The parser has decoded the top entry; the others are
 * decoded only when there are more.
 */
export function checkVia(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  const top = msg.topVia;
  if (top.host.length === 0) return badRequest('Bad Via', 'top Via has no host');
  if (!VIA_TRANSPORTS.has(top.transport)) return badRequest('Bad Via', `top Via transport ${top.transport}`);
  if (hasMoreVias(msg)) {
    for (const via of msg.vias) if (via.host.length === 0) return badRequest('Bad Via', 'a Via has no host');
  }
  return undefined;
}

/** Whether the message has a Via entry besides the top one (another line, or a comma). */
function hasMoreVias(msg: SipMessage): boolean {
  const k = msg.viaAt;
  if (msg.findHeaderId(H.Via, k + 1) !== -1) return true;
  const buf = msg.buf;
  const b = msg.valueEndAt(k);
  for (let i = msg.valueStartAt(k); i < b; i++) if (buf[i] === 0x2c) return true;
  return false;
}

// ---- cseq ------------------------------------------------------------------------------

/**
 * CSeq (RFC 3261 8.1.1.5, 20.16): a 32-bit sequence number and a method equal to the
 * request's (so an ACK's is ACK and a CANCEL's is CANCEL, 9.1, 17.1.1.3). No response
 * answers an ACK, so a response with CSeq method ACK is malformed.
 */
export function checkCSeq(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  const cseq = msg.cseq;
  if (!Number.isInteger(cseq.seq) || cseq.seq < 0 || cseq.seq > MAX_UINT32) {
    return badRequest('Bad CSeq', 'sequence number out of range');
  }
  if (msg.isRequest) {
    if (cseq.method !== msg.method) {
      return badRequest('Bad CSeq', `CSeq method ${cseq.method} does not match request method ${msg.method}`);
    }
  } else if (cseq.method === 'ACK') {
    return badRequest('Bad CSeq', 'response to ACK');
  }
  return undefined;
}

// ---- content_length --------------------------------------------------------------------

/**
 * Content-Length (RFC 3261 18.3, 20.14): required on stream transports; when present it
 * is the body's size. On UDP a body shorter than declared is a 400 (18.3); octets after
 * the declared body are not part of the message (RFC 4475 3.1.1.8).
 */
export function checkContentLength(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  if (msg.contentLengthAt === -1) {
    return ctx.source.transport === 'udp'
      ? undefined
      : badRequest('Missing Content-Length', `no Content-Length over ${ctx.source.transport}`);
  }
  const body = msg.end - msg.bodyStart;
  if (msg.contentLength < 0 || body !== msg.contentLength) {
    return badRequest('Bad Content-Length', `Content-Length ${msg.contentLength}, body ${body} octets`);
  }
  return undefined;
}

// ---- max_forwards ----------------------------------------------------------------------

/** Max-Forwards (RFC 3261 20.22): an integer 0-255, required in requests. */
export function checkMaxForwards(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  const mf = msg.maxForwards;
  if (mf === undefined) return msg.isRequest ? badRequest('Missing Max-Forwards', 'no Max-Forwards header') : undefined;
  if (!Number.isInteger(mf) || mf < 0 || mf > 255) return badRequest('Bad Max-Forwards', `Max-Forwards ${mf}`);
  return undefined;
}

// ---- expires ---------------------------------------------------------------------------

/**
 * Expires (RFC 3261 20.19) and the `expires` parameter of each Contact (10.2.1.1):
 * delta-seconds, a decimal integer of at most 2^32-1.
 */
export function checkExpires(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  const expires = msg.expires;
  if (expires !== undefined && (!Number.isInteger(expires) || expires < 0 || expires > MAX_UINT32)) {
    return badRequest('Bad Expires', `Expires ${expires}`);
  }
  if (msg.findHeaderId(H.Contact) === -1) return undefined;
  const contact = ctx.contact;
  if (contact === undefined || contact.star) return undefined;
  for (const address of contact.addresses) {
    const e = address.params.get('expires');
    if (e === undefined) continue;
    if (e === null || !isDeltaSeconds(e)) return badRequest('Bad Expires', 'Contact expires parameter');
  }
  return undefined;
}

function isDeltaSeconds(v: string): boolean {
  let i = 0;
  while (i < v.length - 1 && v.charCodeAt(i) === 0x30) i++;
  if (v.length === 0 || v.length - i > 10) return false;
  for (let k = i; k < v.length; k++) {
    const c = v.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return Number(v.slice(i)) <= MAX_UINT32;
}

// ---- proxy_require ---------------------------------------------------------------------

/** Most option tags listed in an `Unsupported:` answer, and their longest length. */
const MAX_UNSUPPORTED = 16;
const MAX_OPTION_TAG = 64;

/**
 * Proxy-Require (RFC 3261 16.3 step 5, 20.29): sipwarden supports no extension a proxy
 * must understand, so any option tag gets `420 Bad Extension` with an `Unsupported:`
 * header listing them (RFC 3261 8.2.2.3). ACK and CANCEL are never rejected for it.
 */
export function checkProxyRequire(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  if (!msg.isRequest || msg.method === 'ACK' || msg.method === 'CANCEL') return undefined;
  if (msg.findHeaderId(H.ProxyRequire) === -1) return undefined;
  const tags: string[] = [];
  for (const value of msg.headerValues('Proxy-Require')) {
    const tag = value.trim();
    if (tag.length === 0) continue;
    if (!isToken(tag) || tag.length > MAX_OPTION_TAG)
      return badRequest('Bad Proxy-Require', 'option tag is not a token');
    if (tags.length < MAX_UNSUPPORTED && !tags.includes(tag)) tags.push(tag);
  }
  if (tags.length === 0) return badRequest('Bad Proxy-Require', 'empty Proxy-Require');
  const list = tags.join(', ');
  return { code: 420, reason: 'Bad Extension', detail: `Proxy-Require ${list}`, headers: [`Unsupported: ${list}`] };
}

function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_BYTE[c] === 0) return false;
  }
  return s.length > 0;
}

// ---- uris ------------------------------------------------------------------------------

/**
 * The URIs a SIP element reads: Request-URI, From, To and Contact decode in full (RFC 3261
 * 19.1, 20.10, 20.20, 20.39; Kamailio's `parse uri's` check with the Contact URI added). A
 * `Contact: *` is allowed only in a REGISTER with `Expires: 0` (RFC 3261 10.2.2).
 */
export function checkUris(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  if (msg.isRequest) msg.requestUri;
  msg.from;
  msg.to;
  if (msg.findHeaderId(H.Contact) === -1) return undefined;
  const contact = ctx.contact;
  if (contact?.star === true && (msg.method !== 'REGISTER' || msg.expires !== 0)) {
    return badRequest('Bad Contact', 'Contact * outside a REGISTER with Expires: 0');
  }
  return undefined;
}

// ---- to_tag ----------------------------------------------------------------------------

/**
 * The tags of From and To (RFC 3261 19.3): at most one `tag` parameter each (Kamailio's
 * duplicated tags check), with a value. Parameters given twice never decode, so a header
 * that fails is scanned for the tags to say precisely what is wrong; one that fails for
 * another reason is left to the `uris` check.
 */
export function checkToTag(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  return tagFailure(msg, msg.fromAt, 'From') ?? tagFailure(msg, msg.toAt, 'To');
}

function tagFailure(msg: SipMessage, k: number, name: 'From' | 'To'): SanityFailure | undefined {
  if (k === -1) return undefined;
  let tag: string | null | undefined;
  try {
    tag = (name === 'From' ? msg.from : msg.to).params.get('tag');
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    const count = countTags(msg.headerValueAt(k));
    if (count > 1) return badRequest(`Bad ${name} Tag`, `${count} tag parameters in ${name}`);
    // Malformed for another reason: the `uris` check reports it.
    return undefined;
  }
  if (tag === null || tag === '') return badRequest(`Bad ${name} Tag`, `${name} tag without a value`);
  return undefined;
}

/** Number of `tag` header parameters in a From/To value, read leniently. */
export function countTags(v: string): number {
  const end = v.length;
  let i = 0;
  while (i < end && (v.charCodeAt(i) === 0x20 || v.charCodeAt(i) === 0x09)) i++;
  if (v.charCodeAt(i) === 0x22) {
    const q = quotedStringEnd(v, i, end);
    i = q === -1 ? end : q;
  }
  const lt = v.indexOf('<', i);
  const semi = v.indexOf(';', i);
  if (lt !== -1 && (semi === -1 || lt < semi)) {
    const gt = v.indexOf('>', lt);
    i = gt === -1 ? end : gt + 1;
  } else {
    i = semi === -1 ? end : semi;
  }
  let count = 0;
  while (i < end) {
    // i is at a ';' (or just past the '>'): read one parameter.
    if (v.charCodeAt(i) !== 0x3b) {
      i++;
      continue;
    }
    i++;
    while (i < end && (v.charCodeAt(i) === 0x20 || v.charCodeAt(i) === 0x09)) i++;
    const ns = i;
    while (i < end && isNameChar(v.charCodeAt(i))) i++;
    if (v.slice(ns, i).toLowerCase() === 'tag') count++;
    while (i < end && v.charCodeAt(i) !== 0x3b) {
      if (v.charCodeAt(i) === 0x22) {
        const q = quotedStringEnd(v, i, end);
        i = q === -1 ? end : q;
      } else i++;
    }
  }
  return count;
}

function isNameChar(c: number): boolean {
  return c < 128 && TOKEN_BYTE[c] === 1;
}

// ---- credentials -----------------------------------------------------------------------

/**
 * Authorization and Proxy-Authorization (RFC 3261 22.4, RFC 7616 3.4, Kamailio's digest
 * credentials check): each header decodes; Digest credentials carry username, realm,
 * nonce, uri and response, with a non-empty username, nonce and response, and cnonce and
 * nc when qop is given. Other schemes (RFC 8898 Bearer) only need to decode: the server
 * behind sipwarden decides what it accepts.
 *
 * Several credentials must leave no doubt which ones a server checks: a registrar picks
 * Digest credentials by realm (Kamailio's auth, pjsip), while sipwarden's watch cannot know
 * the realm of the server behind. So a request is refused (`400 Ambiguous Credentials`) when
 * it carries another scheme beside Digest (a `Basic` decoy in front of the real guess), two
 * Digest credentials for one realm, or Digest credentials for more than one realm that
 * sipwarden does not check itself (a made-up username in a made-up realm beside the real one).
 */
export function checkCredentials(ctx: SanityContext): SanityFailure | undefined {
  const msg = ctx.msg;
  if (!msg.isRequest) return undefined;
  const n = msg.headerCount;
  let count = 0;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id !== H.Authorization && id !== H.ProxyAuthorization) continue;
    const name = id === H.Authorization ? 'Authorization' : 'Proxy-Authorization';
    const problem = credentialsProblem(msg, k, name);
    if (problem !== undefined) return badRequest(`Bad ${name}`, problem);
    count++;
  }
  if (count < 2) return undefined;
  const conflict = credentialsConflict(msg, ctx.ownRealms);
  return conflict === undefined ? undefined : badRequest('Ambiguous Credentials', conflict);
}

/** Why several credentials headers are ambiguous, or undefined (they all decoded already). */
function credentialsConflict(msg: SipMessage, ownRealms: ReadonlySet<string>): string | undefined {
  const realms: string[] = [];
  let other = '';
  let foreign = 0;
  const n = msg.headerCount;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id !== H.Authorization && id !== H.ProxyAuthorization) continue;
    const h = parseAuthHeader(msg.headerValueAt(k), id === H.Authorization ? 'Authorization' : 'Proxy-Authorization');
    if (!h.isDigest) {
      other ||= h.scheme;
      continue;
    }
    const realm = h.realm ?? '';
    // Case-insensitive: a registrar comparing either way must not find two.
    const lower = realm.toLowerCase();
    if (realms.includes(lower)) return `two Digest credentials for realm "${realm}"`;
    realms.push(lower);
    if (!ownRealms.has(realm)) foreign++;
  }
  if (other !== '' && realms.length > 0) return `${other} credentials beside Digest`;
  if (foreign > 1) return 'Digest credentials for more than one realm of the server behind';
  return undefined;
}

/** One scan object for every message (the checks never run concurrently). */
const scan = new DigestScan();

/** Bits of the parameters Digest credentials must carry. */
const REQUIRED_DIGEST =
  (1 << DigestParam.Username) |
  (1 << DigestParam.Realm) |
  (1 << DigestParam.Nonce) |
  (1 << DigestParam.Uri) |
  (1 << DigestParam.Response);

function credentialsProblem(msg: SipMessage, k: number, name: string): string | undefined {
  const buf = msg.buf;
  if (!scan.scan(buf, msg.valueStartAt(k), msg.valueEndAt(k))) {
    // Ask the full decoder what is wrong.
    try {
      parseAuthHeader(msg.headerValueAt(k), name);
    } catch (err) {
      if (err instanceof SipParseError) return err.reason;
      throw err;
    }
    return `${name} does not decode`;
  }
  if (!scan.digest) return undefined;
  if ((scan.present & REQUIRED_DIGEST) !== REQUIRED_DIGEST) {
    for (let p = DigestParam.Username; p <= DigestParam.Response; p++) {
      if (!scan.has(p)) return `Digest without ${DIGEST_PARAM_NAMES[p]}`;
    }
  }
  if (scan.length(DigestParam.Username) === 0) return 'Digest with an empty username';
  if (scan.length(DigestParam.Nonce) === 0) return 'Digest with an empty nonce';
  if (scan.length(DigestParam.Response) === 0) return 'Digest with an empty response';
  if (scan.has(DigestParam.Qop)) {
    if (!scan.has(DigestParam.Cnonce)) return 'Digest qop without cnonce';
    if (!scan.has(DigestParam.Nc) || !isNonceCount(buf, scan.start[DigestParam.Nc]!, scan.end[DigestParam.Nc]!)) {
      return 'Digest qop without a valid nc';
    }
  }
  return undefined;
}

const DIGEST_PARAM_NAMES = ['username', 'realm', 'nonce', 'uri', 'response'];

/** nc = 8LHEX (RFC 7616 3.4). */
function isNonceCount(buf: Uint8Array, a: number, b: number): boolean {
  if (b - a !== 8) return false;
  for (let i = a; i < b; i++) {
    const c = buf[i]! | 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Every check, by its configuration name. */
export const SANITY_CHECK_FUNCTIONS: Readonly<Record<SanityCheck, SanityCheckFunction>> = Object.freeze({
  required_headers: checkRequiredHeaders,
  request_uri: checkRequestUri,
  via: checkVia,
  cseq: checkCSeq,
  content_length: checkContentLength,
  max_forwards: checkMaxForwards,
  expires: checkExpires,
  proxy_require: checkProxyRequire,
  uris: checkUris,
  to_tag: checkToTag,
  credentials: checkCredentials,
});
