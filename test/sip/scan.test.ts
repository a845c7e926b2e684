import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MESSAGE_MIX } from '../../bench/parser/messages.js';
import { parseMessage, type SipMessage, SipParseError } from '../../src/index.js';
import { H, headerIdOf, identifyHeader } from '../../src/sip/header-names.js';
import { raw, request } from '../helpers/messages.js';

/**
 * The parser's fast scans (parser.ts): octets checked four at a time, header names found
 * and identified a word at a time, a copy of the datagram in the parser's own buffer.
 * Checked here against what the octet-by-octet rules say.
 */

function outcome(data: Buffer): string {
  try {
    const msg = parseMessage(data);
    return `ok ${msg.headerCount} ${msg
      .headers()
      .map(([n, v]) => `${n}=${v}`)
      .join('|')}`;
  } catch (err) {
    assert.ok(err instanceof SipParseError, `threw ${String(err)}`);
    return err.code;
  }
}

const START = 'OPTIONS sip:bob@example.com SIP/2.0';
const ESSENTIALS = [
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
  'Max-Forwards: 70',
  'From: <sip:alice@example.com>;tag=1',
  'To: <sip:bob@example.com>',
  'Call-ID: abc@192.0.2.1',
  'CSeq: 1 OPTIONS',
];

/** A value octet the header syntax accepts outside quotes: printable, HT, or >= 0x80. */
function valueOctetOk(c: number): boolean {
  return (c >= 0x20 && c !== 0x7f) || c === 0x09;
}

describe('parser: octets checked four at a time', () => {
  it('accepts or rejects every octet at every position of a word in a value', () => {
    for (let pad = 0; pad < 8; pad++) {
      for (let c = 0; c < 256; c++) {
        if (c === 0x0d || c === 0x0a) continue; // line structure, tested elsewhere
        const value = Buffer.concat([
          Buffer.from(`X-Test: ${'a'.repeat(pad)}`, 'latin1'),
          Buffer.from([c]),
          Buffer.from('bcdefghij', 'latin1'),
        ]);
        const data = Buffer.concat([
          Buffer.from(`${START}\r\n${ESSENTIALS.join('\r\n')}\r\n`, 'latin1'),
          value,
          Buffer.from('\r\nContent-Length: 0\r\n\r\n', 'latin1'),
        ]);
        const got = outcome(data);
        if (valueOctetOk(c)) {
          assert.ok(got.startsWith('ok'), `octet ${c} after ${pad}: ${got}`);
          const msg = parseMessage(data);
          const v = msg.header('X-Test')!;
          // Trailing whitespace is trimmed; the value otherwise reads back as written.
          assert.equal(Buffer.from(v, c >= 0x80 ? 'utf8' : 'latin1').length > 0, true);
        } else {
          assert.equal(got, 'bad-header', `octet ${c} after ${pad}`);
        }
      }
    }
  });

  it('accepts or rejects every octet at every position of a header name', () => {
    for (let pad = 0; pad < 6; pad++) {
      for (let c = 0; c < 256; c++) {
        if (c === 0x0d || c === 0x0a || c === 0x3a) continue;
        const name = Buffer.concat([
          Buffer.from(`X${'n'.repeat(pad)}`, 'latin1'),
          Buffer.from([c]),
          Buffer.from('ame'),
        ]);
        const data = Buffer.concat([
          Buffer.from(`${START}\r\n${ESSENTIALS.join('\r\n')}\r\n`, 'latin1'),
          name,
          Buffer.from(': v\r\nContent-Length: 0\r\n\r\n', 'latin1'),
        ]);
        const token = /^[A-Za-z0-9\-.!%*_+`'~]$/.test(String.fromCharCode(c));
        assert.equal(outcome(data).startsWith('ok'), token, `octet ${c} in a name after ${pad}`);
      }
    }
  });

  it('accepts or rejects every octet of the start line', () => {
    for (let c = 0; c < 256; c++) {
      if (c === 0x0d || c === 0x0a || c === 0x20) continue;
      const line = Buffer.concat([
        Buffer.from('OPTIONS sip:bob@exam', 'latin1'),
        Buffer.from([c]),
        Buffer.from('ple.com SIP/2.0'),
      ]);
      const data = Buffer.concat([line, Buffer.from(`\r\n${ESSENTIALS.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`)]);
      const got = outcome(data);
      // The Request-URI is checked on first use: here only control octets and DEL are errors.
      if (c < 0x20 || c === 0x7f) assert.equal(got, 'bad-start-line', `octet ${c}`);
      else assert.ok(got.startsWith('ok'), `octet ${c}: ${got}`);
    }
  });
});

describe('parser: header names identified a word at a time', () => {
  const known = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Max-Forwards', 'Content-Length', 'l'];
  const others = ['Contact', 'm', 'Record-Route', 'Route', 'User-Agent', 'Server', 'WWW-Authenticate', 'Allow-Events'];

  it('in any case, and not when an octet differs', () => {
    for (const name of [...known, ...others]) {
      const id = headerIdOf(name);
      assert.notEqual(id, H.Other, name);
      for (const variant of [name, name.toUpperCase(), name.toLowerCase()]) {
        const buf = Buffer.from(`${variant}:`, 'latin1');
        assert.equal(identifyHeader(buf, 0, variant.length), id, variant);
      }
      // One token octet changed ('_', which folds to nothing a known name holds) is another
      // name. (identifyHeader wants token octets: CR would fold to '-'. The parser only
      // passes it printable octets; the CR case is the next test.)
      for (let k = 0; k < name.length; k++) {
        const bytes = Buffer.from(name, 'latin1');
        bytes[k] = 0x5f;
        assert.equal(identifyHeader(bytes, 0, bytes.length), H.Other, `${name} with octet ${k} changed`);
      }
    }
  });

  it('a name with CR where a known one has "-" is an error, not that header', () => {
    const data = raw([START, ...ESSENTIALS, 'Max\rForwards: 70']);
    assert.equal(outcome(data), 'bad-header-name');
    assert.equal(
      outcome(raw([START, ...ESSENTIALS.slice(0, 1), ...ESSENTIALS.slice(2), 'Max-Forwards : 70'])).startsWith('ok'),
      true,
    );
  });
});

describe("parser: the parser's copy of the datagram", () => {
  it('a message parsed after a longer one reads only its own octets', () => {
    const long = request({ 'X-Long': 'y'.repeat(3000) });
    const short = request();
    const alone = outcome(short);
    parseMessage(long);
    assert.equal(outcome(short), alone);
    // Every prefix of the short message is an error, after the long one too.
    for (let n = 1; n < short.length - 4; n++) {
      parseMessage(long);
      const got = outcome(short.subarray(0, n));
      assert.ok(!got.startsWith('ok'), `prefix ${n} parsed: ${got}`);
    }
  });

  it('reads datagrams larger than its buffer in place', () => {
    for (const m of MESSAGE_MIX) {
      const big = Buffer.concat([m.raw, Buffer.alloc(70_000, 0x41)]);
      const a: SipMessage = parseMessage(m.raw);
      const b: SipMessage = parseMessage(big);
      assert.deepEqual(b.index, a.index);
      assert.equal(b.topVia.branch, a.topVia.branch);
      assert.ok(b.body.equals(a.body));
    }
  });
});
