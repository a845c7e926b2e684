import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalName,
  DEFAULT_LIMITS,
  type ParseOptions,
  parseMessage,
  type SipMessage,
  SipParseError,
  type SipParseErrorCode,
} from '../../src/index.js';
import { raw, request, response } from '../helpers/messages.js';

/** Parses and returns the error; fails if the message was accepted or something else was thrown. */
function parseError(data: Buffer | string, options?: ParseOptions): SipParseError {
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  try {
    parseMessage(buf, options);
  } catch (err) {
    assert.ok(err instanceof SipParseError, `threw ${String(err)}`);
    assert.match(err.reason, /^[\x20-\x7e]+$/, 'reason is printable ASCII');
    return err;
  }
  assert.fail(`accepted: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
}

function expectCode(data: Buffer | string, code: SipParseErrorCode, header?: string, options?: ParseOptions): void {
  const err = parseError(data, options);
  assert.equal(err.code, code, `${err.code}: ${err.reason}`);
  if (header !== undefined) assert.equal(err.header, header);
}

const START_LINE = 'OPTIONS sip:bob@example.com SIP/2.0';
/** The header lines of a minimal request: 0 Via, 1 Max-Forwards, 2 From, 3 To, 4 Call-ID, 5 CSeq. */
const REQUEST_LINES = [
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
  'Max-Forwards: 70',
  'From: <sip:alice@example.com>;tag=1',
  'To: <sip:bob@example.com>',
  'Call-ID: c1@192.0.2.1',
  'CSeq: 1 OPTIONS',
];

/** The minimal request with some header lines replaced (index -> line, null removes) and others added. */
function withLines(changes: Record<number, string | null>, extra: string[] = [], body = ''): Buffer {
  const lines = REQUEST_LINES.map((l, i) => (i in changes ? changes[i] : l)).filter((l): l is string => l !== null);
  return raw([START_LINE, ...lines, ...extra], body);
}

describe('parseMessage: start line', () => {
  it('reads a request line', () => {
    const msg = parseMessage(request());
    assert.equal(msg.isRequest, true);
    assert.equal(msg.method, 'OPTIONS');
    assert.equal(msg.requestUriText, 'sip:bob@example.com');
    assert.equal(msg.requestUri.user, 'bob');
    assert.equal(msg.status, 0);
  });

  it('reads a status line, with or without a reason phrase', () => {
    const msg = parseMessage(response({}, { startLine: 'SIP/2.0 180 Ringing Now' }));
    assert.equal(msg.isRequest, false);
    assert.equal(msg.status, 180);
    assert.equal(msg.reason, 'Ringing Now');
    assert.equal(msg.method, '');
    assert.equal(parseMessage(response({}, { startLine: 'SIP/2.0 100 ' })).reason, '');
    assert.throws(() => msg.requestUri, SipParseError);
  });

  it('decodes a UTF-8 reason phrase (RFC 4475 3.1.1.12)', () => {
    assert.equal(
      parseMessage(response({}, { startLine: 'SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое' })).reason,
      '= 2**3 * 5**2 но сто девяносто девять - простое',
    );
  });

  it('accepts the protocol name in any case', () => {
    assert.equal(parseMessage(request({}, { startLine: 'OPTIONS sip:bob@example.com sip/2.0' })).isRequest, true);
  });

  it('accepts unusual token methods, matched by CSeq (RFC 4475 3.1.1.2)', () => {
    const method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert.equal(parseMessage(request({}, { method })).method, method);
  });

  it('rejects extra or missing whitespace in the request line', () => {
    expectCode(request({}, { startLine: 'OPTIONS  sip:bob@example.com SIP/2.0' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com  SIP/2.0' }), 'bad-start-line');
    expectCode(request({}, { startLine: ' OPTIONS sip:bob@example.com SIP/2.0' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com SIP/2.0 ' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com\tSIP/2.0' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@ex ample.com SIP/2.0' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com HTTP/1.1' }), 'bad-start-line');
  });

  it('rejects control bytes and a bare CR in the start line', () => {
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@exa\0mple.com SIP/2.0' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com SIP/2.0\rX' }), 'bad-start-line');
    expectCode(request({}, { startLine: 'SIP/2.0 200 O\x01K' }), 'bad-start-line');
  });

  it('gives bad-version for other SIP versions (505)', () => {
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com SIP/7.0' }), 'bad-version');
    expectCode(request({}, { startLine: 'OPTIONS sip:bob@example.com SIP/2.00' }), 'bad-version');
    expectCode(response({}, { startLine: 'SIP/1.0 200 OK' }), 'bad-version');
    expectCode(response({}, { startLine: 'SIP/2.1 200 OK' }), 'bad-version');
  });

  it('gives bad-method for a method that is not a token', () => {
    expectCode(request({}, { startLine: 'INV@ITE sip:bob@example.com SIP/2.0' }), 'bad-method');
    expectCode(request({}, { startLine: 'INVITÉ sip:bob@example.com SIP/2.0' }), 'bad-method');
    expectCode(request({}, { startLine: 'OPT"IONS sip:bob@example.com SIP/2.0' }), 'bad-method');
  });

  it('gives bad-status for status codes outside 100-699 or not three digits', () => {
    for (const line of [
      'SIP/2.0 4294967301 Big',
      'SIP/2.0 099 Low',
      'SIP/2.0 700 High',
      'SIP/2.0 20 OK',
      'SIP/2.0 2x0 OK',
      'SIP/2.0  200 OK',
    ]) {
      expectCode(response({}, { startLine: line }), 'bad-status');
    }
    expectCode(response({}, { startLine: 'SIP/2.0' }), 'bad-start-line');
  });

  it('gives bad-request-uri for a malformed Request-URI', () => {
    // Decoded on first use (msg.requestUri) or with validate: 'full'.
    const full: ParseOptions = { validate: 'full' };
    expectCode(request({}, { startLine: 'OPTIONS <sip:bob@example.com> SIP/2.0' }), 'bad-request-uri', undefined, full);
    expectCode(
      request({}, { startLine: 'INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0', method: 'INVITE' }),
      'bad-request-uri',
      undefined,
      full,
    );
    expectCode(request({}, { startLine: 'OPTIONS sip:[2001:db8:::1] SIP/2.0' }), 'bad-request-uri', undefined, full);
    expectCode(
      request({}, { startLine: 'OPTIONS sip:bob@example.com;a=%G0 SIP/2.0' }),
      'bad-request-uri',
      undefined,
      full,
    );
    const lazy = parseMessage(request({}, { startLine: 'OPTIONS sip:bob@example.com;a=%G0 SIP/2.0' }));
    assert.throws(
      () => lazy.requestUri,
      (err) => err instanceof SipParseError && err.code === 'bad-request-uri',
    );
  });
});

describe('parseMessage: headers', () => {
  it('decodes the essentials', () => {
    const msg = parseMessage(request());
    assert.equal(msg.topVia.branch, 'z9hG4bK74bf9');
    assert.equal(msg.from.tag, '9fxced76sl');
    assert.equal(msg.to.uri.user, 'bob');
    assert.equal(msg.callId, '3848276298220188511@192.0.2.1');
    assert.deepEqual(msg.cseq, { seq: 1, method: 'OPTIONS' });
    assert.equal(msg.maxForwards, 70);
    assert.equal(msg.contentLength, 0);
  });

  it('understands every compact form', () => {
    const msg = parseMessage(
      raw(
        [
          'INVITE sip:bob@example.com SIP/2.0',
          'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
          'Max-Forwards: 70',
          'f: <sip:alice@example.com>;tag=1',
          't: <sip:bob@example.com>',
          'i: compact@192.0.2.1',
          'CSeq: 1 INVITE',
          'm: <sip:alice@192.0.2.1>',
          'c: application/sdp',
          'k: 100rel, timer',
          's: Lunch',
          'e: gzip',
          'o: presence',
          'r: <sip:carol@example.com>',
          'b: <sip:alice@example.com>',
          'u: dialog, presence',
          'l: 4',
        ],
        'v=0\n',
      ),
    );
    assert.equal(msg.topVia.host, '192.0.2.1');
    assert.equal(msg.from.uri.user, 'alice');
    assert.equal(msg.to.uri.user, 'bob');
    assert.equal(msg.callId, 'compact@192.0.2.1');
    assert.equal(msg.contentLength, 4);
    assert.equal(msg.body.toString(), 'v=0\n');
    assert.equal(msg.contentType, 'application/sdp');
    assert.equal(msg.header('Content-Type'), 'application/sdp');
    assert.ok(msg.contact !== undefined && !msg.contact.star && msg.contact.addresses[0]!.uri.host === '192.0.2.1');
    assert.deepEqual(msg.headerValues('Supported'), ['100rel', 'timer']);
    assert.equal(msg.header('Subject'), 'Lunch');
    assert.equal(msg.header('Content-Encoding'), 'gzip');
    assert.equal(msg.header('Event'), 'presence');
    assert.equal(msg.header('Refer-To'), '<sip:carol@example.com>');
    assert.equal(msg.header('Referred-By'), '<sip:alice@example.com>');
    assert.deepEqual(msg.headerValues('Allow-Events'), ['dialog', 'presence']);
    // Names stay as written; canonicalName maps them.
    assert.equal(msg.headerNameAt(0), 'v');
    assert.deepEqual(['v', 'f', 't', 'i', 'm', 'l', 'c', 'k', 's', 'e', 'o', 'r', 'b', 'u'].map(canonicalName), [
      'Via',
      'From',
      'To',
      'Call-ID',
      'Contact',
      'Content-Length',
      'Content-Type',
      'Supported',
      'Subject',
      'Content-Encoding',
      'Event',
      'Refer-To',
      'Referred-By',
      'Allow-Events',
    ]);
    assert.equal(msg.header('l'), '4', 'lookup by compact name');
  });

  it('matches header names case-insensitively', () => {
    const msg = parseMessage(
      raw([
        'OPTIONS sip:bob@example.com SIP/2.0',
        'VIA: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
        'max-FORWARDS: 70',
        'fRoM: <sip:alice@example.com>;tag=1',
        'TO: <sip:bob@example.com>',
        'call-id: c1',
        'cseq: 1 OPTIONS',
        'X-CUSTOM: yes',
        'CONTENT-LENGTH: 0',
      ]),
    );
    assert.equal(msg.callId, 'c1');
    assert.equal(msg.maxForwards, 70);
    assert.equal(msg.header('x-custom'), 'yes');
    assert.equal(msg.header('X-Custom'), 'yes');
    assert.equal(msg.header('Call-Id'), 'c1');
    assert.equal(msg.header('Missing'), undefined);
  });

  it('allows whitespace before the colon and none after it', () => {
    const msg = parseMessage(withLines({ 4: 'Call-ID  \t:c1' }));
    assert.equal(msg.callId, 'c1');
  });

  it('unfolds folded values to single spaces (RFC 4475 3.1.1.1)', () => {
    const msg = parseMessage(
      withLines({}, ['Subject: first', ' \t second', '\t  third', 'X-Empty-Fold:', '  value', 'Content-Length: 0']),
    );
    assert.equal(msg.header('Subject'), 'first second third');
    assert.equal(msg.header('X-Empty-Fold'), 'value');
  });

  it('keeps empty header values', () => {
    const msg = parseMessage(withLines({}, ['Subject:', 'X-Blank:   ', 'Content-Length: 0']));
    assert.equal(msg.header('Subject'), '');
    assert.equal(msg.header('X-Blank'), '');
  });

  it('lists every header in order with names as written', () => {
    const msg = parseMessage(withLines({}, ['s: a', 'Content-Length: 0']));
    assert.deepEqual(
      msg.headers().map(([n]) => n),
      ['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 's', 'Content-Length'],
    );
    assert.equal(msg.headerCount, 8);
  });

  it('splits list headers at commas outside quotes and <>, over several lines', () => {
    const msg = parseMessage(
      request({
        Contact: ['"Doe, John" <sip:j@example.com;x=a,b>, <sip:k@example.com>', 'sip:l@example.com'],
        Supported: ['100rel ,timer', 'path'],
        Subject: 'a, b, c',
      }),
    );
    assert.deepEqual(msg.headerValues('Contact'), [
      '"Doe, John" <sip:j@example.com;x=a,b>',
      '<sip:k@example.com>',
      'sip:l@example.com',
    ]);
    assert.deepEqual(msg.headerValues('k'), ['100rel', 'timer', 'path']);
    assert.deepEqual(msg.headerValues('Subject'), ['a, b, c'], 'not a list header');
    assert.deepEqual(msg.headerLines('Supported'), ['100rel ,timer', 'path']);
  });

  it('does not split auth headers at their commas', () => {
    const msg = parseMessage(request({ Authorization: 'Digest username="a", realm="b"' }));
    assert.deepEqual(msg.headerValues('Authorization'), ['Digest username="a", realm="b"']);
  });

  it('rejects bad header names (bad-header-name)', () => {
    expectCode(withLines({}, ['Bad Name: x']), 'bad-header-name');
    expectCode(withLines({}, ['NoColon']), 'bad-header-name');
    expectCode(withLines({}, [': no name']), 'bad-header-name');
    expectCode(withLines({}, ['Bad\0Name: x']), 'bad-header-name');
    expectCode(withLines({}, ['Bad\x01Name: x']), 'bad-header-name');
    expectCode(withLines({}, ['Naïve: x']), 'bad-header-name');
    expectCode(withLines({}, ['X-A@b: x']), 'bad-header-name');
    expectCode(raw([START_LINE, ' folded-first: x', ...REQUEST_LINES]), 'bad-header-name');
  });

  it('rejects control characters in values, outside quoted pairs (bad-header)', () => {
    for (const bad of ['a\0b', 'a\x01b', 'a\x7fb', 'a\x1bb', 'a\rb', 'a\nb', 'a\n b', 'a\r\r\n b']) {
      expectCode(withLines({}, [`Subject: ${bad}`]), 'bad-header');
    }
    expectCode(withLines({}, ['Subject: "quoted\0"']), 'bad-header', undefined);
  });

  it('accepts HTAB in values and NUL, BEL, DEL as quoted pairs (RFC 4475 3.1.1.2)', () => {
    const msg = parseMessage(
      withLines({ 3: 'To: "BEL:\\\x07 NUL:\\\0 DEL:\\\x7f" <sip:bob@example.com>' }, ['Subject: a\tb']),
    );
    assert.equal(msg.to.displayName, 'BEL:\x07 NUL:\0 DEL:\x7f');
    assert.equal(msg.header('Subject'), 'a\tb');
  });

  it('rejects a quoted pair that escapes CR or LF', () => {
    expectCode(withLines({}, ['Subject: "a\\', ' b"']), 'bad-header');
  });

  it('accepts UTF-8 in values', () => {
    const msg = parseMessage(request({ Subject: 'café ☕', From: '"Zoë" <sip:zoe@example.com>;tag=1' }));
    assert.equal(msg.header('Subject'), 'café ☕');
    assert.equal(msg.from.displayName, 'Zoë');
  });
});

describe('parseMessage: mandatory headers and scalars', () => {
  for (const [i, name] of [
    [0, 'Via'],
    [2, 'From'],
    [3, 'To'],
    [4, 'Call-ID'],
    [5, 'CSeq'],
    [1, 'Max-Forwards'],
  ] as const) {
    it(`requires ${name} in a request (missing-header)`, () => {
      expectCode(withLines({ [i]: null }), 'missing-header', name);
    });
  }

  it('does not require Max-Forwards in a response', () => {
    const msg = parseMessage(response());
    assert.equal(msg.maxForwards, undefined);
    assert.equal(msg.maxForwardsAt, -1);
  });

  it('rejects duplicated single-valued headers (duplicate-header)', () => {
    expectCode(withLines({}, ['From: <sip:x@example.com>;tag=2']), 'duplicate-header', 'From');
    expectCode(withLines({}, ['t: <sip:y@example.com>']), 'duplicate-header', 'To');
    expectCode(withLines({}, ['i: other']), 'duplicate-header', 'Call-ID');
    expectCode(withLines({}, ['CSeq: 2 OPTIONS']), 'duplicate-header', 'CSeq');
    expectCode(withLines({}, ['Max-Forwards: 69']), 'duplicate-header', 'Max-Forwards');
  });

  it('rejects a CSeq method that differs from the request method (cseq-mismatch)', () => {
    expectCode(withLines({ 5: 'CSeq: 1 INVITE' }), 'cseq-mismatch', 'CSeq');
    expectCode(withLines({ 5: 'CSeq: 1 options' }), 'cseq-mismatch', 'CSeq');
    assert.equal(parseMessage(response({ CSeq: '1 INVITE' })).cseq.method, 'INVITE', 'no request method to match');
  });

  it('bounds CSeq, Max-Forwards and Expires', () => {
    assert.equal(parseMessage(withLines({ 5: 'CSeq: 2147483647 OPTIONS' })).cseq.seq, 2 ** 31 - 1);
    expectCode(withLines({ 5: 'CSeq: 2147483648 OPTIONS' }), 'bad-header', 'CSeq');
    expectCode(withLines({ 5: 'CSeq: 36893488147419103232 OPTIONS' }), 'bad-header', 'CSeq');
    expectCode(withLines({ 5: 'CSeq: -1 OPTIONS' }), 'bad-header', 'CSeq');
    expectCode(withLines({ 5: 'CSeq: OPTIONS' }), 'bad-header', 'CSeq');
    expectCode(withLines({ 5: 'CSeq: 1OPTIONS' }), 'bad-header', 'CSeq');
    assert.equal(parseMessage(withLines({ 1: 'Max-Forwards: 255' })).maxForwards, 255);
    assert.equal(parseMessage(withLines({ 1: 'Max-Forwards: 0000000000000000000000000000070' })).maxForwards, 70);
    expectCode(withLines({ 1: 'Max-Forwards: 256' }), 'bad-header', 'Max-Forwards');
    expectCode(withLines({ 1: 'Max-Forwards: 1e2' }), 'bad-header', 'Max-Forwards');
    expectCode(withLines({ 1: 'Max-Forwards:' }), 'bad-header', 'Max-Forwards');
    assert.equal(parseMessage(withLines({}, ['Expires: 4294967295'])).expires, 2 ** 32 - 1);
    const big = withLines({}, ['Expires: 4294967296']);
    assert.throws(() => parseMessage(big).expires, SipParseError, 'lazily');
    expectCode(big, 'bad-header', 'Expires', { validate: 'full' });
  });

  it('rejects a Call-ID with whitespace or non-ASCII', () => {
    expectCode(withLines({ 4: 'Call-ID: a b' }), 'bad-header', 'Call-ID');
    expectCode(withLines({ 4: 'Call-ID: ä' }), 'bad-header', 'Call-ID');
    expectCode(withLines({ 4: 'Call-ID:' }), 'bad-header', 'Call-ID');
  });

  it('rejects malformed From and To', () => {
    // Decoded on first use (msg.from, msg.to) or with validate: 'full'.
    const full: ParseOptions = { validate: 'full' };
    expectCode(withLines({ 2: 'From: "unbalanced <sip:alice@example.com>;tag=1' }), 'bad-header', 'From', full);
    expectCode(withLines({ 3: 'To: < sip:bob@example.com >' }), 'bad-header', 'To', full);
    const lazy = parseMessage(withLines({ 3: 'To: < sip:bob@example.com >' }));
    assert.throws(
      () => lazy.to,
      (err) => err instanceof SipParseError && err.header === 'To',
    );
  });

  it('checks the rest of the known headers with validate: full only', () => {
    const bad = withLines({}, ['Date: Fri, 01 Jan 2010 16:00:00 EST']); // RFC 4475 3.1.2.12
    assert.ok(parseMessage(bad));
    expectCode(bad, 'bad-header', 'Date', { validate: 'full' });
    expectCode(withLines({}, ['Contact: <sip:a@example.com>;expires=4294967296']), 'bad-header', 'Contact', {
      validate: 'full',
    });
    expectCode(withLines({}, ['Contact: <sip:a@example.com>;expires']), 'bad-header', 'Contact', { validate: 'full' });
    expectCode(withLines({}, ['Min-Expires: x']), 'bad-header', 'Min-Expires', { validate: 'full' });
    expectCode(withLines({}, ['Route: <sip:a@example.com;lr']), 'bad-header', 'Route', { validate: 'full' });
    expectCode(withLines({}, ['Record-Route: <sip:a@example.com>;lr;lr']), 'bad-header', 'Record-Route', {
      validate: 'full',
    });
    expectCode(withLines({}, ['Path: sip:a@example.com?x=y']), 'bad-header', 'Path', { validate: 'full' });
  });

  it('reads a valid Date and rejects impossible ones', () => {
    const msg = parseMessage(withLines({}, ['Date: Sat, 13 Nov 2010 23:29:00 GMT']), { validate: 'full' });
    assert.equal(msg.date?.toISOString(), '2010-11-13T23:29:00.000Z');
    expectCode(withLines({}, ['Date: Thu, 31 Feb 2000 00:00:00 GMT']), 'bad-header', 'Date', { validate: 'full' });
    expectCode(withLines({}, ['Date: Sat, 13 Nov 2010 25:29:00 GMT']), 'bad-header', 'Date', { validate: 'full' });
  });
});

describe('parseMessage: framing, body and limits', () => {
  it('takes the body by Content-Length in bytes (UTF-8 body)', () => {
    const body = 'héllo wörld ✓';
    const data = request({}, { body });
    const msg = parseMessage(data);
    assert.equal(msg.contentLength, Buffer.byteLength(body));
    assert.notEqual(msg.contentLength, body.length);
    assert.equal(msg.body.toString('utf8'), body);
    assert.equal(msg.end, data.length);
  });

  it('ignores octets after the body (RFC 4475 3.1.1.8)', () => {
    const first = request({}, { body: 'abc' });
    const data = Buffer.concat([first, Buffer.from('trailing garbage\r\n\r\nOPTIONS ...')]);
    const msg = parseMessage(data);
    assert.equal(msg.body.toString(), 'abc');
    assert.equal(msg.end, first.length);
    assert.ok(msg.raw.equals(first));
  });

  it('counts a character-counted Content-Length short of a UTF-8 body', () => {
    const body = 'ééé';
    const data = request({ 'Content-Length': String(body.length) }, { body });
    assert.equal(
      parseMessage(data).body.toString('latin1'),
      Buffer.from('éé', 'utf8').subarray(0, 3).toString('latin1'),
    );
  });

  it('runs the body to the end of the datagram without Content-Length', () => {
    const msg = parseMessage(request({}, { body: 'no length', contentLength: false }));
    assert.equal(msg.contentLength, -1);
    assert.equal(msg.body.toString(), 'no length');
  });

  it('requires Content-Length on streams', () => {
    expectCode(request({}, { contentLength: false }), 'missing-header', 'Content-Length', {
      requireContentLength: true,
    });
    assert.ok(parseMessage(request(), { requireContentLength: true }));
  });

  it('skips leading CRLFs (RFC 3261 7.5)', () => {
    const data = Buffer.concat([Buffer.from('\r\n\r\n\r\n'), request()]);
    const msg = parseMessage(data);
    assert.equal(msg.start, 6);
    assert.ok(msg.raw.equals(request()));
  });

  it('gives empty for nothing but CRLFs', () => {
    expectCode('', 'empty');
    expectCode('\r\n', 'empty');
    expectCode('\r\n\r\n', 'empty');
  });

  it('gives incomplete without the empty line', () => {
    expectCode(request().subarray(0, 60), 'incomplete');
    expectCode('OPTIONS sip:bob@example.com SIP/2.0\r\nVia: x\r\n', 'incomplete');
  });

  it('rejects bad Content-Length values (bad-content-length)', () => {
    for (const v of ['abc', '-1', '1.0', '0x10', '', '1 2', '+5', '99999999999']) {
      expectCode(withLines({}, [`Content-Length: ${v}`]), 'bad-content-length', 'Content-Length');
    }
  });

  it('rejects two Content-Length headers, even equal ones (RFC 4475 3.3.9)', () => {
    expectCode(withLines({}, ['Content-Length: 0', 'l: 0']), 'bad-content-length', 'Content-Length');
  });

  it('gives body-too-short when Content-Length exceeds the data (RFC 4475 3.1.2.2)', () => {
    expectCode(withLines({}, ['Content-Length: 10'], 'short'), 'body-too-short', 'Content-Length');
  });

  it('applies maxMessageBytes to headers, body and Content-Length', () => {
    const data = request({}, { body: 'x'.repeat(100) });
    const limits = { ...DEFAULT_LIMITS, maxMessageBytes: data.length };
    assert.ok(parseMessage(data, { limits }), 'exactly at the limit');
    expectCode(data, 'too-large', undefined, { limits: { ...limits, maxMessageBytes: data.length - 1 } });
    expectCode(withLines({}, ['Content-Length: 65536']), 'too-large');
    assert.ok(parseMessage(Buffer.concat([request(), Buffer.alloc(70000, 0x61)])), 'trailing octets do not count');
    const noBlank = Buffer.alloc(DEFAULT_LIMITS.maxMessageBytes + 1, 0x61);
    expectCode(noBlank, 'too-large');
    expectCode(request({ 'X-Big': 'y'.repeat(200) }), 'too-large', undefined, {
      limits: { ...DEFAULT_LIMITS, maxMessageBytes: 200 },
    });
  });

  it('applies maxHeaders', () => {
    const headers = (n: number) =>
      withLines(
        {},
        Array.from({ length: n }, (_, i) => `X-H${i}: ${i}`),
      );
    const limits = { ...DEFAULT_LIMITS, maxHeaders: REQUEST_LINES.length + 10 };
    assert.equal(parseMessage(headers(10), { limits }).headerCount, limits.maxHeaders);
    expectCode(headers(11), 'too-many-headers', undefined, { limits });
    expectCode(headers(200), 'too-many-headers');
  });

  it('applies maxHeaderBytes to the whole field, folds included', () => {
    const limits = { ...DEFAULT_LIMITS, maxHeaderBytes: 100 };
    // 'Subject: ' (9) + value + CRLF (2) = 100
    assert.ok(parseMessage(withLines({}, [`Subject: ${'a'.repeat(89)}`]), { limits }));
    expectCode(withLines({}, [`Subject: ${'a'.repeat(90)}`]), 'header-too-long', undefined, { limits });
    assert.ok(parseMessage(withLines({}, [`Subject: ${'a'.repeat(40)}`, ` ${'b'.repeat(46)}`]), { limits }));
    expectCode(withLines({}, [`Subject: ${'a'.repeat(40)}`, ` ${'b'.repeat(47)}`]), 'header-too-long', undefined, {
      limits,
    });
    expectCode(withLines({}, [`Subject: ${'a'.repeat(9000)}`]), 'header-too-long');
  });

  it('applies maxListEntries to the entries of a list header, over all its lines', () => {
    const rr = (n: number) => Array.from({ length: n }, (_, i) => `<sip:p${i}.example.com;lr>`);
    const max = DEFAULT_LIMITS.maxListEntries;
    assert.equal(max, 64);
    assert.equal(parseMessage(withLines({}, [`Record-Route: ${rr(max).join(', ')}`])).recordRoutes.length, max);
    expectCode(withLines({}, [`Record-Route: ${rr(max + 1).join(', ')}`]), 'too-many-entries', 'Record-Route');
    // Spread over lines, compact forms included: still one header.
    const half = rr(max / 2 + 1);
    expectCode(withLines({}, [`Route: ${half.join(',')}`, `Route: ${half.join(',')}`]), 'too-many-entries', 'Route');
    const vias = Array.from({ length: max }, (_, i) => `SIP/2.0/UDP 192.0.2.${i};branch=z9hG4bK${i}`);
    expectCode(withLines({}, [`v: ${vias.join(', ')}`]), 'too-many-entries', 'Via');
    const m = withLines({}, [`Contact: ${rr(max + 1).join(', ')}`]);
    assert.equal(parseError(m).reason, 'Too Many Contact Entries');
    // The limit is configurable.
    assert.equal(
      parseMessage(withLines({}, [`Path: ${rr(100).join(', ')}`]), {
        limits: { ...DEFAULT_LIMITS, maxListEntries: 100 },
      }).paths.length,
      100,
    );
  });

  it('counts list entries as they are split: commas inside quotes and <...> separate nothing', () => {
    const max = DEFAULT_LIMITS.maxListEntries;
    const contacts = Array.from({ length: max }, (_, i) => `"Doe, John ${i}, Jr." <sip:u${i},x@example.com>`);
    const msg = parseMessage(withLines({}, [`Contact: ${contacts.join(', ')}`]));
    const c = msg.contact;
    assert.ok(c !== undefined && !c.star && c.addresses.length === max);
    expectCode(
      withLines({}, [`Contact: ${[...contacts, '<sip:one-more@example.com>'].join(', ')}`]),
      'too-many-entries',
    );
  });

  it('applies maxListEntries to the lines of a header that is no list (Proxy-Authorization)', () => {
    const cred = 'Digest username="a", realm="r", nonce="n", uri="sip:x", response="00"';
    const lines = (n: number) => Array.from({ length: n }, () => `Proxy-Authorization: ${cred}`);
    const max = DEFAULT_LIMITS.maxListEntries;
    assert.equal(parseMessage(withLines({}, lines(max))).authHeaders('Proxy-Authorization').length, max);
    const err = parseError(withLines({}, lines(max + 1)));
    assert.equal(err.code, 'too-many-entries');
    assert.equal(err.reason, 'Too Many Proxy-Authorization Headers');
    // Unknown headers are bounded by maxHeaders alone.
    assert.ok(
      parseMessage(
        withLines(
          {},
          Array.from({ length: max + 1 }, (_, i) => `X-Note: ${i}`),
        ),
      ),
    );
  });

  it('reports too many entries with the whole header block indexed, so a 400 can be built', () => {
    const many = Array.from({ length: 2000 }, (_, i) => `<sip:10.${i >> 8}.${i & 255}.1;lr>`);
    const lines = [];
    for (let i = 0; i < many.length; i += 250) lines.push(`Record-Route: ${many.slice(i, i + 250).join(',')}`);
    const err = parseError(withLines({}, lines));
    assert.equal(err.code, 'too-many-entries');
    const partial = err.partial!;
    assert.ok(partial.isRequest);
    assert.equal(partial.callId, 'c1@192.0.2.1');
    assert.equal(partial.cseq.seq, 1);
  });
});

describe('parseMessage: every error code', () => {
  const cases: Array<[SipParseErrorCode, Buffer | string, ParseOptions?]> = [
    ['empty', '\r\n'],
    ['too-large', request({ 'X-Pad': 'p'.repeat(300) }), { limits: { ...DEFAULT_LIMITS, maxMessageBytes: 256 } }],
    ['incomplete', 'OPTIONS sip:bob@example.com SIP/2.0\r\n'],
    ['bad-start-line', request({}, { startLine: 'OPTIONS sip:bob@example.com  SIP/2.0' })],
    ['bad-version', request({}, { startLine: 'OPTIONS sip:bob@example.com SIP/3.0' })],
    ['bad-method', request({}, { startLine: 'OPT:IONS sip:bob@example.com SIP/2.0' })],
    ['bad-status', response({}, { startLine: 'SIP/2.0 999 Nope' })],
    ['bad-request-uri', request({}, { startLine: 'OPTIONS sip:bob@[::1 SIP/2.0' }), { validate: 'full' }],
    ['bad-header-name', withLines({}, ['X Y: z'])],
    [
      'header-too-long',
      withLines({}, [`X: ${'z'.repeat(100)}`]),
      { limits: { ...DEFAULT_LIMITS, maxHeaderBytes: 64 } },
    ],
    ['too-many-headers', withLines({}, ['X: 1', 'X: 2']), { limits: { ...DEFAULT_LIMITS, maxHeaders: 7 } }],
    ['too-many-entries', withLines({}, ['Supported: a, b, c']), { limits: { ...DEFAULT_LIMITS, maxListEntries: 2 } }],
    ['missing-header', withLines({ 4: null })],
    ['duplicate-header', withLines({}, ['Call-ID: again'])],
    ['bad-header', withLines({ 0: 'Via: SIP/2.0/UDP' })],
    ['bad-content-length', withLines({}, ['Content-Length: x'])],
    ['body-too-short', withLines({}, ['Content-Length: 1'])],
    ['cseq-mismatch', withLines({ 5: 'CSeq: 1 BYE' })],
  ];
  const all = new Set<SipParseErrorCode>();
  for (const [code, data, options] of cases) {
    all.add(code);
    it(code, () => expectCode(data, code, undefined, options));
  }
  it('covers the whole SipParseErrorCode union', () => {
    // A new code added to errors.ts without a case here fails to compile below.
    const exhaustive: Record<SipParseErrorCode, true> = {
      empty: true,
      'too-large': true,
      incomplete: true,
      'bad-start-line': true,
      'bad-version': true,
      'bad-method': true,
      'bad-status': true,
      'bad-request-uri': true,
      'bad-header-name': true,
      'header-too-long': true,
      'too-many-headers': true,
      'too-many-entries': true,
      'missing-header': true,
      'duplicate-header': true,
      'bad-header': true,
      'bad-content-length': true,
      'body-too-short': true,
      'cseq-mismatch': true,
    };
    assert.deepEqual([...all].sort(), Object.keys(exhaustive).sort());
  });
});

describe('parseMessage: lazy decoding', () => {
  it('indexes header boundaries and decodes non-essential headers on demand', () => {
    const msg: SipMessage = parseMessage(request({ Contact: 'garbage <', Route: '<sip:p.example.com;lr>' }));
    assert.equal(msg.routes[0]!.uri.host, 'p.example.com');
    assert.throws(() => msg.contact, SipParseError, 'decoded when asked, not before');
    const k = msg.findHeader('Route');
    assert.equal(msg.headerNameAt(k), 'Route');
    assert.equal(msg.headerValueAt(k), '<sip:p.example.com;lr>');
    assert.equal(msg.findHeader('Route', k + 1), -1);
  });

  it('gives the same answer in both validation modes for a valid message', () => {
    const data = request({ Contact: '<sip:a@example.com>;expires=60', Expires: '60' }, { method: 'REGISTER' });
    const a = parseMessage(data);
    const b = parseMessage(data, { validate: 'full' });
    assert.deepEqual(a.vias, b.vias);
    assert.deepEqual(a.contact, b.contact);
    assert.equal(a.expires, b.expires);
  });
});

describe('parseMessage: issues fixed in parser.ts (see docs/parser.md)', () => {
  it('strips a trailing fold from a value', () => {
    const msg = parseMessage(withLines({}, ['Subject: hi', ' ', 'Content-Length: 0']));
    assert.equal(msg.header('Subject'), 'hi');
  });

  it('reads a status line with a lower-case protocol name', () => {
    assert.equal(parseMessage(response({}, { startLine: 'sip/2.0 200 OK' })).status, 200);
  });

  it('a request of another SIP version carries its headers, for a 505', () => {
    const err = parseError(request({}, { startLine: 'OPTIONS sip:bob@example.com SIP/7.0' }));
    assert.equal(err.code, 'bad-version');
    assert.ok(err.partial !== undefined, 'partial message attached');
    assert.equal(err.partial.isRequest, true);
    assert.equal(err.partial.method, 'OPTIONS');
    assert.ok(err.partial.callIdAt !== -1 && err.partial.viaAt !== -1, 'headers indexed');
  });

  it('accepts HTAB in a reason phrase', () => {
    assert.equal(parseMessage(response({}, { startLine: 'SIP/2.0 200 All\tGood' })).reason, 'All\tGood');
  });
});
