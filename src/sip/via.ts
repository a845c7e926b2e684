import { isIPv4, isIPv6 } from 'node:net';
import { HOSTNAME, isDigit, TOKEN } from './chars.js';
import { SipParseError } from './errors.js';
import { checkGenValue, checkToken } from './name-addr.js';
import { Params, parseParams, skipLws, trimEnd } from './params.js';
import type { HostType } from './uri.js';

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
  if (s.charCodeAt(i) !== 0x2f) throw bad();
  return skipLws(s, i + 1, end);
}

/** Parses one via-parm from s[start, end): sent-protocol LWS sent-by *(SEMI via-params). */
export function parseVia(s: string, start: number, end: number): Via {
  let i = skipLws(s, start, end);
  end = trimEnd(s, i, end);
  let e = tokenEnd(s, i, end);
  if (e - i !== 3 || s.slice(i, e).toUpperCase() !== 'SIP') throw bad();
  i = slash(s, e, end);
  e = tokenEnd(s, i, end);
  if (s.slice(i, e) !== '2.0') throw bad();
  i = slash(s, e, end);
  e = tokenEnd(s, i, end);
  if (e === i) throw bad();
  const transport = s.slice(i, e).toUpperCase();
  i = e;
  const ws = i;
  i = skipLws(s, i, end);
  if (i === ws) throw bad();

  let host: string;
  let hostType: HostType;
  if (s.charCodeAt(i) === 0x5b) {
    const close = s.indexOf(']', i);
    if (close === -1 || close >= end || !isIPv6(s.slice(i + 1, close))) throw bad();
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
    hostType = isIPv4(host) ? 'ipv4' : 'domain';
  }
  let port: number | undefined;
  const afterHost = skipLws(s, i, end);
  if (afterHost < end && s.charCodeAt(afterHost) === 0x3a) {
    i = skipLws(s, afterHost + 1, end);
    const ps = i;
    while (i < end && isDigit(s.charCodeAt(i))) i++;
    if (i === ps || i - ps > 5) throw bad();
    port = Number(s.slice(ps, i));
    if (port > 65535) throw bad();
  }
  const params = new Params();
  // Values: token / host (IPv4, IPv6 with or without brackets, RFC 5118 4.5) / quoted.
  if (i < end) parseParams(s, i, end, 'Via', checkToken, checkGenValue, params);
  return new Via(transport, host, hostType, port, params);
}
