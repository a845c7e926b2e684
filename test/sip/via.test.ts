import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage, parseVia, SipParseError, type Via } from '../../src/index.js';
import { raw, request, response } from '../helpers/messages.js';

function via(s: string): Via {
  return parseVia(s, 0, s.length);
}

function rejects(s: string): void {
  assert.throws(
    () => via(s),
    (e) => e instanceof SipParseError && e.code === 'bad-header' && e.header === 'Via',
    `${JSON.stringify(s)} must be rejected`,
  );
}

describe('parseVia', () => {
  it('decodes protocol, transport, sent-by and parameters', () => {
    const v = via('SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;ttl=2');
    assert.equal(v.transport, 'UDP');
    assert.equal(v.host, 'pc33.atlanta.com');
    assert.equal(v.hostType, 'domain');
    assert.equal(v.port, 5066);
    assert.equal(v.branch, 'z9hG4bK776asdhds');
    assert.equal(v.params.get('ttl'), '2');
    assert.equal(v.rport, undefined);
    assert.equal(v.received, undefined);
    assert.equal(v.toString(), 'SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;ttl=2');
  });

  it('upper-cases transports, known and unknown', () => {
    for (const t of ['udp', 'TCP', 'Tls', 'sctp', 'TLS-SCTP', 'WS', 'wss', 'UNKNOWN']) {
      assert.equal(via(`SIP/2.0/${t} h.example.com`).transport, t.toUpperCase());
    }
    assert.equal(via('sip/2.0/udp h.example.com').transport, 'UDP', 'protocol name is case-insensitive');
  });

  it('allows LWS around "/" and ":" and before parameters (RFC 4475 3.1.1.1)', () => {
    const v = via('SIP  /   2.0  / TCP     spindle.example.com   :  5061 ;  branch  =   z9hG4bK9ikj8');
    assert.equal(v.transport, 'TCP');
    assert.equal(v.host, 'spindle.example.com');
    assert.equal(v.port, 5061);
    assert.equal(v.branch, 'z9hG4bK9ikj8');
  });

  it('reads IPv4 and IPv6 sent-by (RFC 5118)', () => {
    const v4 = via('SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1');
    assert.equal(v4.hostType, 'ipv4');
    assert.equal(v4.host, '192.0.2.1');
    const v6 = via('SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111');
    assert.equal(v6.hostType, 'ipv6');
    assert.equal(v6.host, '[2001:db8::9:1]');
    assert.equal(v6.port, 5070);
    assert.equal(via('SIP/2.0/UDP [2001:db8::9:1]').port, undefined);
    assert.equal(via('SIP/2.0/UDP [::ffff:192.0.2.10]').hostType, 'ipv6');
  });

  it('accepts received with an IPv6 address with or without brackets (RFC 5118 4.5, 4.6)', () => {
    assert.equal(
      via('SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3;received=[2001:db8::9:255]').received,
      '[2001:db8::9:255]',
    );
    assert.equal(
      via('SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3;received=2001:db8::9:255').received,
      '2001:db8::9:255',
    );
    assert.equal(via('SIP/2.0/UDP h.example.com;received=192.0.2.7').received, '192.0.2.7');
  });

  it('rejects a received that is not an IP address', () => {
    rejects('SIP/2.0/UDP h.example.com;received=evil.example.com');
    rejects('SIP/2.0/UDP h.example.com;received');
    rejects('SIP/2.0/UDP h.example.com;received=[192.0.2.1]');
    rejects('SIP/2.0/UDP h.example.com;received=[2001:db8::1');
    rejects('SIP/2.0/UDP h.example.com;received="192.0.2.1"');
  });

  it('tells the rport flag from an rport value (RFC 3581)', () => {
    const ask = via('SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK1');
    assert.equal(ask.rport, null, 'flag: the client asks for rport');
    const got = via('SIP/2.0/UDP 192.0.2.1;received=198.51.100.7;rport=40000;branch=z9hG4bK1');
    assert.equal(got.rport, 40000);
    assert.equal(got.received, '198.51.100.7');
    assert.equal(via('SIP/2.0/UDP h.example.com;RPORT=5060').rport, 5060, 'parameter names are case-insensitive');
  });

  it('rejects an rport that is not a port', () => {
    rejects('SIP/2.0/UDP h.example.com;rport=');
    rejects('SIP/2.0/UDP h.example.com;rport=1e3');
    rejects('SIP/2.0/UDP h.example.com;rport=65536');
    rejects('SIP/2.0/UDP h.example.com;rport=-1');
    rejects('SIP/2.0/UDP h.example.com;rport=0x10');
  });

  it('keeps the branch as written, even a bare magic cookie (RFC 4475 3.2.1)', () => {
    assert.equal(via('SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK').branch, 'z9hG4bK');
    assert.equal(via("SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~").branch, "z9hG4bK-.!%66*_+`'~");
    assert.equal(via('SIP/2.0/UDP iftgw.example.com').branch, undefined, 'RFC 2543 Via without branch');
  });

  it('rejects malformed Via values', () => {
    rejects('');
    rejects('SIP/2.0/UDP');
    rejects('SIP/2.0/UDP ');
    rejects('SIP/2.0 UDP h.example.com');
    rejects('SIP/1.0/UDP h.example.com');
    rejects('HTTP/2.0/UDP h.example.com');
    rejects('SIP/2.0/ h.example.com');
    rejects('SIP/2.0/UDPh.example.com');
    rejects('SIP/2.0/UDP h.example.com:');
    rejects('SIP/2.0/UDP h.example.com:65536');
    rejects('SIP/2.0/UDP h.example.com:5060x');
    rejects('SIP/2.0/UDP h.example.com junk');
    rejects('SIP/2.0/UDP 192.0.2.15;;,;,,'); // RFC 4475 3.1.2.1
    rejects('SIP/2.0/UDP h.example.com;branch=a;branch=b');
    rejects('SIP/2.0/UDP h.example.com;branch="unclosed');
    rejects('SIP/2.0/UDP -bad.example.com');
    rejects('SIP/2.0/UDP ...');
    rejects('SIP/2.0/UDP 999.0.0.1');
  });

  it('rejects IPv6 sent-by without brackets, with three colons, or with a zone', () => {
    rejects('SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bK1');
    rejects('SIP/2.0/UDP [2001:db8:::9:1]');
    rejects('SIP/2.0/UDP [2001:db8::9:1');
    rejects('SIP/2.0/UDP [fe80::1%eth0]:5060');
  });
});

describe('Via headers of a message', () => {
  it('collects several Vias per line and over several lines, top first', () => {
    const msg = parseMessage(
      response({
        Via: [
          'SIP/2.0/UDP first.example.com;branch=z9hG4bK1, SIP/2.0/TCP second.example.com:5070;branch=z9hG4bK2',
          'SIP/2.0/TLS [2001:db8::3]:5061;branch=z9hG4bK3',
        ],
        'X-Between': 'x',
        v: 'SIP/2.0/UDP fourth.example.com;branch=z9hG4bK4',
      }),
    );
    assert.deepEqual(
      msg.vias.map((v) => [v.transport, v.host, v.port, v.branch]),
      [
        ['UDP', 'first.example.com', undefined, 'z9hG4bK1'],
        ['TCP', 'second.example.com', 5070, 'z9hG4bK2'],
        ['TLS', '[2001:db8::3]', 5061, 'z9hG4bK3'],
        ['UDP', 'fourth.example.com', undefined, 'z9hG4bK4'],
      ],
    );
    assert.equal(msg.topVia.host, 'first.example.com');
    assert.equal(msg.topVia, msg.topVia, 'topVia is decoded once and cached');
    assert.equal(msg.vias, msg.vias, 'vias is decoded once and cached');
    assert.deepEqual(msg.headerValues('Via').length, 4);
  });

  it('validates only the top Via by default, every Via with validate: full', () => {
    const data = request({ Via: 'SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP bad host' });
    const msg = parseMessage(data);
    assert.equal(msg.topVia.host, 'a.example.com');
    assert.throws(() => msg.vias, SipParseError);
    assert.throws(
      () => parseMessage(data, { validate: 'full' }),
      (e) => e instanceof SipParseError && e.header === 'Via',
    );
  });

  it('rejects a malformed top Via while parsing', () => {
    assert.throws(
      () => parseMessage(request({ Via: 'SIP/2.0/UDP' })),
      (e) => e instanceof SipParseError && e.code === 'bad-header' && e.header === 'Via',
    );
    assert.throws(
      () => parseMessage(request({ Via: ', SIP/2.0/UDP a.example.com' })),
      (e) => e instanceof SipParseError && e.header === 'Via',
    );
  });

  it('reads a folded Via', () => {
    const msg = parseMessage(
      raw([
        'OPTIONS sip:bob@example.com SIP/2.0',
        'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,',
        '   SIP/2.0/UDP b.example.com;branch=z9hG4bK2',
        'Max-Forwards: 70',
        'From: <sip:a@example.com>;tag=1',
        'To: <sip:b@example.com>',
        'Call-ID: fold',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
      ]),
    );
    assert.deepEqual(
      msg.vias.map((v) => v.host),
      ['a.example.com', 'b.example.com'],
    );
  });
});
