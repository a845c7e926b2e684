import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageWriter, parseMessage, type SipMessage, SipParseError } from '../../src/index.js';
import { loadCorpus } from '../helpers/corpus.js';
import { raw, request, response } from '../helpers/messages.js';

function parsed(data: Buffer): SipMessage {
  return parseMessage(data);
}

function text(b: Buffer): string {
  return b.toString('latin1');
}

const FOLDED = raw(
  [
    'INVITE sip:bob@example.com SIP/2.0',
    'v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 ,',
    '\t SIP/2.0/UDP b.example.com;branch=z9hG4bK2',
    'Max-Forwards:   70',
    'From:  "Alice" <sip:alice@example.com>;tag=1',
    'To: <sip:bob@example.com>',
    'Subject: a folded',
    '   subject line',
    'Call-ID: folded-1',
    'CSeq: 1 INVITE',
    'l: 5',
  ],
  'hello',
);

describe('MessageWriter without edits', () => {
  it('reproduces every valid corpus message (and every other one it parses) byte for byte', () => {
    let valid = 0;
    for (const entry of loadCorpus()) {
      let msg: SipMessage;
      try {
        msg = parseMessage(entry.data);
      } catch (err) {
        assert.notEqual(entry.class, 'valid', `${entry.file}: ${String(err)}`);
        continue;
      }
      if (entry.class === 'valid') valid++;
      const out = new MessageWriter(msg).toBuffer();
      assert.ok(out.equals(msg.raw), `${entry.file}: output differs from msg.raw`);
      assert.ok(out.equals(entry.data.subarray(msg.start, msg.end)), `${entry.file}: output differs from the file`);
      assert.ok(parseMessage(out).raw.equals(out), `${entry.file}: output re-parses`);
    }
    assert.ok(valid >= 20, `only ${valid} valid corpus messages`);
  });

  it('drops trailing octets and leading CRLFs (RFC 4475 3.1.1.8)', () => {
    const m = request({}, { body: 'abc' });
    const data = Buffer.concat([Buffer.from('\r\n'), m, Buffer.from('INVITE junk')]);
    assert.ok(new MessageWriter(parsed(data)).toBuffer().equals(m));
  });

  it('keeps folded lines, odd spacing and compact names', () => {
    assert.ok(new MessageWriter(parsed(FOLDED)).toBuffer().equals(FOLDED));
  });
});

describe('MessageWriter edits', () => {
  it('prepends headers above all others, in call order', () => {
    const msg = parsed(request());
    const out = new MessageWriter(msg)
      .prepend('Via', 'SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKproxy')
      .prepend('Record-Route', '<sip:203.0.113.1;lr>')
      .toBuffer();
    const lines = text(out).split('\r\n');
    assert.equal(lines[0], 'OPTIONS sip:bob@example.com SIP/2.0');
    assert.equal(lines[1], 'Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKproxy');
    assert.equal(lines[2], 'Record-Route: <sip:203.0.113.1;lr>');
    const again = parsed(out);
    assert.equal(again.topVia.branch, 'z9hG4bKproxy');
    assert.deepEqual(
      again.vias.map((v) => v.branch),
      ['z9hG4bKproxy', 'z9hG4bK74bf9'],
    );
    assert.equal(again.recordRoutes[0]!.uri.host, '203.0.113.1');
  });

  it('inserts before a given header, and appends for -1', () => {
    const msg = parsed(request());
    const k = msg.findHeader('Call-ID');
    const out = new MessageWriter(msg)
      .insertBefore(k, 'X-One', '1')
      .insertBefore(k, 'X-Two', '2')
      .insertBefore(-1, 'X-Last', 'z')
      .append('X-Appended', 'a')
      .toBuffer();
    const names = parsed(out)
      .headers()
      .map(([n]) => n);
    assert.deepEqual(names, [
      'Via',
      'Max-Forwards',
      'From',
      'To',
      'X-One',
      'X-Two',
      'Call-ID',
      'CSeq',
      'Content-Length',
      'X-Last',
      'X-Appended',
    ]);
  });

  it('replaces a value, keeping the name as written', () => {
    const msg = parsed(FOLDED);
    const out = new MessageWriter(msg)
      .replace(msg.maxForwardsAt, '69')
      .replace(msg.viaAt, 'SIP/2.0/TCP c.example.com')
      .toBuffer();
    const s = text(out);
    assert.ok(s.includes('\r\nMax-Forwards: 69\r\n'));
    assert.ok(s.includes('\r\nv: SIP/2.0/TCP c.example.com\r\n'), 'compact name kept');
    const again = parsed(out);
    assert.equal(again.maxForwards, 69);
    assert.equal(again.vias.length, 1);
  });

  it('removes headers, one or all of a name', () => {
    const msg = parsed(request({ 'X-A': ['1', '2'], 'x-a': '3', Subject: 's' }));
    const out = parsed(new MessageWriter(msg).removeAll('X-A').remove(msg.findHeader('Subject')).toBuffer());
    assert.deepEqual(out.headerLines('X-A'), []);
    assert.equal(out.header('Subject'), undefined);
    assert.equal(out.callId, msg.callId);
  });

  it('removes the first element of a list line, or the whole line', () => {
    const msg = parsed(
      response({
        Via: [
          'SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp, SIP/2.0/UDP "quoted,comma".example.com;branch=z9hG4bKq',
          'SIP/2.0/UDP client.example.com;branch=z9hG4bKc',
        ],
      }),
    );
    const first = new MessageWriter(msg).removeFirstElement(msg.viaAt).toBuffer();
    assert.ok(text(first).includes('\r\nVia: SIP/2.0/UDP "quoted,comma".example.com;branch=z9hG4bKq\r\n'));

    const single = parsed(
      response({
        Via: ['SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp', 'SIP/2.0/UDP client.example.com;branch=z9hG4bKc'],
      }),
    );
    const popped = parsed(new MessageWriter(single).removeFirstElement(single.viaAt).toBuffer());
    assert.deepEqual(
      popped.vias.map((v) => v.host),
      ['client.example.com'],
    );
    assert.equal(popped.headerLines('Via').length, 1);
  });

  it('pops a Route element with commas inside <> and quotes', () => {
    const msg = parsed(request({ Route: '"P, One" <sip:p1.example.com;lr;x=a,b>, <sip:p2.example.com;lr>' }));
    const out = parsed(new MessageWriter(msg).removeFirstElement(msg.findHeader('Route')).toBuffer());
    assert.deepEqual(
      out.routes.map((r) => r.uri.host),
      ['p2.example.com'],
    );
  });

  it('replaces the Request-URI', () => {
    const msg = parsed(request({}, { method: 'INVITE' }));
    const out = new MessageWriter(msg).setRequestUri('sip:bob@10.0.0.10:5060;transport=udp').toBuffer();
    assert.ok(text(out).startsWith('INVITE sip:bob@10.0.0.10:5060;transport=udp SIP/2.0\r\n'));
    assert.equal(parsed(out).requestUri.host, '10.0.0.10');
  });

  it('recomputes Content-Length in bytes for a new UTF-8 body', () => {
    const msg = parsed(FOLDED);
    const body = 'v=0\r\ns=Zoë ☎\r\n';
    const out = new MessageWriter(msg).setBody(body).toBuffer();
    const again = parsed(out);
    assert.equal(again.contentLength, Buffer.byteLength(body, 'utf8'));
    assert.notEqual(again.contentLength, body.length);
    assert.equal(again.body.toString('utf8'), body);
    assert.ok(text(out).includes(`\r\nl: ${Buffer.byteLength(body)}\r\n`), 'the compact name is kept');
    assert.ok(text(out).includes('Subject: a folded\r\n   subject line\r\n'), 'untouched folded header kept');
  });

  it('accepts a Buffer body and an empty body', () => {
    const msg = parsed(request({}, { body: 'old body' }));
    const a = parsed(new MessageWriter(msg).setBody(Buffer.from([0, 1, 2])).toBuffer());
    assert.deepEqual([...a.body], [0, 1, 2]);
    const b = parsed(new MessageWriter(msg).setBody('').toBuffer());
    assert.equal(b.contentLength, 0);
    assert.equal(b.body.length, 0);
  });

  it('adds Content-Length for a new body when there was none', () => {
    const msg = parsed(request({}, { body: 'datagram body', contentLength: false }));
    assert.equal(msg.contentLengthAt, -1);
    const out = new MessageWriter(msg).setBody('x').toBuffer();
    const again = parseMessage(out, { requireContentLength: true });
    assert.equal(again.contentLength, 1);
    assert.equal(again.body.toString(), 'x');
  });

  it('ensureContentLength adds one when absent (datagram forwarded to a stream)', () => {
    const msg = parsed(request({}, { body: 'abc', contentLength: false }));
    const out = new MessageWriter(msg).ensureContentLength().toBuffer();
    assert.ok(text(out).endsWith('\r\nContent-Length: 3\r\n\r\nabc'));
    assert.equal(parseMessage(out, { requireContentLength: true }).body.toString(), 'abc');
  });

  it("ensureContentLength writes its own canonical line in place of the client's", () => {
    const msg = parsed(FOLDED);
    const out = text(new MessageWriter(msg).ensureContentLength().toBuffer());
    // Only the length line differs: `l: 5` (compact) becomes `Content-Length: 5`.
    assert.equal(out, text(FOLDED).replace('\r\nl: 5\r\n', '\r\nContent-Length: 5\r\n'));
    const bare = request({}, { body: 'abcde', contentLength: false }).toString('latin1');
    const padded = parsed(Buffer.from(bare.replace('\r\n\r\n', '\r\nContent-Length :   5  \r\n\r\n'), 'latin1'));
    const again = text(new MessageWriter(padded).ensureContentLength().toBuffer());
    assert.equal(again.match(/content-length/gi)?.length, 1);
    assert.ok(again.includes('\r\nContent-Length: 5\r\n'));
  });

  it('keeps untouched headers byte for byte around edits', () => {
    const msg = parsed(FOLDED);
    const out = new MessageWriter(msg)
      .prepend('Via', 'SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKx')
      .replace(msg.maxForwardsAt, '69')
      .toBuffer();
    const s = text(out);
    const original = text(FOLDED);
    for (const piece of [
      'v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 ,\r\n\t SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n',
      'From:  "Alice" <sip:alice@example.com>;tag=1\r\n',
      'Subject: a folded\r\n   subject line\r\n',
      '\r\n\r\nhello',
    ]) {
      assert.ok(original.includes(piece));
      assert.ok(s.includes(piece), `kept: ${JSON.stringify(piece)}`);
    }
    assert.equal(out.length, FOLDED.length + 'Via: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKx\r\n'.length - 2);
  });

  it('does not change the parsed message', () => {
    const msg = parsed(FOLDED);
    new MessageWriter(msg).prepend('X', 'y').setBody('zz').toBuffer();
    assert.ok(msg.raw.equals(FOLDED));
    assert.ok(new MessageWriter(msg).toBuffer().equals(FOLDED));
  });

  it('refuses header injection: CR or LF in values, non-token names', () => {
    const msg = parsed(request());
    const w = () => new MessageWriter(msg);
    const refused = (code: string) => (e: unknown) => e instanceof SipParseError && e.code === code;
    assert.throws(() => w().prepend('X', 'a\r\nVia: evil'), refused('bad-header'));
    assert.throws(() => w().append('X', 'a\n'), refused('bad-header'));
    assert.throws(() => w().insertBefore(0, 'X', 'a\rb'), refused('bad-header'));
    assert.throws(() => w().replace(0, 'SIP/2.0/UDP h\r\n\r\nbody'), refused('bad-header'));
    assert.throws(() => w().setRequestUri('sip:a\r\nX: y'), refused('bad-start-line'));
    assert.throws(() => w().prepend('X: y\r\nZ', 'v'), refused('bad-header-name'));
    assert.throws(() => w().prepend('', 'v'), refused('bad-header-name'));
    assert.throws(() => w().prepend('Bad Name', 'v'), refused('bad-header-name'));
  });

  it('cannot be made to end the headers early by a value ending in a fold', () => {
    // A proxy stamping received/rport copies the client's Via line; the line must not carry
    // a raw CRLF into the output (it would turn the following headers into a body).
    const msg = parsed(
      raw([
        'OPTIONS sip:bob@example.com SIP/2.0',
        'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;rport, SIP/2.0/UDP x.example.com',
        ' ',
        'Max-Forwards: 70',
        'From: <sip:a@example.com>;tag=1',
        'To: <sip:b@example.com>',
        'Call-ID: fold-smuggle',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
      ]),
    );
    let out: Buffer | undefined;
    try {
      out = new MessageWriter(msg).replace(msg.viaAt, `${msg.headerValueAt(msg.viaAt)};x`).toBuffer();
    } catch (err) {
      assert.ok(err instanceof SipParseError, 'refused as a malformed message');
      return;
    }
    const again = parsed(out);
    assert.equal(again.callId, 'fold-smuggle', 'every header is still a header');
    assert.equal(again.body.length, 0);
  });
});
