import { isIPv6 } from 'node:net';
import {
  HOSTNAME,
  indexIn,
  isDigit,
  isEscapedRun,
  isIPv4,
  SCHEME,
  TEL,
  URI_HEADER,
  URI_PARAM,
  URI_PASSWORD,
  URI_USER,
} from './chars.js';
import { SipParseError } from './errors.js';
import { Params, parseParams } from './params.js';

export type HostType = 'domain' | 'ipv4' | 'ipv6' | 'none';

/**
 * A parsed URI. sip, sips and tel are decoded into parts; any other scheme keeps its
 * text after the colon in `opaque` (RFC 4475 3.3.2: a proxy must carry unknown schemes).
 * `user`, `password`, parameter values and `headers` keep their %-escapes as written.
 */
export interface SipUri {
  /** Lower-case scheme: `sip`, `sips`, `tel`, or another. */
  scheme: string;
  user: string | undefined;
  password: string | undefined;
  /** Host as written; IPv6 references keep their brackets. Empty for tel and opaque URIs. */
  host: string;
  hostType: HostType;
  port: number | undefined;
  params: Params;
  /** The `?`-part of a sip/sips URI, without the `?`. */
  headers: string | undefined;
  /** Scheme-specific text of a URI that is neither sip, sips nor tel. */
  opaque: string | undefined;
}

/** Where a URI appears: the Request-URI and addr-spec forbid some parts RFC 3261 allows elsewhere. */
export type UriContext = 'request-uri' | 'name-addr' | 'addr-spec';

const URI_HEADERS_CHARS = (() => {
  const t = URI_HEADER.slice();
  t[0x3d] = 1; // '='
  t[0x26] = 1; // '&'
  return t;
})();

function checkParamPart(s: string, a: number, b: number): boolean {
  return isEscapedRun(s, a, b, URI_PARAM);
}

function checkTel(s: string, a: number, b: number): boolean {
  return isEscapedRun(s, a, b, TEL);
}

function bad(what: string): SipParseError {
  return what === 'Request-URI'
    ? new SipParseError('bad-request-uri', 'Bad Request-URI')
    : new SipParseError('bad-header', `Bad ${what} URI`, what);
}

/** Parses the URI in s[start, end). `what` names the header (or `Request-URI`) for errors. */
export function parseUri(
  s: string,
  start = 0,
  end = s.length,
  context: UriContext = 'name-addr',
  what = 'URI',
): SipUri {
  const colon = indexIn(s, 0x3a, start, end);
  if (colon <= start) throw bad(what);
  const c0 = s.charCodeAt(start);
  if (!((c0 >= 0x41 && c0 <= 0x5a) || (c0 >= 0x61 && c0 <= 0x7a))) throw bad(what);
  for (let i = start + 1; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || SCHEME[c] === 0) throw bad(what);
  }
  const scheme = s.slice(start, colon).toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return parseSipParts(s, colon + 1, end, scheme, context, what);
  if (scheme === 'tel') return parseTelParts(s, colon + 1, end, what);
  // Unknown scheme: keep it opaque, but never let whitespace, controls or delimiters in.
  if (colon + 1 >= end) throw bad(what);
  for (let i = colon + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3c || c === 0x3e || c === 0x22) throw bad(what);
    if (context === 'addr-spec' && (c === 0x3b || c === 0x2c || c === 0x3f)) throw bad(what);
  }
  return {
    scheme,
    user: undefined,
    password: undefined,
    host: '',
    hostType: 'none',
    port: undefined,
    params: new Params(),
    headers: undefined,
    opaque: s.slice(colon + 1, end),
  };
}

function parseSipParts(s: string, p: number, end: number, scheme: string, context: UriContext, what: string): SipUri {
  let user: string | undefined;
  let password: string | undefined;
  // No '@' may appear unescaped after the userinfo, so the first one ends it.
  const at = indexIn(s, 0x40, p, end);
  if (at !== -1) {
    const pw = indexIn(s, 0x3a, p, at);
    const userEnd = pw !== -1 ? pw : at;
    if (userEnd === p || !isEscapedRun(s, p, userEnd, URI_USER)) throw bad(what);
    user = s.slice(p, userEnd);
    if (userEnd < at) {
      if (!isEscapedRun(s, userEnd + 1, at, URI_PASSWORD)) throw bad(what);
      password = s.slice(userEnd + 1, at);
    }
    p = at + 1;
  }

  let host: string;
  let hostType: HostType;
  let i = p;
  if (p < end && s.charCodeAt(p) === 0x5b) {
    const close = indexIn(s, 0x5d, p, end);
    if (close === -1 || !isIPv6Address(s.slice(p + 1, close))) throw bad(what);
    host = s.slice(p, close + 1);
    hostType = 'ipv6';
    i = close + 1;
  } else {
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c >= 128 || HOSTNAME[c] === 0) break;
      i++;
    }
    if (i === p) throw bad(what);
    host = s.slice(p, i);
    hostType = isIPv4(host) ? 'ipv4' : 'domain';
    if (hostType === 'domain' && !isDomain(host)) throw bad(what);
  }

  let port: number | undefined;
  if (i < end && s.charCodeAt(i) === 0x3a) {
    const ps = ++i;
    while (i < end && isDigit(s.charCodeAt(i))) i++;
    if (i === ps || i - ps > 5) throw bad(what);
    port = Number(s.slice(ps, i));
    if (port > 65535) throw bad(what);
  }

  let headers: string | undefined;
  let paramsEnd = end;
  const q = indexIn(s, 0x3f, i, end);
  if (q !== -1) {
    // RFC 3261 19.1.1: headers are not allowed in a Request-URI; an addr-spec with '?'
    // must be written as a name-addr (RFC 4475 3.1.2.11 and 3.1.2.13).
    if (context !== 'name-addr') throw bad(what);
    if (q + 1 >= end || !isEscapedRun(s, q + 1, end, URI_HEADERS_CHARS)) throw bad(what);
    headers = s.slice(q + 1, end);
    paramsEnd = q;
  }
  const params = new Params();
  if (i < paramsEnd) {
    if (s.charCodeAt(i) !== 0x3b) throw bad(what);
    // URI parameters allow no whitespace and no quoted values: check before the
    // LWS- and quote-tolerant header parameter parser runs.
    for (let k = i; k < paramsEnd; k++) {
      const c = s.charCodeAt(k);
      if (c === 0x20 || c === 0x09 || c === 0x22) throw bad(what);
    }
    parseParams(s, i, paramsEnd, what, checkParamPart, checkParamPart, params);
  }
  return { scheme, user, password, host, hostType, port, params, headers, opaque: undefined };
}

function parseTelParts(s: string, p: number, end: number, what: string): SipUri {
  let semi = indexIn(s, 0x3b, p, end);
  if (semi === -1) semi = end;
  if (semi === p || !checkTel(s, p, semi)) throw bad(what);
  const params = new Params();
  if (semi < end) parseParams(s, semi, end, what, checkTel, checkTel, params);
  return {
    scheme: 'tel',
    user: s.slice(p, semi),
    password: undefined,
    host: '',
    hostType: 'none',
    port: undefined,
    params,
    headers: undefined,
    opaque: undefined,
  };
}

/**
 * hostname = *( domainlabel "." ) toplabel [ "." ] (RFC 3261 25.1): labels do not start or
 * end with '-', and the top label starts with a letter, so `999.1.1.1` or `10.0.0.01`
 * (not IPv4 addresses) are not taken for host names either. The characters are checked by
 * the caller.
 */
export function isDomain(host: string): boolean {
  const n = host.length;
  let labelStart = 0;
  let top = -1;
  for (let i = 0; i <= n; i++) {
    if (i < n && host.charCodeAt(i) !== 0x2e) continue;
    if (i === labelStart) {
      if (i === n && top !== -1) break; // a trailing dot
      return false;
    }
    if (host.charCodeAt(labelStart) === 0x2d || host.charCodeAt(i - 1) === 0x2d) return false;
    top = labelStart;
    labelStart = i + 1;
  }
  const c = host.charCodeAt(top) | 0x20;
  return c >= 0x61 && c <= 0x7a;
}

/** An IPv6 address as found inside `[...]`: no zone index (RFC 3261 has none; RFC 6874 is not for SIP). */
export function isIPv6Address(a: string): boolean {
  return a.indexOf('%') === -1 && isIPv6(a);
}

/** Writes a URI back in its canonical form. */
export function formatUri(uri: SipUri): string {
  if (uri.opaque !== undefined) return `${uri.scheme}:${uri.opaque}`;
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined) {
    out += uri.user;
    if (uri.password !== undefined) out += `:${uri.password}`;
    if (uri.scheme !== 'tel') out += '@';
  }
  out += uri.host;
  if (uri.port !== undefined) out += `:${uri.port}`;
  out += uri.params.toString();
  if (uri.headers !== undefined) out += `?${uri.headers}`;
  return out;
}

/** The address of a host as a socket API wants it: IPv6 without brackets. */
export function hostAddress(host: string): string {
  return host.charCodeAt(0) === 0x5b ? host.slice(1, -1) : host;
}
