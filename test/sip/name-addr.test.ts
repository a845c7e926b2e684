import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatUri, type NameAddr, parseMessage, parseNameAddr, SipParseError } from '../../src/index.js';
import { request } from '../helpers/messages.js';

function na(s: string, what = 'From'): NameAddr {
  return parseNameAddr(s, 0, s.length, what);
}

function rejects(s: string, what = 'From'): SipParseError {
  let caught: unknown;
  try {
    na(s, what);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SipParseError, `${JSON.stringify(s)} must be rejected`);
  assert.equal(caught.code, 'bad-header');
  assert.equal(caught.header, what);
  return caught;
}

describe('parseNameAddr', () => {
  it('reads a quoted display name and unescapes it', () => {
    const a = na('"Alice \\"The Great\\" Liddell" <sip:alice@example.com>;tag=1928301774');
    assert.equal(a.displayName, 'Alice "The Great" Liddell');
    assert.equal(a.uri.user, 'alice');
    assert.equal(a.uri.host, 'example.com');
    assert.equal(a.tag, '1928301774');
    assert.equal(a.uriText, 'sip:alice@example.com');
  });

  it('keeps an escaped backslash and an empty quoted name', () => {
    assert.equal(na('"a\\\\b" <sip:x@example.com>').displayName, 'a\\b');
    assert.equal(na('"" <sip:x@example.com>').displayName, '');
  });

  it('allows commas, semicolons and angle brackets inside quotes', () => {
    const a = na('"Bell, Alexander <Al>; Jr" <sip:a.g.bell@example.com>');
    assert.equal(a.displayName, 'Bell, Alexander <Al>; Jr');
    assert.equal(a.uri.user, 'a.g.bell');
  });

  it('reads token display names, keeping inner whitespace', () => {
    const a = na("token1~` token2'+_ token3*%!.-   <sip:mundane@example.com>;tag=x");
    assert.equal(a.displayName, "token1~` token2'+_ token3*%!.-");
    assert.equal(a.tag, 'x');
    assert.equal(na('Alice<sip:alice@example.com>').displayName, 'Alice', 'no space before <');
  });

  it('has no display name for a bare <uri>', () => {
    const a = na('<sip:bob@example.com>');
    assert.equal(a.displayName, undefined);
    assert.equal(a.uri.user, 'bob');
    assert.equal(a.params.size, 0);
    assert.equal(a.tag, undefined);
  });

  it('gives the parameters of an addr-spec to the header, not the URI', () => {
    const a = na('sip:+12125551212@server.phone2net.com;tag=887s;user=phone');
    assert.equal(a.displayName, undefined);
    assert.equal(a.uri.host, 'server.phone2net.com');
    assert.equal(a.uri.params.size, 0, 'URI has no parameters');
    assert.equal(a.params.get('tag'), '887s');
    assert.equal(a.params.get('user'), 'phone');
    assert.equal(a.uriText, 'sip:+12125551212@server.phone2net.com');
  });

  it('keeps URI parameters inside <> on the URI', () => {
    const a = na('<sip:+19725552222@gw1.example.net;unknownparam>;expires=60');
    assert.equal(a.uri.params.get('unknownparam'), null);
    assert.equal(a.params.has('unknownparam'), false);
    assert.equal(a.params.get('expires'), '60');
  });

  it('allows LWS around parameters and quoted parameter values', () => {
    const a = na('<sip:a@example.com> ; tag = abc ;  +sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
    assert.equal(a.tag, 'abc');
    assert.equal(a.params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
  });

  it('allows URI headers in <> only', () => {
    const a = na('<sip:user@example.com?Route=%3Csip:sip.example.com%3E>');
    assert.equal(a.uri.headers, 'Route=%3Csip:sip.example.com%3E');
    rejects('sip:user@example.com?Route=%3Csip:sip.example.com%3E');
  });

  it('accepts unknown schemes in <>', () => {
    const a = na('<http://www.example.com>;tag=3234233');
    assert.equal(a.uri.scheme, 'http');
    assert.equal(a.uri.opaque, '//www.example.com');
    assert.equal(a.tag, '3234233');
    assert.equal(na('isbn:2983792873', 'To').uri.opaque, '2983792873');
  });

  it('rejects whitespace inside <> (RFC 4475 3.1.2.14)', () => {
    rejects('< sip:alice@example.com>');
    rejects('<sip:alice@example.com >');
    rejects('<sip:alice@example.com\t>');
    rejects('<sip:alice @example.com>');
    rejects('<sip:alice@example.com ;lr>');
  });

  it('rejects unbalanced quotes and unclosed brackets', () => {
    rejects('"Alice <sip:alice@example.com>');
    rejects('"Alice\\" <sip:alice@example.com>');
    rejects('Alice <sip:alice@example.com');
    rejects('<>');
    rejects('"Alice" sip:alice@example.com');
  });

  it('rejects display names that are not tokens', () => {
    rejects('Alice@home <sip:alice@example.com>');
    rejects('Bell, Alexander <sip:a.g.bell@example.com>');
    rejects('Bob sip:bob@example.com'); // an addr-spec never has a display name
  });

  it('rejects malformed parameters and repeated ones', () => {
    rejects('<sip:a@example.com>;');
    rejects('<sip:a@example.com>;;;;');
    rejects('<sip:a@example.com>;tag=');
    rejects('<sip:a@example.com>;tag="unclosed');
    rejects('<sip:a@example.com>;tag=1;tag=2');
    rejects('<sip:a@example.com>;TAG=1;tag=2');
    rejects('<sip:a@example.com>junk');
    rejects('<sip:a@example.com>;ta g=1');
    rejects('<sip:a@example.com>;tag=a<b');
  });

  it('rejects empty and whitespace-only values', () => {
    rejects('');
    rejects('   ');
    rejects(';tag=1');
  });

  it('trims surrounding whitespace', () => {
    const a = na('  "A" <sip:a@example.com>;tag=1  ');
    assert.equal(a.displayName, 'A');
    assert.equal(a.tag, '1');
  });
});

describe('name-addr headers of a message', () => {
  it('decodes From, To, Contact, Route, Record-Route and Path', () => {
    const msg = parseMessage(
      request({
        From: '"Alice" <sip:alice@example.com>;tag=a1',
        To: 'sip:bob@example.com',
        Contact: [
          '<sip:alice@192.0.2.1:5060>;expires=60, "Second, Device" <sip:alice@192.0.2.2>',
          'sip:alice@192.0.2.3',
        ],
        Route: ['<sip:p1.example.com;lr>,<sip:p2.example.com;lr>', '<sip:p3.example.com;lr>'],
        'Record-Route': '<sip:rr1.example.com;lr>, <sip:rr2.example.com;lr>',
        Path: '<sip:edge.example.com;lr>',
      }),
    );
    assert.equal(msg.from.displayName, 'Alice');
    assert.equal(msg.from.tag, 'a1');
    assert.equal(msg.to.tag, undefined);
    assert.equal(msg.to.uri.user, 'bob');
    const contact = msg.contact;
    assert.ok(contact !== undefined && !contact.star);
    assert.deepEqual(
      contact.addresses.map((a) => formatUri(a.uri)),
      ['sip:alice@192.0.2.1:5060', 'sip:alice@192.0.2.2', 'sip:alice@192.0.2.3'],
    );
    assert.equal(contact.addresses[0]!.params.get('expires'), '60');
    assert.equal(contact.addresses[1]!.displayName, 'Second, Device');
    assert.deepEqual(
      msg.routes.map((r) => r.uri.host),
      ['p1.example.com', 'p2.example.com', 'p3.example.com'],
    );
    assert.deepEqual(
      msg.recordRoutes.map((r) => r.uri.host),
      ['rr1.example.com', 'rr2.example.com'],
    );
    assert.equal(msg.paths[0]!.uri.host, 'edge.example.com');
  });

  it('reads Contact: * as a star', () => {
    const msg = parseMessage(request({ Contact: '*', Expires: '0' }, { method: 'REGISTER' }));
    assert.deepEqual(msg.contact, { star: true });
    assert.equal(msg.expires, 0);
  });

  it('has no Contact, Route or Path when absent', () => {
    const msg = parseMessage(request());
    assert.equal(msg.contact, undefined);
    assert.deepEqual(msg.routes, []);
    assert.deepEqual(msg.recordRoutes, []);
    assert.deepEqual(msg.paths, []);
  });

  it('rejects a bad Contact lazily, or at once with validate: full', () => {
    const data = request({ Contact: '<sip:a@example.com>, <sip:b@example.com' });
    const msg = parseMessage(data);
    assert.throws(
      () => msg.contact,
      (e) => e instanceof SipParseError && e.header === 'Contact',
    );
    assert.throws(
      () => parseMessage(data, { validate: 'full' }),
      (e) => e instanceof SipParseError && e.code === 'bad-header' && e.header === 'Contact',
    );
  });
});
