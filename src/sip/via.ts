import { HOSTNAME, indexIn, isDigit, isIPv4, TOKEN } from './chars.js';
import { SipParseError } from './errors.js';
import { checkGenValue, checkToken } from './name-addr.js';
import { Params, parseParams, skipLws, trimEnd } from './params.js';
import { type HostType, isDomain, isIPv6Address } from './uri.js';

/** One Via entry (RFC 3261 20.42, RFC 3581 rport, RFC 5118 IPv6 forms). */
export class Via {
  constructor(
    /** Upper-case transport: UDP, TCP, TLS, SCTP, WS, WSS or an extension. */
    readonly transport: string,
    /** sent-by host as written; IPv6 references keep their brackets. */
    readonly host: string,
    readonly hostType: HostType,
    readonly port: number | undefined,
    readonly params: Params,
  ) {}

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }

  /** `null` when rport is present without a value (a request asking for it), else its port. */
  get rport(): number | null | undefined {
    const v = this.params.get('rport');
    if (v === undefined) return undefined;
    if (v === null) return null;
    const n = Number(v);
    return Number.isInteger(n) ? n : undefined;
  }

  /** The Via as it would be written, e.g. `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1`. */
  toString(): string {
    return `SIP/2.0/${this.transport} ${this.host}${this.port === undefined ? '' : `:${this.port}`}${this.params.toString()}`;
  }
}

function bad(): SipParseError {
  return new SipParseError('bad-header', 'Bad Via', 'Via');
}

/** Reads a token at s[i] and returns its end. */
function tokenEnd(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) break;
    i++;
  }
  return i;
}

/** Expects SWS "/" SWS at s[i]; returns the index after it. */
function slash(s: string, i: number, end: number): number {
  i = skipLws(s, i, end);
  if (i >= end || s.charCodeAt(i) !== 0x2f) throw bad();
  return skipLws(s, i + 1, end);
}

/** Parses one via-parm from s[start, end): sent-protocol LWS sent-by *(SEMI via-params). */
export function parseVia(s: string, start: number, end: number): Via {
  let i = skipLws(s, start, end);
  end = trimEnd(s, i, end);
  let e = tokenEnd(s, i, end);
  // "SIP" (any case) and "2.0", compared in place: no substring, no toUpperCase.
  if (e - i !== 3 || (s.charCodeAt(i) | 0x20) !== 0x73 || (s.charCodeAt(i + 1) | 0x20) !== 0x69) throw bad();
  if ((s.charCodeAt(i + 2) | 0x20) !== 0x70) throw bad();
  i = slash(s, e, end);
  e = tokenEnd(s, i, end);
  if (e - i !== 3 || s.charCodeAt(i) !== 0x32 || s.charCodeAt(i + 1) !== 0x2e || s.charCodeAt(i + 2) !== 0x30)
    throw bad();
  i = slash(s, e, end);
  e = tokenEnd(s, i, end);
  if (e === i) throw bad();
  const transport = transportName(s, i, e);
  i = e;
  const ws = i;
  i = skipLws(s, i, end);
  if (i === ws) throw bad();

  let host: string;
  let hostType: HostType;
  if (i < end && s.charCodeAt(i) === 0x5b) {
    const close = indexIn(s, 0x5d, i, end);
    if (close === -1 || !isIPv6Address(s.slice(i + 1, close))) throw bad();
    host = s.slice(i, close + 1);
    hostType = 'ipv6';
    i = close + 1;
  } else {
    const hs = i;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c >= 128 || HOSTNAME[c] === 0) break;
      i++;
    }
    if (i === hs) throw bad();
    host = s.slice(hs, i);
    hostType = isIPv4(s, hs, i) ? 'ipv4' : 'domain';
    if (hostType === 'domain' && !isDomain(host)) throw bad();
  }
  let port: number | undefined;
  const afterHost = skipLws(s, i, end);
  if (afterHost < end && s.charCodeAt(afterHost) === 0x3a) {
    i = skipLws(s, afterHost + 1, end);
    const ps = i;
    port = 0;
    while (i < end && isDigit(s.charCodeAt(i))) port = port * 10 + s.charCodeAt(i++) - 0x30;
    if (i === ps || i - ps > 5 || port > 65535) throw bad();
  }
  const params = new Params();
  // Values: token / host (IPv4, IPv6 with or without brackets, RFC 5118 4.5) / quoted.
  if (i < end) parseParams(s, i, end, 'Via', checkToken, checkGenValue, params);
  // The parameters a proxy routes responses by must mean what they say (RFC 3261 20.42,
  // RFC 3581): rport is a flag or a port, received an IP address.
  const rport = params.get('rport');
  if (rport !== undefined && rport !== null && !isPort(rport)) throw bad();
  const received = params.get('received');
  if (received !== undefined && (received === null || !isAddress(received))) throw bad();
  return new Via(transport, host, hostType, port, params);
}

const TRANSPORTS = ['UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS'];

/** Upper-case transport; the registered ones come back as shared constants (no allocation). */
function transportName(s: string, a: number, b: number): string {
  for (let t = 0; t < TRANSPORTS.length; t++) {
    const name = TRANSPORTS[t]!;
    if (name.length !== b - a) continue;
    let k = 0;
    while (k < name.length && (s.charCodeAt(a + k) & 0xdf) === name.charCodeAt(k)) k++;
    if (k === name.length) return name;
  }
  return s.slice(a, b).toUpperCase();
}

function isPort(v: string): boolean {
  if (v.length === 0 || v.length > 5) return false;
  for (let k = 0; k < v.length; k++) if (!isDigit(v.charCodeAt(k))) return false;
  return Number(v) <= 65535;
}

/** IPv4, or IPv6 with or without brackets (RFC 5118 4.5 allows both in received). */
function isAddress(v: string): boolean {
  if (v.charCodeAt(0) === 0x5b) return v.charCodeAt(v.length - 1) === 0x5d && isIPv6Address(v.slice(1, -1));
  return isIPv4(v) || isIPv6Address(v);
}
