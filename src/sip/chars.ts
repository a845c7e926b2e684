/** Character classes of RFC 3261 section 25, as 128-entry lookup tables (ASCII only). */

function table(chars: string, ranges: Array<[number, number]> = []): Uint8Array {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  for (const [a, b] of ranges) for (let c = a; c <= b; c++) t[c] = 1;
  return t;
}

const ALNUM: Array<[number, number]> = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x61, 0x7a],
];

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const TOKEN = table("-.!%*_+`'~", ALNUM);
/** unreserved = alphanum / mark */
const UNRESERVED = "-_.!~*'()";
/** Characters allowed unescaped in the user part of a SIP URI. */
export const URI_USER = table(`${UNRESERVED}&=+$,;?/`, ALNUM);
/** Characters allowed unescaped in a SIP URI password. */
export const URI_PASSWORD = table(`${UNRESERVED}&=+$,`, ALNUM);
/** paramchar = param-unreserved / unreserved / escaped */
export const URI_PARAM = table(`${UNRESERVED}[]/:&+$`, ALNUM);
/** hnv-unreserved / unreserved for URI headers */
export const URI_HEADER = table(`${UNRESERVED}[]/?:+$`, ALNUM);
/** Host names: alphanum, "-" and "." ("_" tolerated: it is common in the wild and harmless). */
export const HOSTNAME = table('-._', ALNUM);
/** Characters of a URI scheme after the first letter. */
export const SCHEME = table('+-.', ALNUM);
/** Characters of a tel URI's number and parameters (RFC 3966), visual separators included. */
export const TEL = table(`${UNRESERVED}+#*[]/:&$=;%,`, ALNUM);

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HT = 0x09;
export const COLON = 0x3a;

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

export function isWs(c: number): boolean {
  return c === SP || c === HT;
}

/**
 * Index of the first character `code` in s[from, end), or -1. Used instead of
 * `s.indexOf` where `s` holds a whole list and the search must stop at the element's end:
 * an unbounded search per element is quadratic in the length of the list.
 */
export function indexIn(s: string, code: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (s.charCodeAt(i) === code) return i;
  return -1;
}

/** True if every character of `s` in [start, end) is a token character. */
export function isToken(s: string, start = 0, end = s.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/**
 * True if s[start, end) consists of characters from `allowed` or valid %HH escapes.
 * Bytes >= 0x80 (UTF-8) are rejected: URIs carry them escaped.
 */
export function isEscapedRun(s: string, start: number, end: number, allowed: Uint8Array): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (i + 2 >= end) return false;
      if (!isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
      i += 2;
    } else if (c >= 128 || allowed[c] === 0) {
      return false;
    }
  }
  return true;
}

/** Decodes %HH escapes (as UTF-8). Invalid escapes are left as they are. */
export function unescapeUri(s: string): string {
  if (s.indexOf('%') === -1) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  }
}

/** TOKEN as a 256-entry table, for scanning raw bytes without a `c < 128` test. */
export const TOKEN_BYTE = (() => {
  const t = new Uint8Array(256);
  t.set(TOKEN);
  return t;
})();

/**
 * True if s[start, end) is a dotted-quad IPv4 address: four decimal numbers 0-255 without
 * leading zeros, as `net.isIPv4` accepts, without its regular expression or a substring.
 */
export function isIPv4(s: string, start = 0, end = s.length): boolean {
  let parts = 0;
  let i = start;
  for (;;) {
    const ps = i;
    let n = 0;
    while (i < end && i - ps < 4) {
      const d = s.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      i++;
    }
    const digits = i - ps;
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && s.charCodeAt(ps) === 0x30)) return false;
    if (++parts === 4) return i === end;
    if (i >= end || s.charCodeAt(i) !== 0x2e) return false;
    i++;
  }
}

/** `isIPv4` on the octets buf[start, end). */
export function isIPv4Bytes(buf: Uint8Array, start: number, end: number): boolean {
  return ipv4End(buf, start, end) === end;
}

/**
 * End of the dotted-quad IPv4 address (as `isIPv4` accepts it) that starts at buf[start],
 * reading no further than `end`; -1 if there is none.
 */
export function ipv4End(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  for (let part = 0; ; part++) {
    const ps = i;
    let n = 0;
    while (i < end && i - ps < 4) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      i++;
    }
    const digits = i - ps;
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && buf[ps] === 0x30)) return -1;
    if (part === 3) return i;
    if (i >= end || buf[i] !== 0x2e) return -1;
    i++;
  }
}
