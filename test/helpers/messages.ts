/** Builders for crafted SIP messages in tests. */

export interface BuildOptions {
  /** Start line; defaults to an OPTIONS request (or the method of `method`). */
  startLine?: string;
  /** Method of the default start line and CSeq. */
  method?: string;
  body?: string | Buffer;
  /** Add `Content-Length` (in bytes) at the end of the headers unless the headers set one. Default true. */
  contentLength?: boolean;
}

/**
 * Default headers of a minimal valid request. `headers` overrides them by exact name: a
 * string replaces the value, an array writes one line per value, `null` removes the
 * header. Names not in the defaults are appended in the order given.
 */
export function request(headers: Record<string, string | string[] | null> = {}, options: BuildOptions = {}): Buffer {
  const method = options.method ?? 'OPTIONS';
  const defaults: Record<string, string | string[] | null> = {
    Via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9',
    'Max-Forwards': '70',
    From: 'Alice <sip:alice@example.com>;tag=9fxced76sl',
    To: '<sip:bob@example.com>',
    'Call-ID': '3848276298220188511@192.0.2.1',
    CSeq: `1 ${method}`,
  };
  const merged = { ...defaults, ...headers };
  return build(options.startLine ?? `${method} sip:bob@example.com SIP/2.0`, merged, options);
}

/** Like `request`, for a response (no Max-Forwards by default). */
export function response(headers: Record<string, string | string[] | null> = {}, options: BuildOptions = {}): Buffer {
  const method = options.method ?? 'INVITE';
  const defaults: Record<string, string | string[] | null> = {
    Via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;received=198.51.100.7;rport=40000',
    From: 'Alice <sip:alice@example.com>;tag=9fxced76sl',
    To: '<sip:bob@example.com>;tag=8321234356',
    'Call-ID': '3848276298220188511@192.0.2.1',
    CSeq: `1 ${method}`,
  };
  return build(options.startLine ?? 'SIP/2.0 200 OK', { ...defaults, ...headers }, options);
}

function build(startLine: string, headers: Record<string, string | string[] | null>, options: BuildOptions): Buffer {
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body);
  const lines = [startLine];
  let hasLength = false;
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) continue;
    if (/^(content-length|l)$/i.test(name)) hasLength = true;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  if (!hasLength && options.contentLength !== false) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

/** Joins lines with CRLF and ends the header block; for byte-exact messages. */
export function raw(lines: string[], body = ''): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/**
 * Extra fuzz seeds that reach the typed accessors the corpus exercises less: auth headers,
 * Route sets, Path, several Vias, compact forms, IPv6, folded lines.
 */
export const EXTRA_SEEDS: readonly Buffer[] = [
  request(
    {
      Via: [
        'SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.1;received=192.0.2.9;rport=5062',
        'SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK2',
      ],
      Route: ['<sip:p1.example.com;lr>, <sip:[2001:db8::2]:5070;lr;transport=tcp>', '<sip:p3.example.com;lr>'],
      'Record-Route': '<sip:rr.example.com;lr>',
      Path: '<sip:path@edge.example.com;lr>',
      Contact: '"Alice \\"A\\" Liddell" <sip:alice@192.0.2.1:5060;transport=udp>;expires=3600;q=0.5',
      Expires: '3600',
      Date: 'Sat, 13 Nov 2010 23:29:00 GMT',
      Authorization:
        'Digest username="alice", realm="example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001',
      'User-Agent': 'friendly-scanner',
    },
    { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' },
  ),
  response(
    {
      'WWW-Authenticate': [
        'Digest realm="example.com", nonce="abc", algorithm=SHA-256, qop="auth,auth-int", stale=TRUE',
        'Digest realm="example.com", nonce="abc", algorithm=MD5, qop="auth"',
      ],
      'Proxy-Authenticate': 'Digest realm="proxy", nonce="x\\"y"',
      Server: 'sipwarden',
    },
    { startLine: 'SIP/2.0 401 Unauthorized', method: 'REGISTER' },
  ),
  raw(
    [
      'INVITE sips:bob@[2001:db8::10]:5061;transport=tls SIP/2.0',
      'v: SIP/2.0/TLS client.example.com:5061;branch=z9hG4bK776asdhds',
      'Max-Forwards: 70',
      'f: "Bob" <sips:bob@example.com>;tag=1928301774',
      't: <sips:carol@example.com>',
      'i: a84b4c76e66710',
      'CSeq: 314159 INVITE',
      'm: <sips:bob@client.example.com>',
      'k: 100rel, timer',
      'Subject: folded',
      '  over two lines',
      'c: application/sdp',
      'l: 4',
    ],
    'v=0\n',
  ),
];
