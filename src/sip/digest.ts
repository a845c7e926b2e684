import { TOKEN } from './chars.js';
import { headerError } from './errors.js';
import { unquote } from './name-addr.js';
import { quotedStringEnd, skipLws } from './params.js';

/**
 * An Authorization / Proxy-Authorization (credentials) or WWW-/Proxy-Authenticate
 * (challenge) header: a scheme and its auth-params (RFC 3261 25.1, RFC 7616/8760).
 * Parameter names are lower-cased; quoted values are unquoted. Unknown schemes parse too
 * (RFC 4475 3.3.7) so the proxy can carry them.
 */
export class AuthHeader {
  constructor(
    /** Scheme as written, e.g. `Digest`. */
    readonly scheme: string,
    readonly params: ReadonlyMap<string, string>,
  ) {}

  get isDigest(): boolean {
    return this.scheme.toLowerCase() === 'digest';
  }

  get username(): string | undefined {
    return this.params.get('username');
  }
  get realm(): string | undefined {
    return this.params.get('realm');
  }
  get nonce(): string | undefined {
    return this.params.get('nonce');
  }
  get uri(): string | undefined {
    return this.params.get('uri');
  }
  get response(): string | undefined {
    return this.params.get('response');
  }
  get cnonce(): string | undefined {
    return this.params.get('cnonce');
  }
  get opaque(): string | undefined {
    return this.params.get('opaque');
  }
  /** qop of credentials (`auth`), or the comma-separated qop-options of a challenge. */
  get qop(): string | undefined {
    return this.params.get('qop');
  }
  /** Challenge qop-options as a list, e.g. ['auth', 'auth-int']. */
  get qopOptions(): string[] {
    const q = this.params.get('qop');
    return q === undefined
      ? []
      : q
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x.length > 0);
  }
  get nc(): string | undefined {
    return this.params.get('nc');
  }
  /** Algorithm with its case normalised: MD5 (the default), SHA-256, SHA-512-256, and -sess forms. */
  get algorithm(): string {
    const a = this.params.get('algorithm');
    return a === undefined ? 'MD5' : a.toUpperCase();
  }
  get stale(): boolean {
    return this.params.get('stale')?.toLowerCase() === 'true';
  }
}

/** Parses `scheme auth-param *(COMMA auth-param)` (a scheme alone is allowed too). */
export function parseAuthHeader(s: string, header: string): AuthHeader {
  const end = s.length;
  let i = skipLws(s, 0, end);
  const ss = i;
  while (i < end && isTok(s.charCodeAt(i))) i++;
  if (i === ss) throw headerError(header);
  const scheme = s.slice(ss, i);
  const params = new Map<string, string>();
  i = skipLws(s, i, end);
  // RFC 7235 2.1: credentials are a scheme and either a token68 (`Bearer <token>`, RFC 8898;
  // `Basic <base64>`) or auth-params (always, for Digest: RFC 7616). A token68 is the whole
  // rest: its characters, then `=`s.
  let t = i;
  while (t < end && isToken68(s.charCodeAt(t))) t++;
  if (t > i && scheme.toLowerCase() !== 'digest') {
    while (t < end && s.charCodeAt(t) === 0x3d) t++;
    if (skipLws(s, t, end) >= end) return new AuthHeader(scheme, params);
  }
  while (i < end) {
    const ns = i;
    while (i < end && isTok(s.charCodeAt(i))) i++;
    if (i === ns) throw headerError(header);
    const name = s.slice(ns, i).toLowerCase();
    i = skipLws(s, i, end);
    if (s.charCodeAt(i) !== 0x3d) throw headerError(header);
    i = skipLws(s, i + 1, end);
    let value: string;
    if (s.charCodeAt(i) === 0x22) {
      const q = quotedStringEnd(s, i, end);
      if (q === -1) throw headerError(header, 'unbalanced quote');
      value = unquote(s.slice(i + 1, q - 1));
      i = q;
    } else {
      const vs = i;
      // token68-style values (base64 with '/' and '=') are tolerated for non-digest schemes.
      while (i < end && (isTok(s.charCodeAt(i)) || s.charCodeAt(i) === 0x2f || s.charCodeAt(i) === 0x3d)) i++;
      if (i === vs) throw headerError(header);
      value = s.slice(vs, i);
    }
    if (params.has(name)) throw headerError(header, `duplicate ${name}`);
    params.set(name, value);
    i = skipLws(s, i, end);
    if (i < end) {
      if (s.charCodeAt(i) !== 0x2c) throw headerError(header);
      i = skipLws(s, i + 1, end);
      if (i >= end) throw headerError(header);
    }
  }
  return new AuthHeader(scheme, params);
}

function isTok(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

/** RFC 7235 token68 characters, `=` padding aside: ALPHA / DIGIT / - . _ ~ + / */
function isToken68(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e ||
    c === 0x2b ||
    c === 0x2f
  );
}
