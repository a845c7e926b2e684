/**
 * A scan of an Authorization / Proxy-Authorization value on its octets, for the guards:
 * the scheme, and where the values of the digest parameters they read start and end. No
 * string is made and nothing is allocated; the scan object is reused. A value it cannot
 * read (it follows the grammar of sip/digest.ts, RFC 3261 25.1) makes it return false, and
 * the caller asks the full decoder for the precise error.
 *
 *   credentials = auth-scheme LWS auth-param *(COMMA auth-param)
 *   auth-param  = token LWS "=" LWS ( token / quoted-string )    (token68 octets tolerated)
 */

/** The parameters the guards read, by index. */
export enum DigestParam {
  Username = 0,
  Realm = 1,
  Nonce = 2,
  Uri = 3,
  Response = 4,
  Qop = 5,
  Cnonce = 6,
  Nc = 7,
  Count = 8,
}

const NAMES = ['username', 'realm', 'nonce', 'uri', 'response', 'qop', 'cnonce', 'nc'];
const NAME_BYTES = NAMES.map((n) => Buffer.from(n, 'latin1'));

/** token characters (RFC 3261 25.1), and token68's '/' and '=' for values. */
const TOKEN = (() => {
  const t = new Uint8Array(256);
  for (const c of "-.!%*_+`'~") t[c.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  return t;
})();

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

export class DigestScan {
  /** The scheme is `Digest` (any case). */
  digest = false;
  /** Bit `1 << DigestParam` set for each parameter present. */
  present = 0;
  /** Value bounds (inside the quotes for a quoted value), per DigestParam. */
  readonly start = new Int32Array(DigestParam.Count);
  readonly end = new Int32Array(DigestParam.Count);
  /** Bit set when the value was a quoted-string (it may hold `\` escapes). */
  quoted = 0;

  has(p: DigestParam): boolean {
    return (this.present & (1 << p)) !== 0;
  }

  length(p: DigestParam): number {
    return this.end[p]! - this.start[p]!;
  }

  /** Reads buf[a, b); returns false when the value does not follow the grammar. */
  scan(buf: Uint8Array, a: number, b: number): boolean {
    this.digest = false;
    this.present = 0;
    this.quoted = 0;
    let i = a;
    while (i < b && isLws(buf[i]!)) i++;
    const ss = i;
    while (i < b && TOKEN[buf[i]!] === 1) i++;
    if (i === ss) return false;
    this.digest = i - ss === 6 && matches(buf, ss, 'digest');
    while (i < b && isLws(buf[i]!)) i++;
    while (i < b) {
      const ns = i;
      while (i < b && TOKEN[buf[i]!] === 1) i++;
      if (i === ns) return false;
      const param = paramIndex(buf, ns, i);
      while (i < b && isLws(buf[i]!)) i++;
      if (buf[i] !== 0x3d) return false;
      i++;
      while (i < b && isLws(buf[i]!)) i++;
      let vs: number;
      let ve: number;
      if (buf[i] === 0x22) {
        vs = ++i;
        while (i < b && buf[i] !== 0x22) i += buf[i] === 0x5c ? 2 : 1;
        if (i >= b) return false;
        ve = i++;
        if (param !== -1) this.quoted |= 1 << param;
      } else {
        vs = i;
        while (i < b && (TOKEN[buf[i]!] === 1 || buf[i] === 0x2f || buf[i] === 0x3d)) i++;
        if (i === vs) return false;
        ve = i;
      }
      if (param !== -1) {
        if ((this.present & (1 << param)) !== 0) return false; // given twice
        this.present |= 1 << param;
        this.start[param] = vs;
        this.end[param] = ve;
      }
      while (i < b && isLws(buf[i]!)) i++;
      if (i < b) {
        if (buf[i] !== 0x2c) return false;
        i++;
        while (i < b && isLws(buf[i]!)) i++;
        if (i >= b) return false;
      }
    }
    return true;
  }
}

function matches(buf: Uint8Array, a: number, lower: string): boolean {
  for (let j = 0; j < lower.length; j++) if ((buf[a + j]! | 0x20) !== lower.charCodeAt(j)) return false;
  return true;
}

function paramIndex(buf: Uint8Array, a: number, b: number): number {
  const len = b - a;
  for (let p = 0; p < NAME_BYTES.length; p++) {
    const name = NAME_BYTES[p]!;
    if (name.length !== len) continue;
    let j = 0;
    while (j < len && (buf[a + j]! | 0x20) === name[j]) j++;
    if (j === len) return p;
  }
  return -1;
}
