import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatUri, hostAddress, parseUri, SipParseError, type UriContext, unescapeUri } from '../../src/index.js';

function uri(s: string, context: UriContext = 'name-addr') {
  return parseUri(s, 0, s.length, context, context === 'request-uri' ? 'Request-URI' : 'URI');
}

function rejects(s: string, context: UriContext = 'name-addr'): SipParseError {
  let caught: unknown;
  try {
    uri(s, context);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SipParseError, `${JSON.stringify(s)} (${context}) must be rejected`);
  return caught;
}

describe('parseUri: sip and sips', () => {
  it('decodes scheme, user, host, port', () => {
    const u = uri('sip:alice@example.com:5070');
    assert.equal(u.scheme, 'sip');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, undefined);
    assert.equal(u.host, 'example.com');
    assert.equal(u.hostType, 'domain');
    assert.equal(u.port, 5070);
    assert.equal(u.params.size, 0);
    assert.equal(u.headers, undefined);
    assert.equal(u.opaque, undefined);
  });

  it('lower-cases the scheme and accepts sips', () => {
    const u = uri('SIPS:bob@example.com');
    assert.equal(u.scheme, 'sips');
    assert.equal(u.user, 'bob');
  });

  it('has no user when there is no @', () => {
    const u = uri('sip:example.com');
    assert.equal(u.user, undefined);
    assert.equal(u.host, 'example.com');
    assert.equal(u.port, undefined);
  });

  it('splits user and password', () => {
    const u = uri('sip:alice:secret@example.com');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, 'secret');
    assert.equal(uri('sip:alice:@example.com').password, '', 'an empty password is still a password');
  });

  it('allows the RFC 3261 user characters, telephone-subscriber style', () => {
    const u = uri('sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone');
    assert.equal(u.user, '+1-212-555-1212;phone-context=example.com');
    assert.equal(u.host, 'gw.example.com');
    assert.equal(u.params.get('user'), 'phone');
  });

  it('classifies IPv4 hosts', () => {
    const u = uri('sip:192.0.2.1:5060');
    assert.equal(u.hostType, 'ipv4');
    assert.equal(u.host, '192.0.2.1');
    assert.equal(u.port, 5060);
  });

  it('keeps IPv6 references bracketed and reads the port after them', () => {
    const u = uri('sip:alice@[2001:db8::10]:5070');
    assert.equal(u.hostType, 'ipv6');
    assert.equal(u.host, '[2001:db8::10]');
    assert.equal(u.port, 5070);
    assert.equal(hostAddress(u.host), '2001:db8::10');
    assert.equal(hostAddress('192.0.2.1'), '192.0.2.1');
    assert.equal(uri('sip:[::ffff:192.0.2.1]').hostType, 'ipv6', 'IPv4-mapped IPv6');
  });

  it('reads [2001:db8::10:5070] as an address without port (RFC 5118 4.5)', () => {
    const u = uri('sip:[2001:db8::10:5070]');
    assert.equal(u.host, '[2001:db8::10:5070]');
    assert.equal(u.port, undefined);
  });

  it('rejects bad IPv6 references', () => {
    rejects('sip:[2001:db8:::10]'); // three colons (RFC 5118 4.4)
    rejects('sip:[2001:db8::10'); // no ]
    rejects('sip:2001:db8::10'); // no brackets
    rejects('sip:[192.0.2.1]');
    rejects('sip:[fe80::1%eth0]'); // a zone index would select a local interface
    rejects('sip:[fe80::1%25eth0]:5060');
  });

  it('checks port bounds', () => {
    assert.equal(uri('sip:h.example.com:0').port, 0);
    assert.equal(uri('sip:h.example.com:65535').port, 65535);
    assert.equal(uri('sip:h.example.com:00080').port, 80);
    rejects('sip:h.example.com:65536');
    rejects('sip:h.example.com:123456');
    rejects('sip:h.example.com:');
    rejects('sip:h.example.com:-1');
    rejects('sip:h.example.com:50x');
  });

  it('checks host names', () => {
    assert.equal(uri('sip:example.com.').host, 'example.com.', 'a trailing dot is allowed');
    assert.equal(uri('sip:_sip._udp.example.com').host, '_sip._udp.example.com', 'underscore tolerated');
    assert.equal(uri('sip:localhost').hostType, 'domain');
    rejects('sip:-bad.example.com');
    rejects('sip:bad-.example.com');
    rejects('sip:a..example.com');
    rejects('sip:.');
    rejects('sip:');
    rejects('sip:alice@');
    rejects('sip:exa mple.com');
    rejects('sip:exämple.com');
  });

  it('rejects dotted numbers that are not IPv4 addresses (toplabel starts with a letter)', () => {
    rejects('sip:999.1.1.1');
    rejects('sip:192.0.2.256');
    rejects('sip:192.0.2.1.5');
    rejects('sip:host.123');
  });

  it('reads flag and valued parameters with case-insensitive names', () => {
    const u = uri('sip:proxy.example.com;LR;Transport=TCP;maddr=192.0.2.5;ttl=15');
    assert.equal(u.params.get('lr'), null, 'flag parameter');
    assert.equal(u.params.has('Lr'), true);
    assert.equal(u.params.get('transport'), 'TCP', 'values keep their case');
    assert.equal(u.params.get('TRANSPORT'), 'TCP');
    assert.equal(u.params.get('maddr'), '192.0.2.5');
    assert.equal(u.params.get('missing'), undefined);
    assert.deepEqual(
      [...u.params.entries()].map(([k]) => k),
      ['lr', 'transport', 'maddr', 'ttl'],
    );
  });

  it('rejects malformed parameters', () => {
    rejects('sip:h.example.com;');
    rejects('sip:h.example.com;;lr');
    rejects('sip:h.example.com;a=');
    rejects('sip:h.example.com;a=b=c');
    rejects('sip:h.example.com; lr');
    rejects('sip:h.example.com;a="quoted"'); // URI parameters are never quoted strings
    rejects('sip:h.example.com;lr;LR'); // the same parameter twice
    rejects('sip:h.example.com;a<b');
  });

  it('allows headers in a name-addr, never in a Request-URI or an addr-spec', () => {
    const s = 'sip:user@example.com?Route=%3Csip:sip.example.com%3E&Subject=hi';
    const u = uri(s, 'name-addr');
    assert.equal(u.headers, 'Route=%3Csip:sip.example.com%3E&Subject=hi', 'headers keep their escapes');
    assert.equal(u.host, 'example.com');
    assert.equal(rejects(s, 'request-uri').code, 'bad-request-uri');
    assert.equal(rejects(s, 'addr-spec').code, 'bad-header');
    rejects('sip:user@example.com?', 'name-addr');
    rejects('sip:user@example.com?a=<b>', 'name-addr');
  });

  it('accepts valid %HH escapes and keeps them as written', () => {
    const u = uri('sip:sips%3Auser%40example.com@example.net');
    assert.equal(u.user, 'sips%3Auser%40example.com');
    assert.equal(unescapeUri(u.user!), 'sips:user@example.com');
    assert.equal(uri('sip:null-%00-null@example.com').user, 'null-%00-null');
    assert.equal(uri('sip:%61lice:p%41ss@example.com').password, 'p%41ss');
    assert.equal(uri('sip:h.example.com;a=%41').params.get('a'), '%41');
  });

  it('rejects invalid escapes', () => {
    rejects('sip:a%4@example.com');
    rejects('sip:a%zz@example.com');
    rejects('sip:a%@example.com');
    rejects('sip:h.example.com;a=%4');
    rejects('sip:u:p%G1@example.com');
  });

  it('rejects characters that need escaping', () => {
    rejects('sip:al ice@example.com');
    rejects('sip:al"ice@example.com');
    rejects('sip:al<ice@example.com');
    rejects('sip:alé@example.com');
    rejects('sip:alice@example.com>');
  });

  it('reports Request-URI errors with their own code', () => {
    const err = rejects('sip:a b', 'request-uri');
    assert.equal(err.code, 'bad-request-uri');
    assert.equal(err.reason, 'Bad Request-URI');
    const h = rejects('sip:a b', 'name-addr');
    assert.equal(h.code, 'bad-header');
  });

  it('parses a sub-range of a longer string', () => {
    const s = '<sip:alice@example.com;lr>, <sip:bob@example.net>';
    const u = parseUri(s, 1, 25, 'name-addr', 'Route');
    assert.equal(u.user, 'alice');
    assert.equal(u.params.get('lr'), null);
    const v = parseUri(s, 29, s.length - 1, 'name-addr', 'Route');
    assert.equal(v.user, 'bob');
    assert.equal(v.host, 'example.net');
  });
});

describe('parseUri: tel and unknown schemes', () => {
  it('decodes tel URIs with visual separators and parameters', () => {
    const u = uri('tel:+1-201-555-0123;phone-context=example.com;ext=22');
    assert.equal(u.scheme, 'tel');
    assert.equal(u.user, '+1-201-555-0123');
    assert.equal(u.host, '');
    assert.equal(u.hostType, 'none');
    assert.equal(u.params.get('phone-context'), 'example.com');
    assert.equal(u.params.get('ext'), '22');
    assert.equal(uri('TEL:911').scheme, 'tel');
  });

  it('rejects empty or bad tel numbers', () => {
    rejects('tel:');
    rejects('tel:;ext=1');
    rejects('tel:12 34');
    rejects('tel:1<2');
  });

  it('keeps unknown schemes opaque (RFC 4475 3.3.2)', () => {
    const u = uri('nobodyKnowsThisScheme:totallyopaquecontent', 'request-uri');
    assert.equal(u.scheme, 'nobodyknowsthisscheme');
    assert.equal(u.opaque, 'totallyopaquecontent');
    assert.equal(u.host, '');
    assert.equal(u.hostType, 'none');
    assert.equal(uri('soap.beep://192.0.2.103:3002', 'request-uri').opaque, '//192.0.2.103:3002');
    assert.equal(uri('http://www.example.com/a?b=c;d', 'name-addr').opaque, '//www.example.com/a?b=c;d');
  });

  it('keeps delimiters out of opaque URIs', () => {
    rejects('http:', 'name-addr');
    rejects('http://a b', 'name-addr');
    rejects('http://a<b', 'name-addr');
    rejects('http://a"b', 'name-addr');
    rejects('http://a;b', 'addr-spec'); // an addr-spec ends at ';' ',' '?'
    rejects('http://a?b', 'addr-spec');
    rejects('http://a,b', 'addr-spec');
  });

  it('rejects garbage with SipParseError', () => {
    for (const s of [
      '',
      ':',
      'sip',
      '1sip:a',
      'si p:a',
      's!p:a',
      '<sip:a>',
      'sip:@',
      'sip:a@b@c',
      '\0:x',
      'sip:a\0b',
    ]) {
      rejects(s);
    }
  });
});

describe('formatUri', () => {
  it('writes canonical forms that parse back to the same URI', () => {
    for (const s of [
      'sip:alice@example.com',
      'sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr',
      'sip:192.0.2.1:5060;maddr=192.0.2.2',
      'sip:user@example.com?Subject=hi&Priority=urgent',
      'tel:+1-201-555-0123;ext=7',
      'urn:service:sos',
      'sip:%61lice@example.com',
    ]) {
      const u = uri(s);
      const out = formatUri(u);
      assert.equal(out, s);
      assert.deepEqual(uri(out), u);
    }
  });

  it('writes the lower-case scheme and parameter names', () => {
    assert.equal(formatUri(uri('SIP:Alice@Example.COM;Transport=UDP')), 'sip:Alice@Example.COM;transport=UDP');
  });

  it('reflects edits to the parameters', () => {
    const u = uri('sip:proxy.example.com;lr');
    u.params.set('transport', 'tcp');
    u.params.delete('lr');
    assert.equal(formatUri(u), 'sip:proxy.example.com;transport=tcp');
  });
});
