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

// Buckets of lower-case names by length, for byte-level identification.
const BY_LENGTH: Array<Array<{ bytes: Uint8Array; id: H }>> = [];
for (const [name, id] of BY_LOWER_NAME) {
  BY_LENGTH[name.length] ??= [];
  BY_LENGTH[name.length]!.push({ bytes: Buffer.from(name, 'latin1'), id });
}
for (let i = 0; i < BY_LENGTH.length; i++) BY_LENGTH[i] ??= [];

/**
 * Identifies the header name at buf[start, start+len). The bytes must already be known
 * to be token characters: OR-ing 0x20 then folds case without mapping any token
 * character onto another one used in a known name.
 */
export function identifyHeader(buf: Uint8Array, start: number, len: number): H {
  if (len >= BY_LENGTH.length) return H.Other;
  const bucket = BY_LENGTH[len]!;
  for (let k = 0; k < bucket.length; k++) {
    const cand = bucket[k]!;
    const b = cand.bytes;
    let i = 0;
    while (i < len && (buf[start + i]! | 0x20) === b[i]) i++;
    if (i === len) return cand.id;
  }
  return H.Other;
}
