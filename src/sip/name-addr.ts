import { indexIn, TOKEN } from './chars.js';
import { SipParseError } from './errors.js';
import { Params, parseParams, quotedStringEnd, skipLws, trimEnd } from './params.js';
import { parseUri, type SipUri } from './uri.js';

/** name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route, Path. */
export class NameAddr {
  constructor(
    /** Display name, unquoted and unescaped; `undefined` when absent. */
    readonly displayName: string | undefined,
    readonly uri: SipUri,
    /** Header parameters (after the URI), e.g. tag, expires, q. */
    readonly params: Params,
    /** The URI exactly as written. */
    readonly uriText: string,
  ) {}

  get tag(): string | undefined {
    const t = this.params.get('tag');
    return t ?? undefined;
  }
}

/** Checks a header-parameter name: token. */
export function checkToken(s: string, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return b > a;
}

/** gen-value = token / host / quoted-string (quoted strings are handled by the caller). */
export function checkGenValue(s: string, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return false;
    if (TOKEN[c] === 0 && c !== 0x3a && c !== 0x5b && c !== 0x5d) return false;
  }
  return b > a;
}

/** Parses one name-addr or addr-spec with its parameters from s[start, end). */
export function parseNameAddr(s: string, start: number, end: number, what: string): NameAddr {
  let i = skipLws(s, start, end);
  end = trimEnd(s, i, end);
  let displayName: string | undefined;
  let uriStart: number;
  let uriEnd: number;
  let rest: number;
  let angle = true;
  // s may be a whole message head parsed in place: never read at or past `end`.
  const c0 = i < end ? s.charCodeAt(i) : -1;
  if (c0 === 0x22) {
    const q = quotedStringEnd(s, i, end);
    if (q === -1) throw bad(what);
    displayName = unquote(s.slice(i + 1, q - 1));
    i = skipLws(s, q, end);
    if (i >= end || s.charCodeAt(i) !== 0x3c) throw bad(what);
    ({ uriStart, uriEnd, rest } = angleUri(s, i, end, what));
  } else {
    // Either `*(token LWS) <uri>` or an addr-spec: a display name has no ':'; a URI has its scheme's.
    let j = i;
    while (j < end) {
      const c = s.charCodeAt(j);
      if (c === 0x3c || c === 0x3a) break;
      if (c < 128 && TOKEN[c] === 0 && c !== 0x20 && c !== 0x09) throw bad(what);
      j++;
    }
    if (j >= end) throw bad(what);
    if (s.charCodeAt(j) === 0x3c) {
      const dn = trimEnd(s, i, j);
      if (dn > i) displayName = s.slice(i, dn);
      ({ uriStart, uriEnd, rest } = angleUri(s, j, end, what));
    } else {
      // addr-spec: the URI ends at the first ';' (its parameters are the header's).
      angle = false;
      uriStart = i;
      const semi = indexIn(s, 0x3b, i, end);
      uriEnd = semi === -1 ? end : semi;
      uriEnd = trimEnd(s, uriStart, uriEnd);
      rest = uriEnd;
      for (let k = uriStart; k < uriEnd; k++) {
        const c = s.charCodeAt(k);
        if (c === 0x20 || c === 0x09 || c === 0x2c) throw bad(what);
      }
    }
  }
  const uri = parseUri(s, uriStart, uriEnd, angle ? 'name-addr' : 'addr-spec', what);
  const params = new Params();
  if (rest < end) parseParams(s, rest, end, what, checkToken, checkGenValue, params);
  return new NameAddr(displayName, uri, params, s.slice(uriStart, uriEnd));
}

function angleUri(
  s: string,
  lt: number,
  end: number,
  what: string,
): { uriStart: number; uriEnd: number; rest: number } {
  const gt = indexIn(s, 0x3e, lt + 1, end);
  if (gt === -1) throw bad(what);
  // RFC 4475 3.1.2.14: no whitespace inside the angle brackets.
  const c1 = s.charCodeAt(lt + 1);
  const c2 = s.charCodeAt(gt - 1);
  if (gt === lt + 1 || c1 === 0x20 || c1 === 0x09 || c2 === 0x20 || c2 === 0x09) throw bad(what);
  return { uriStart: lt + 1, uriEnd: gt, rest: gt + 1 };
}

/** Removes quoted-pair escapes from the inside of a quoted string. */
export function unquote(s: string): string {
  if (s.indexOf('\\') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) out += s[++i];
    else out += c;
  }
  return out;
}

function bad(what: string): SipParseError {
  return new SipParseError('bad-header', `Bad ${what}`, what);
}
