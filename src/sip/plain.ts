/**
 * Byte-level fast paths for the values decoded on nearly every message: the top Via,
 * From and To, the Request-URI. They read a plain value (ASCII on one line) straight from
 * the message's Buffer, which V8 scans faster than a string, in one pass where the string
 * parsers take several, and take the strings they return as slices of the message's
 * latin1 `head`.
 *
 * Each one handles the common shapes only and returns `undefined` for anything else,
 * errors included; the string parsers (via.ts, name-addr.ts, uri.ts) then decide. Those
 * stay the reference: a fast path only ever returns what its string parser returns for the
 * same text, and rejects nothing itself (test/sip/plain.test.ts checks the two agree).
 *
 * Offsets are into `buf`; `head` holds buf[base, ...), so buf[a, b) is head[a - base, b - base).
 */
import { HOSTNAME, ipv4End, isHex, isIPv4Bytes, TOKEN, URI_PARAM, URI_USER } from './chars.js';
import { NameAddr } from './name-addr.js';
import { Params } from './params.js';
import type { HostType, SipUri } from './uri.js';
import { Via } from './via.js';

function byteTable(ascii: Uint8Array, extra = ''): Uint8Array {
  const t = new Uint8Array(256);
  t.set(ascii);
  for (let i = 0; i < extra.length; i++) t[extra.charCodeAt(i)] = 1;
  return t;
}

const TOKEN_B = byteTable(TOKEN);
/** gen-value without quotes: token / host (checkGenValue in name-addr.ts). */
const GEN_VALUE_B = byteTable(TOKEN, ':[]');
const HOST_B = byteTable(HOSTNAME);
/** A host-name label: HOSTNAME without '.'. */
const LABEL_B = (() => {
  const t = byteTable(HOSTNAME);
  t[0x2e] = 0;
  return t;
})();
const USER_B = byteTable(URI_USER);
const PARAM_B = byteTable(URI_PARAM);

/** End of a run of `table` characters and %HH escapes from `i`, or -1 on a bad escape. */
function escapedRunEnd(buf: Buffer, i: number, b: number, table: Uint8Array): number {
  while (i < b) {
    const c = buf[i]!;
    if (table[c] === 1) i++;
    else if (c === 0x25) {
      if (i + 2 >= b || !isHex(buf[i + 1]!) || !isHex(buf[i + 2]!)) return -1;
      i += 3;
    } else break;
  }
  return i;
}

/** End of the run of `table` characters from `i`. */
function runEnd(buf: Buffer, i: number, b: number, table: Uint8Array): number {
  while (i < b && table[buf[i]!] === 1) i++;
  return i;
}

/**
 * Second return values of the helpers, without allocating: where the last scan stopped,
 * and the host type and port `hostPortAt` found. (A constant object: its fields are
 * cheaper to write than module-level `let`s, which need a TDZ check.)
 */
const at: { end: number; hostType: HostType; port: number | undefined } = { end: 0, hostType: 'none', port: undefined };

/** Port digits at buf[i, b) up to a non-digit: the port, or -1 if not 1-5 digits <= 65535. Sets `at.end`. */
function portAt(buf: Buffer, i: number, b: number): number {
  const ps = i;
  let port = 0;
  while (i < b) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) break;
    port = port * 10 + d;
    i++;
  }
  at.end = i;
  return i === ps || i - ps > 5 || port > 65535 ? -1 : port;
}

/**
 * host [":" port] at buf[i, b) (IPv4 or host name; IPv6 references are left to the string
 * parsers). Returns the host string or undefined; sets `at.hostType`, `at.port`, `at.end`.
 */
function hostPortAt(buf: Buffer, head: string, base: number, i: number, b: number): string | undefined {
  const hs = i;
  // The host is the longest run of host-name characters, an IPv4 address if the whole run
  // is one (uri.ts, via.ts). Either shape is read in one pass.
  const v4 = ipv4End(buf, i, b);
  if (v4 !== -1 && (v4 >= b || HOST_B[buf[v4]!] === 0)) {
    at.hostType = 'ipv4';
    i = v4;
  } else {
    i = domainEnd(buf, i, b);
    if (i === -1) return undefined;
    at.hostType = 'domain';
  }
  const host = head.slice(hs - base, i - base);
  at.port = undefined;
  if (i < b && buf[i] === 0x3a) {
    const p = portAt(buf, i + 1, b);
    if (p === -1) return undefined;
    at.port = p;
    i = at.end;
  }
  at.end = i;
  return host;
}

/**
 * End of the run of host-name characters at buf[i] (reading no further than `b`) if it
 * is a host name as `isDomain` (uri.ts) accepts it, else -1: labels not empty (but for a
 * trailing dot) and not starting or ending with '-', the top label starting with a letter.
 * test/sip/plain.test.ts checks the two agree.
 */
export function domainEnd(buf: Uint8Array, i: number, b: number): number {
  let top = -1;
  for (;;) {
    const labelStart = i;
    while (i < b && LABEL_B[buf[i]!] === 1) i++;
    const dot = i < b && buf[i] === 0x2e;
    if (i === labelStart) {
      if (!dot && top !== -1) break; // a trailing dot
      return -1;
    }
    if (buf[labelStart] === 0x2d || buf[i - 1] === 0x2d) return -1;
    top = labelStart;
    if (!dot) break;
    i++;
  }
  const c = buf[top]! | 0x20;
  return c >= 0x61 && c <= 0x7a ? i : -1;
}

/**
 * `;name[=value]` parameters at buf[i, b) without whitespace or quotes, names checked
 * against `names`, values against `values`. Stops at the first octet that cannot continue
 * them (sets `at.end`). Returns undefined on anything the fast path does not handle (more
 * than three parameters included), or a repeated name (an error the string parser
 * reports). `via`: also what via.ts requires of rport (a port, when it has a value) and
 * received (an address; IPv4 here), on the octets.
 *
 * The parameters are held in locals and the list built at its exact size in one go: no
 * growing array, no reused one (storing new strings into an old array costs write barriers).
 */
function paramsAt(
  buf: Buffer,
  head: string,
  base: number,
  i: number,
  b: number,
  names: Uint8Array,
  values: Uint8Array,
  escapes: boolean,
  via: boolean,
): Params | undefined {
  let n = 0;
  let n0 = '';
  let v0: string | null = null;
  let n1 = '';
  let v1: string | null = null;
  let n2 = '';
  let v2: string | null = null;
  while (i < b && buf[i] === 0x3b) {
    const ns = ++i;
    i = escapes ? escapedRunEnd(buf, i, b, names) : runEnd(buf, i, b, names);
    if (i <= ns || n === 3) return undefined;
    const name = paramName(buf, head, base, ns, i);
    if ((n > 0 && name === n0) || (n > 1 && name === n1)) return undefined;
    let value: string | null = null;
    if (i < b && buf[i] === 0x3d) {
      const vs = ++i;
      i = escapes ? escapedRunEnd(buf, i, b, values) : runEnd(buf, i, b, values);
      if (i <= vs) return undefined;
      if (via) {
        if (name === 'rport' && (portAt(buf, vs, i) === -1 || at.end !== i)) return undefined;
        if (name === 'received' && !isIPv4Bytes(buf, vs, i)) return undefined;
      }
      value = head.slice(vs - base, i - base);
    } else if (via && name === 'received') {
      return undefined;
    }
    if (n === 0) {
      n0 = name;
      v0 = value;
    } else if (n === 1) {
      n1 = name;
      v1 = value;
    } else {
      n2 = name;
      v2 = value;
    }
    n++;
  }
  at.end = i;
  return n === 0
    ? new Params()
    : new Params(n === 1 ? [n0, v0] : n === 2 ? [n0, v0, n1, v1] : [n0, v0, n1, v1, n2, v2]);
}

/** Parameter names seen on every message, shared instead of sliced (lower-case letters). */
const COMMON_PARAMS = [
  'branch',
  'rport',
  'received',
  'tag',
  'lr',
  'transport',
  'user',
  'maddr',
  'ttl',
  'ob',
  'expires',
];
const COMMON_BYTES = COMMON_PARAMS.map((name) => Buffer.from(name, 'latin1'));
/** (length, first, last letter) -> common parameter number + 1. */
const COMMON_KEY = new Uint8Array(16 << 10);

function paramKey(len: number, first: number, last: number): number {
  return (len << 10) | ((first & 0x1f) << 5) | (last & 0x1f);
}

for (let k = 0; k < COMMON_PARAMS.length; k++) {
  const name = COMMON_PARAMS[k]!;
  const key = paramKey(name.length, name.charCodeAt(0), name.charCodeAt(name.length - 1));
  if (COMMON_KEY[key] !== 0) throw new Error(`plain.ts: ${name} shares its key`);
  COMMON_KEY[key] = k + 1;
}

/** The lower-case parameter name at buf[a, b) (token or URI characters). */
function paramName(buf: Buffer, head: string, base: number, a: number, b: number): string {
  const len = b - a;
  if (len < 16) {
    const k = COMMON_KEY[paramKey(len, buf[a]!, buf[b - 1]!)]!;
    if (k !== 0) {
      // OR-ing 0x20 maps only letters onto letters (the common names are all letters).
      const bytes = COMMON_BYTES[k - 1]!;
      let j = 0;
      while (j < len && (buf[a + j]! | 0x20) === bytes[j]) j++;
      if (j === len) return COMMON_PARAMS[k - 1]!;
    }
  }
  const name = head.slice(a - base, b - base);
  for (let j = a; j < b; j++) if (buf[j]! >= 0x41 && buf[j]! <= 0x5a) return name.toLowerCase();
  return name;
}

/** Via: "SIP/2.0/" transport SP host [":" port] *(";" param), ending at `b` or a comma. */
export function plainVia(buf: Buffer, head: string, base: number, a: number, b: number): Via | undefined {
  let i = a;
  if (b - i < 10) return undefined;
  if ((buf[i]! | 0x20) !== 0x73 || (buf[i + 1]! | 0x20) !== 0x69 || (buf[i + 2]! | 0x20) !== 0x70) return undefined;
  if (buf[i + 3] !== 0x2f || buf[i + 4] !== 0x32 || buf[i + 5] !== 0x2e || buf[i + 6] !== 0x30) return undefined;
  if (buf[i + 7] !== 0x2f) return undefined;
  i += 8;
  const ts = i;
  while (i < b && TOKEN_B[buf[i]!] === 1) i++;
  const transport = transportName(buf, ts, i);
  if (transport === undefined || i >= b || buf[i] !== 0x20) return undefined;
  i++;
  const host = hostPortAt(buf, head, base, i, b);
  if (host === undefined) return undefined;
  const ht = at.hostType;
  const pt = at.port;
  const params = paramsAt(buf, head, base, at.end, b, TOKEN_B, GEN_VALUE_B, false, true);
  if (params === undefined) return undefined;
  i = at.end;
  // The first entry ends at the end of the value or at a comma (another entry follows).
  if (i < b && buf[i] !== 0x2c) return undefined;
  return new Via(transport, host, ht, pt, params);
}

const TRANSPORTS = ['UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS'];

/** The registered transports, upper-case, as shared constants; undefined for others. */
function transportName(buf: Buffer, a: number, b: number): string | undefined {
  for (let t = 0; t < TRANSPORTS.length; t++) {
    const name = TRANSPORTS[t]!;
    if (name.length !== b - a) continue;
    let k = 0;
    while (k < name.length && (buf[a + k]! & 0xdf) === name.charCodeAt(k)) k++;
    if (k === name.length) return name;
  }
  return undefined;
}

/**
 * A sip or sips URI at buf[a, ...): [user "@"] host [":" port] *(";" param), no password,
 * no IPv6 reference, no `?headers`; other schemes and forms go to uri.ts. It must end at
 * `b` (`close` = -1), or just before the octet `close` (a name-addr's '>', the first one
 * after '<' since no URI character is '>'). Sets `at.end` to where it ends.
 */
export function plainUri(
  buf: Buffer,
  head: string,
  base: number,
  a: number,
  b: number,
  close: number,
): SipUri | undefined {
  let i = a;
  if (b - i < 5 || (buf[i]! | 0x20) !== 0x73 || (buf[i + 1]! | 0x20) !== 0x69 || (buf[i + 2]! | 0x20) !== 0x70) {
    return undefined;
  }
  let scheme: string;
  if (buf[i + 3] === 0x3a) {
    scheme = 'sip';
    i += 4;
  } else if ((buf[i + 3]! | 0x20) === 0x73 && buf[i + 4] === 0x3a) {
    scheme = 'sips';
    i += 5;
  } else return undefined;

  // userinfo ends at the first '@' (uri.ts). User characters exclude '@', so a run of them
  // up to an '@' is the user; a run stopping elsewhere means no userinfo at all, or one
  // with a password (':'), which the host parse below then fails on: left to uri.ts.
  let user: string | undefined;
  const ue = escapedRunEnd(buf, i, b, USER_B);
  if (ue > i && ue < b && buf[ue] === 0x40) {
    user = head.slice(i - base, ue - base);
    i = ue + 1;
  }
  const host = hostPortAt(buf, head, base, i, b);
  if (host === undefined) return undefined;
  const ht = at.hostType;
  const pt = at.port;
  // Most URIs in From, To and the Request-URI have no parameters.
  const params =
    at.end < b && buf[at.end] === 0x3b
      ? paramsAt(buf, head, base, at.end, b, PARAM_B, PARAM_B, true, false)
      : new Params();
  if (params === undefined) return undefined;
  if (close === -1 ? at.end !== b : at.end >= b || buf[at.end] !== close) return undefined;
  return {
    scheme,
    user,
    password: undefined,
    host,
    hostType: ht,
    port: pt,
    params,
    headers: undefined,
    opaque: undefined,
  };
}

/**
 * name-addr or addr-spec with header parameters: [display-name] "<" sip-uri ">" or a sip
 * URI without "<>", then *(";" param). Display names: a quoted string without escapes, or
 * tokens separated by spaces.
 */
export function plainNameAddr(buf: Buffer, head: string, base: number, a: number, b: number): NameAddr | undefined {
  let i = a;
  let displayName: string | undefined;
  let angle = true;
  const c0 = buf[i];
  if (c0 === 0x22) {
    const ds = i + 1;
    i = ds;
    // No escapes: unquoting is then just the inside. (Octets >= 0x80 never reach here.)
    while (i < b && buf[i] !== 0x22 && buf[i] !== 0x5c) i++;
    if (i >= b || buf[i] !== 0x22) return undefined;
    displayName = head.slice(ds - base, i - base);
    i++;
    while (i < b && buf[i] === 0x20) i++;
    if (i >= b || buf[i] !== 0x3c) return undefined;
  } else if (c0 !== 0x3c) {
    // token display name, or an addr-spec
    const ds = i;
    while (i < b && (TOKEN_B[buf[i]!] === 1 || buf[i] === 0x20)) i++;
    if (i < b && buf[i] === 0x3c) {
      let de = i;
      while (de > ds && buf[de - 1] === 0x20) de--;
      if (de > ds) displayName = head.slice(ds - base, de - base);
    } else {
      // addr-spec: the URI runs to the first ';'.
      if (i >= b || buf[i] !== 0x3a) return undefined;
      angle = false;
      i = ds;
    }
  }
  let uri: SipUri | undefined;
  let uriStart: number;
  let uriEnd: number;
  if (angle) {
    uriStart = i + 1;
    uri = plainUri(buf, head, base, uriStart, b, 0x3e);
    uriEnd = at.end;
    i = uriEnd + 1;
  } else {
    uriStart = i;
    while (i < b && buf[i] !== 0x3b) {
      if (buf[i] === 0x2c) return undefined; // name-addr.ts: no comma in an addr-spec
      i++;
    }
    uriEnd = i;
    uri = plainUri(buf, head, base, uriStart, uriEnd, -1);
  }
  if (uri === undefined) return undefined;
  const params = paramsAt(buf, head, base, i, b, TOKEN_B, GEN_VALUE_B, false, false);
  if (params === undefined || at.end !== b) return undefined;
  return new NameAddr(displayName, uri, params, head.slice(uriStart - base, uriEnd - base));
}
