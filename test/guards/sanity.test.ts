import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Source, Verdict } from '../../src/core/verdict.js';
import { SANITY_CHECKS, type SanityCheck } from '../../src/guards/sanity/config.js';
import { SanityGuard } from '../../src/guards/sanity/sanity.js';
import { parseMessage, type SipMessage, SipParseError } from '../../src/sip/index.js';
import { loadCorpus, PROJECT_ROOT } from '../helpers/corpus.js';
import { fuzzSeed, mutatedMessages } from '../helpers/fuzz.js';
import { EXTRA_SEEDS, raw, request, response } from '../helpers/messages.js';
import { bye, invite, ok200, options, register } from '../helpers/phones.js';

const UDP: Source = { transport: 'udp', address: '198.51.100.7', port: 5060, family: 4 };
const TCP: Source = { transport: 'tcp', address: '198.51.100.7', port: 40001, family: 4 };
const ATTACKS = join(PROJECT_ROOT, 'test/fixtures/attacks');

const guard = new SanityGuard({ checks: SANITY_CHECKS });

/**
 * The message as the proxy hands it to the guards: parsed with `essential` validation
 * (From, To and the Request-URI decoded lazily). A message the parser rejects is checked
 * as far as it was read (`SipParseError.partial`), as the chain does.
 */
function parse(data: Buffer, requireContentLength = false): SipMessage {
  try {
    return parseMessage(data, { requireContentLength });
  } catch (err) {
    if (err instanceof SipParseError && err.partial !== undefined) return err.partial;
    throw err;
  }
}

function check(data: Buffer, source: Source = UDP, g: SanityGuard = guard): Verdict {
  return g.checkMessage(parse(data, source.transport !== 'udp'), source, Date.now());
}

function assertReply(v: Verdict, code: number, rule: string, reason?: string | RegExp): void {
  assert.equal(v.action, 'reply', `expected a reply, got ${JSON.stringify(v)}`);
  if (v.action !== 'reply') return;
  assert.equal(v.reply.code, code, JSON.stringify(v));
  assert.equal(v.rule, rule, JSON.stringify(v));
  if (typeof reason === 'string') assert.equal(v.reply.reason, reason);
  else if (reason !== undefined) assert.match(v.reply.reason, reason);
  // Never an echo of the message, never a product name.
  assert.match(v.reply.reason, /^[\x20-\x7e]{1,64}$/);
  assert.doesNotMatch(v.reply.reason, /sipwarden/i);
}

function assertDrop(v: Verdict, rule: string): void {
  assert.equal(v.action, 'drop', `expected a drop, got ${JSON.stringify(v)}`);
  if (v.action === 'drop') assert.equal(v.rule, rule);
}

/** An INVITE built with the test helpers, headers overridden. */
function inviteWith(headers: Record<string, string | string[] | null>, startLine?: string): Buffer {
  return request(headers, { method: 'INVITE', ...(startLine === undefined ? {} : { startLine }) });
}

describe('sanity guard: valid messages pass every check', () => {
  const cases: Array<[string, Buffer, Source]> = [
    ['INVITE with SDP, +49 number, Proxy-Authorization', invite(), UDP],
    ['REGISTER with digest credentials and Contact expires', register(), UDP],
    ['OPTIONS over IPv6 in compact form', options(), UDP],
    ['BYE in a dialog with a Route', bye(), UDP],
    ['200 OK with SDP and Record-Route', ok200(), UDP],
    ['INVITE over TCP', invite(), TCP],
    [
      'REGISTER removing all bindings (Contact: *, Expires: 0)',
      request({ Contact: '*', Expires: '0' }, { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' }),
      UDP,
    ],
    ['ACK', request({ To: '<sip:bob@example.com>;tag=8321234356' }, { method: 'ACK' }), UDP],
    [
      'CANCEL with a Proxy-Require (never rejected for it)',
      request({ 'Proxy-Require': 'foo' }, { method: 'CANCEL' }),
      UDP,
    ],
    ['tel: Request-URI', inviteWith({}, 'INVITE tel:+1-201-555-0123 SIP/2.0'), UDP],
    ['emergency call to urn:service:sos (RFC 5031)', inviteWith({}, 'INVITE urn:service:sos SIP/2.0'), UDP],
    [
      'Authorization with a non-digest scheme (RFC 8898 Bearer)',
      request(
        { Authorization: 'Bearer token=abc' },
        { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' },
      ),
      UDP,
    ],
    [
      'Expires 2^32-1',
      request({ Expires: '4294967295' }, { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' }),
      UDP,
    ],
    ['UDP without Content-Length', request({}, { contentLength: false }), UDP],
    [
      'several Via entries',
      inviteWith({
        Via: [
          'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1, SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK2',
          'SIP/2.0/TLS host.example.com;branch=z9hG4bK3',
        ],
      }),
      UDP,
    ],
    ['Max-Forwards 0 (the proxy answers 483 itself)', request({ 'Max-Forwards': '0' }), UDP],
  ];
  for (const [name, data, source] of cases) {
    it(name, () => assert.deepEqual(check(data, source), { action: 'pass' }));
  }
});

describe('sanity guard: each check', () => {
  it('required_headers: a missing header is 400, and names the header', () => {
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards']) {
      assertReply(check(request({ [name]: null })), 400, 'required-headers', `Missing ${name}`);
    }
  });

  it('required_headers: a response without Max-Forwards is fine, one without Call-ID is dropped', () => {
    assert.equal(check(response()).action, 'pass');
    assertDrop(check(response({ 'Call-ID': null })), 'required-headers');
  });

  it('required_headers: From twice is 400', () => {
    assertReply(
      check(request({ From: ['<sip:a@example.com>;tag=1', '<sip:b@example.com>;tag=2'] })),
      400,
      'required-headers',
    );
  });

  it('request_uri: a version other than SIP/2.0 is 505', () => {
    assertReply(
      check(request({}, { startLine: 'OPTIONS sip:bob@example.com SIP/3.0' })),
      505,
      'request-uri',
      'Version Not Supported',
    );
  });

  it('request_uri: a scheme other than sip, sips, tel is 416', () => {
    assertReply(
      check(request({}, { startLine: 'OPTIONS mailto:bob@example.com SIP/2.0' })),
      416,
      'request-uri',
      'Unsupported URI Scheme',
    );
    assertReply(check(request({}, { startLine: 'OPTIONS http://example.com/ SIP/2.0' })), 416, 'request-uri');
  });

  it('request_uri: a Request-URI that does not decode is 400', () => {
    assertReply(check(request({}, { startLine: 'OPTIONS sip:bob@exa_mple..com SIP/2.0' })), 400, 'request-uri');
    assertReply(check(request({}, { startLine: 'OPTIONS sip:bob@example.com?Subject=x SIP/2.0' })), 400, 'request-uri');
  });

  it('request_uri: an ACK with an unsupported scheme is dropped, not answered', () => {
    assertDrop(check(request({}, { method: 'ACK', startLine: 'ACK mailto:bob@example.com SIP/2.0' })), 'request-uri');
  });

  it('via: an unknown transport or a Via entry that does not decode is 400', () => {
    assertReply(check(request({ Via: 'SIP/2.0/CARRIER-PIGEON 192.0.2.1;branch=z9hG4bK1' })), 400, 'via', 'Bad Via');
    assertReply(
      check(request({ Via: ['SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'SIP/2.0/UDP ;branch=z9hG4bK2'] })),
      400,
      'via',
    );
    assertReply(check(request({ Via: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1, SIP/3.0/UDP 192.0.2.2' })), 400, 'via');
  });

  it('cseq: a method that differs from the request method is 400', () => {
    assertReply(check(request({ CSeq: '1 INVITE' })), 400, 'cseq', 'Bad CSeq');
  });

  it('cseq: a number beyond 32 bits or no number is 400', () => {
    assertReply(check(request({ CSeq: '99999999999 OPTIONS' })), 400, 'cseq');
    assertReply(check(request({ CSeq: 'OPTIONS' })), 400, 'cseq');
  });

  it('cseq: an ACK whose CSeq method is not ACK is dropped', () => {
    assertDrop(check(request({ CSeq: '1 INVITE' }, { method: 'ACK' })), 'cseq');
  });

  it('cseq: a CANCEL must say CANCEL', () => {
    assertReply(check(request({ CSeq: '1 INVITE' }, { method: 'CANCEL' })), 400, 'cseq');
  });

  it('cseq: a response to an ACK does not exist and is dropped', () => {
    assertDrop(check(response({}, { method: 'ACK' })), 'cseq');
  });

  it('content_length: over TCP a missing Content-Length is 400', () => {
    const v = guard.checkMessage(parseMessage(request({}, { contentLength: false })), TCP, 0);
    assertReply(v, 400, 'content-length', 'Missing Content-Length');
  });

  it('content_length: over UDP a body shorter than Content-Length is 400', () => {
    assertReply(check(request({ 'Content-Length': '40' }, { body: 'v=0\r\n' })), 400, 'content-length');
  });

  it('content_length: octets after the declared body in a datagram are not the message', () => {
    const data = Buffer.concat([request({}, { body: 'v=0\r\n' }), Buffer.from('trailing junk')]);
    assert.equal(check(data).action, 'pass');
  });

  it('max_forwards: a value beyond 255 or not a number is 400', () => {
    assertReply(check(request({ 'Max-Forwards': '256' })), 400, 'max-forwards');
    assertReply(check(request({ 'Max-Forwards': 'seventy' })), 400, 'max-forwards');
  });

  it('expires: an Expires header beyond 2^32-1 is 400', () => {
    const reg = (headers: Record<string, string>) =>
      request(headers, { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' });
    assertReply(check(reg({ Expires: '4294967296' })), 400, 'expires', /^Bad Expires/);
    assertReply(check(reg({ Expires: 'tomorrow' })), 400, 'expires');
  });

  it('expires: a Contact expires parameter that is not delta-seconds is 400', () => {
    const reg = (contact: string) =>
      request({ Contact: contact }, { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' });
    assertReply(check(reg('<sip:alice@192.0.2.1>;expires=abc')), 400, 'expires');
    assertReply(check(reg('<sip:alice@192.0.2.1>;expires=99999999999')), 400, 'expires');
    assertReply(check(reg('<sip:alice@192.0.2.1>;expires')), 400, 'expires');
    assert.equal(check(reg('<sip:alice@192.0.2.1>;expires=0')).action, 'pass');
  });

  it('proxy_require: any option tag is 420 Bad Extension with an Unsupported header listing them', () => {
    const v = check(request({ 'Proxy-Require': ['foo, bar', 'baz'] }));
    assertReply(v, 420, 'proxy-require', 'Bad Extension');
    assert.ok(v.action === 'reply');
    assert.deepEqual(v.reply.headers, ['Unsupported: foo, bar, baz']);
  });

  it('proxy_require: an ACK is never rejected for it', () => {
    assert.equal(check(request({ 'Proxy-Require': 'foo' }, { method: 'ACK' })).action, 'pass');
  });

  it('proxy_require: an option tag that is not a token is 400, and never reaches the Unsupported header', () => {
    const v = check(request({ 'Proxy-Require': 'foo<script>' }));
    assertReply(v, 400, 'proxy-require');
  });

  it('uris: From, To or Contact that does not decode is 400', () => {
    assertReply(check(request({ From: '<sip:alice@exa mple.com>;tag=1' })), 400, 'uris', /^Bad From/);
    assertReply(check(request({ To: 'sip:bob@example.com?Subject=hi' })), 400, 'uris', /^Bad To/);
    assertReply(check(request({ Contact: '<sip:alice@192.0.2.1' })), 400, 'uris');
  });

  it('uris: Contact * outside a REGISTER with Expires: 0 is 400', () => {
    assertReply(check(request({ Contact: '*' }, { method: 'INVITE' })), 400, 'uris', 'Bad Contact');
    const reg = request(
      { Contact: '*', Expires: '3600' },
      { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' },
    );
    assertReply(check(reg), 400, 'uris');
  });

  it('to_tag: a second tag in From or To is 400 and says which', () => {
    assertReply(check(request({ To: '<sip:bob@example.com>;tag=a;tag=b' })), 400, 'to-tag', 'Bad To Tag');
    assertReply(
      check(request({ From: '"A;tag=x" <sip:alice@example.com>;TAG=1; tag=2' })),
      400,
      'to-tag',
      'Bad From Tag',
    );
  });

  it('to_tag: a tag without a value is 400; a response with duplicate tags is dropped', () => {
    assertReply(check(request({ From: '<sip:alice@example.com>;tag' })), 400, 'to-tag');
    assertDrop(check(response({ To: '<sip:bob@example.com>;tag=1;tag=2' })), 'to-tag');
  });

  it('credentials: digest credentials missing a required parameter are 400', () => {
    for (const missing of ['username', 'realm', 'nonce', 'uri', 'response']) {
      const params: Record<string, string> = {
        username: '"alice"',
        realm: '"example.com"',
        nonce: '"abc"',
        uri: '"sip:example.com"',
        response: '"0123456789abcdef0123456789abcdef"',
      };
      delete params[missing];
      const auth = `Digest ${Object.entries(params)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`;
      const v = check(
        request({ Authorization: auth }, { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' }),
      );
      assertReply(v, 400, 'credentials', 'Bad Authorization');
      assert.ok(v.action === 'reply' && v.detail?.includes(missing), `detail names ${missing}`);
    }
  });

  it('credentials: qop without cnonce or nc (as svcrack sends it) is 400', () => {
    const v = check(readFileSync(join(ATTACKS, 'svcrack-register-auth.sip')));
    assertReply(v, 400, 'credentials');
  });

  it('credentials: an empty username and a header that does not decode are 400', () => {
    const reg = (h: Record<string, string>) =>
      request(h, { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0' });
    assertReply(
      check(reg({ Authorization: 'Digest username="", realm="r", nonce="n", uri="sip:x", response="r"' })),
      400,
      'credentials',
    );
    assertReply(
      check(reg({ 'Proxy-Authorization': 'Digest username="a, realm="r' })),
      400,
      'credentials',
      'Bad Proxy-Authorization',
    );
  });
});

describe('sanity guard: configuration and robustness', () => {
  it('runs only the configured checks, in CHECK_ORDER', () => {
    const onlyCseq = new SanityGuard({ checks: ['cseq'] });
    assert.equal(check(request({ 'Proxy-Require': 'foo' }), UDP, onlyCseq).action, 'pass');
    const bad = request({ 'Proxy-Require': 'foo', CSeq: '1 INVITE' });
    // cseq comes before proxy_require whatever the configured order.
    const both = new SanityGuard({ checks: ['proxy_require', 'cseq'] as SanityCheck[] });
    assertReply(check(bad, UDP, both), 400, 'cseq');
    const none = new SanityGuard({ checks: [] });
    assert.equal(check(bad, UDP, none).action, 'pass');
  });

  it('never throws on mutated messages, and answers only requests', () => {
    const corpus = loadCorpus().map((e) => e.data);
    const seeds = [...corpus, ...EXTRA_SEEDS, invite(), register(), options(), bye(), ok200()];
    const seed = fuzzSeed();
    let checked = 0;
    for (const { i, msg } of mutatedMessages(seeds, 3000, seed)) {
      const v = guard.checkMessage(msg, UDP, 0);
      checked++;
      if (v.action === 'reply') {
        assert.ok(msg.isRequest && msg.method !== 'ACK', `case ${i} of seed ${seed}: replies only to requests`);
        assert.match(v.reply.reason, /^[\x20-\x7e]{1,64}$/);
      } else {
        assert.ok(v.action === 'pass' || v.action === 'drop', `case ${i} of seed ${seed}: ${v.action}`);
      }
    }
    assert.ok(checked > 1000, `enough messages reached the guard (${checked})`);
  });
});

describe('sanity guard: RFC 4475 / RFC 5118 torture corpus', () => {
  const corpus = loadCorpus();

  it('every valid message passes', () => {
    const valid = corpus.filter((e) => e.class === 'valid');
    assert.ok(valid.length > 20);
    for (const entry of valid) assert.deepEqual(check(entry.data), { action: 'pass' }, entry.file);
  });

  it('invalid messages the parser lets through are caught (reported)', (t) => {
    const invalid = corpus.filter((e) => e.class === 'invalid');
    let parsed = 0;
    const caught: string[] = [];
    const missed: string[] = [];
    for (const entry of invalid) {
      let msg: SipMessage;
      try {
        msg = parseMessage(entry.data);
      } catch {
        continue; // the proxy answers 400 before any guard
      }
      parsed++;
      const v = guard.checkMessage(msg, UDP, 0);
      if (v.action === 'pass') missed.push(entry.file);
      else if (v.action !== 'accept') caught.push(`${entry.file} (${v.rule})`);
    }
    t.diagnostic(
      `invalid messages: ${invalid.length}; parsed with essential validation: ${parsed}; caught by sanity: ${caught.length}`,
    );
    t.diagnostic(`caught: ${caught.join(', ')}`);
    t.diagnostic(`missed: ${missed.join(', ') || 'none'}`);
    // baddate.dat (a Date header in the wrong format) is the one no sanity check reads.
    assert.deepEqual(missed, ['rfc4475/baddate.dat']);
    assert.equal(caught.length, parsed - 1);
  });

  it('semantic tests: unknown schemes get 416, Proxy-Require gets 420', () => {
    const byFile = new Map(corpus.map((e) => [e.file, e.data]));
    assertReply(check(byFile.get('rfc4475/unkscm.dat')!), 416, 'request-uri');
    assertReply(check(byFile.get('rfc4475/novelsc.dat')!), 416, 'request-uri');
    assertReply(check(byFile.get('rfc4475/bext01.dat')!), 420, 'proxy-require');
  });
});

describe('sanity guard: a literal message', () => {
  it('reports the failing check of a hand-written request', () => {
    const data = raw([
      'INVITE sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds',
      'Max-Forwards: 70',
      'To: <sip:bob@example.com>',
      'From: <sip:alice@example.com>;tag=1928301774',
      'Call-ID: a84b4c76e66710',
      'CSeq: 314159 INVITE',
      'Proxy-Require: 100rel',
      'Content-Length: 0',
    ]);
    assertReply(check(data), 420, 'proxy-require');
  });
});
