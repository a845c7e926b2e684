/**
 * Header knowledge in one place: numeric ids for the headers sipwarden reads, their
 * canonical spellings, compact forms (RFC 3261 7.3.3 and extensions) and which ones may
 * carry comma-separated lists. Identification works on raw bytes so the parser does not
 * allocate a string per header name.
 */
export enum H {
  Other = 0,
  Via,
  From,
  To,
  CallId,
  CSeq,
  MaxForwards,
  ContentLength,
  ContentType,
  Contact,
  Route,
  RecordRoute,
  Path,
  UserAgent,
  Server,
  Authorization,
  ProxyAuthorization,
  WwwAuthenticate,
  ProxyAuthenticate,
  Expires,
  MinExpires,
  Date,
  Supported,
  Require,
  ProxyRequire,
  Subject,
  ContentEncoding,
  Event,
  ReferTo,
  ReferredBy,
  AllowEvents,
  Allow,
  RetryAfter,
  Warning,
  Accept,
  Unsupported,
  Count,
}

export const CANONICAL_NAMES: readonly string[] = [
  '',
  'Via',
  'From',
  'To',
  'Call-ID',
  'CSeq',
  'Max-Forwards',
  'Content-Length',
  'Content-Type',
  'Contact',
  'Route',
  'Record-Route',
  'Path',
  'User-Agent',
  'Server',
  'Authorization',
  'Proxy-Authorization',
  'WWW-Authenticate',
  'Proxy-Authenticate',
  'Expires',
  'Min-Expires',
  'Date',
  'Supported',
  'Require',
  'Proxy-Require',
  'Subject',
  'Content-Encoding',
  'Event',
  'Refer-To',
  'Referred-By',
  'Allow-Events',
  'Allow',
  'Retry-After',
  'Warning',
  'Accept',
  'Unsupported',
];

/** Headers that appear at most once and whose value is never a list. */
export const SINGLETON: ReadonlySet<number> = new Set<number>([
  H.From,
  H.To,
  H.CallId,
  H.CSeq,
  H.MaxForwards,
  H.ContentLength,
  H.ContentType,
]);

/**
 * Headers whose values are comma-separated lists (RFC 3261 7.3.1). The auth headers are
 * not: their parameters are separated by commas within one value.
 */
export const LIST_HEADERS: ReadonlySet<number> = new Set<number>([
  H.Via,
  H.Contact,
  H.Route,
  H.RecordRoute,
  H.Path,
  H.Supported,
  H.Require,
  H.ProxyRequire,
  H.ContentEncoding,
  H.AllowEvents,
  H.Allow,
  H.Accept,
  H.Unsupported,
]);

const COMPACT: Record<string, H> = {
  v: H.Via,
  f: H.From,
  t: H.To,
  i: H.CallId,
  m: H.Contact,
  l: H.ContentLength,
  c: H.ContentType,
  k: H.Supported,
  s: H.Subject,
  e: H.ContentEncoding,
  o: H.Event,
  r: H.ReferTo,
  b: H.ReferredBy,
  u: H.AllowEvents,
};

const BY_LOWER_NAME = new Map<string, H>();
for (let id = 1; id < H.Count; id++) BY_LOWER_NAME.set(CANONICAL_NAMES[id]!.toLowerCase(), id as H);
for (const [c, id] of Object.entries(COMPACT)) BY_LOWER_NAME.set(c, id);

/** Identifies a header by name as written (any case, compact forms included). */
export function headerIdOf(name: string): H {
  return BY_LOWER_NAME.get(name.toLowerCase()) ?? H.Other;
}

/** Canonical spelling of a header name: `i` and `call-id` both give `Call-ID`. */
export function canonicalName(name: string): string {
  const id = headerIdOf(name);
  return id === H.Other ? name : CANONICAL_NAMES[id]!;
}

// Byte-level identification: a known name is looked up by (length, first, last character),
// which no two known names share, then compared in full. One table read and one short
// compare per header, however many names are known.
const MAX_NAME = 31;
const CANDIDATE = new Uint8Array((MAX_NAME + 1) << 10); // key -> candidate number + 1
const CANDIDATE_BYTES: Uint8Array[] = [];
/**
 * The lower-case name as little-endian 32-bit words: at offsets 0, 4, 8... while a whole
 * word fits, then one more ending at the last byte (it may overlap the previous one).
 */
const CANDIDATE_WORDS: Int32Array[] = [];
const CANDIDATE_ID: H[] = [];

function nameKey(len: number, first: number, last: number): number {
  return (len << 10) | ((first & 0x1f) << 5) | (last & 0x1f);
}

for (const [name, id] of BY_LOWER_NAME) {
  const key = nameKey(name.length, name.charCodeAt(0), name.charCodeAt(name.length - 1));
  if (CANDIDATE[key] !== 0) throw new Error(`header-names: ${name} shares its key`);
  const bytes = Buffer.from(name, 'latin1');
  const words: number[] = [];
  if (bytes.length >= 4) {
    for (let k = 0; k + 4 <= bytes.length; k += 4) words.push(bytes.readInt32LE(k));
    words.push(bytes.readInt32LE(bytes.length - 4));
  }
  CANDIDATE_BYTES.push(bytes);
  CANDIDATE_WORDS.push(Int32Array.from(words));
  CANDIDATE_ID.push(id);
  CANDIDATE[key] = CANDIDATE_ID.length;
}

/**
 * Identifies the header name at buf[start, start+len). The bytes must already be known
 * to be token characters: OR-ing 0x20 then folds case without mapping any token
 * character onto another one used in a known name.
 */
export function identifyHeader(buf: Uint8Array, start: number, len: number): H {
  if (len > MAX_NAME || len === 0) return H.Other;
  const c = CANDIDATE[nameKey(len, buf[start]!, buf[start + len - 1]!)]!;
  if (c === 0) return H.Other;
  const b = CANDIDATE_BYTES[c - 1]!;
  for (let i = 0; i < len; i++) if ((buf[start + i]! | 0x20) !== b[i]) return H.Other;
  return CANDIDATE_ID[c - 1]!;
}

/**
 * `identifyHeader` comparing four octets at a time through `view`, a DataView over the
 * same octets as `buf` (the parser has one). 0x20 is OR-ed into every octet of a word; on
 * printable octets (0x20-0x7e, which is all the parser passes) that folds case and maps
 * nothing else onto a letter or '-', so a match is exact and the name a token. (CR would
 * fold to '-'.)
 */
export function identifyHeaderWords(view: DataView, buf: Uint8Array, start: number, len: number): H {
  if (len > MAX_NAME || len === 0) return H.Other;
  const c = CANDIDATE[nameKey(len, buf[start]!, buf[start + len - 1]!)]!;
  if (c === 0) return H.Other;
  if (len < 4) {
    const b = CANDIDATE_BYTES[c - 1]!;
    for (let i = 0; i < len; i++) if ((buf[start + i]! | 0x20) !== b[i]) return H.Other;
  } else {
    const w = CANDIDATE_WORDS[c - 1]!;
    const m = w.length - 1;
    for (let k = 0; k < m; k++) if ((view.getInt32(start + 4 * k, true) | 0x20202020) !== w[k]) return H.Other;
    if ((view.getInt32(start + len - 4, true) | 0x20202020) !== w[m]) return H.Other;
  }
  return CANDIDATE_ID[c - 1]!;
}

const METHODS = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'UPDATE',
  'INFO',
  'MESSAGE',
  'SUBSCRIBE',
  'NOTIFY',
  'REFER',
  'PUBLISH',
];
/** (length, first character) -> method number + 1; no two methods above share a key. */
const METHOD_KEY = new Uint8Array(32 * 32);
for (let k = 0; k < METHODS.length; k++) {
  const m = METHODS[k]!;
  METHOD_KEY[(m.length << 5) | (m.charCodeAt(0) & 0x1f)] = k + 1;
}

/** The methods `methodName` returns as shared constants, in `methodNumber` order. */
export const KNOWN_METHODS: readonly string[] = METHODS;

/** Whether `method` is one of the shared constants `methodName` returns. */
export function isKnownMethod(method: string): boolean {
  return methodNumber(method) !== METHODS.length;
}

/** The position of `method` in KNOWN_METHODS, or KNOWN_METHODS.length for any other (a bounded label). */
export function methodNumber(method: string): number {
  const k = METHOD_KEY[((method.length & 31) << 5) | (method.charCodeAt(0) & 0x1f)]!;
  return k !== 0 && METHODS[k - 1] === method ? k - 1 : METHODS.length;
}

/** `methodNumber` of the method name at buf[a, b), read on the octets (nothing decoded). */
export function methodNumberAt(buf: Uint8Array, a: number, b: number): number {
  const len = b - a;
  if (len <= 0 || len >= 32) return METHODS.length;
  const k = METHOD_KEY[(len << 5) | (buf[a]! & 0x1f)]!;
  if (k === 0) return METHODS.length;
  const m = METHODS[k - 1]!;
  for (let i = 0; i < len; i++) if (buf[a + i] !== m.charCodeAt(i)) return METHODS.length;
  return k - 1;
}

/**
 * The method name at buf[a, b), case-sensitive (RFC 3261 7.1). The methods of RFC 3261 and
 * its common extensions come back as shared constant strings, so parsing one allocates
 * nothing; any other token is decoded.
 */
export function methodName(buf: Buffer, a: number, b: number): string {
  const len = b - a;
  if (len < 32) {
    const k = METHOD_KEY[(len << 5) | (buf[a]! & 0x1f)]!;
    if (k !== 0) {
      const m = METHODS[k - 1]!;
      let i = 0;
      while (i < len && buf[a + i] === m.charCodeAt(i)) i++;
      if (i === len) return m;
    }
  }
  return buf.toString('latin1', a, b);
}
