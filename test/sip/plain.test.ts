import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { describe, it } from 'node:test';
import { MESSAGE_MIX } from '../../bench/parser/messages.js';
import { parseNameAddr, parseUri, parseVia, SipParseError } from '../../src/index.js';
import { ipv4End, isIPv4Bytes } from '../../src/sip/chars.js';
import { domainEnd, plainNameAddr, plainUri, plainVia } from '../../src/sip/plain.js';
import { firstElementEnd } from '../../src/sip/split.js';
import { isDomain } from '../../src/sip/uri.js';
import { loadCorpus } from '../helpers/corpus.js';
import { Rng } from '../helpers/fuzz.js';
import { EXTRA_SEEDS } from '../helpers/messages.js';

/**
 * The byte-level fast paths (plain.ts) against the string parsers they shortcut: whenever
 * a fast path returns a value, the string parser must return the same one for the same
 * text. (A fast path may decline anything; the string parser then decides.)
 */

type Kind = 'via' | 'name-addr' | 'request-uri';

/** The text in a Buffer (as a message holds it), with some bytes before it, and the latin1 head. */
function place(text: string): { buf: Buffer; head: string; a: number; b: number } {
  const buf = Buffer.from(`X: ${text}\r\n`, 'latin1');
  return { buf, head: buf.toString('latin1'), a: 3, b: 3 + Buffer.byteLength(text, 'latin1') };
}

function reference(kind: Kind, s: string, a: number, b: number): unknown {
  try {
    if (kind === 'via') return parseVia(s, a, firstElementEnd(s, a, b));
    if (kind === 'name-addr') return parseNameAddr(s, a, b, 'From');
    return parseUri(s, a, b, 'request-uri', 'Request-URI');
  } catch (err) {
    assert.ok(err instanceof SipParseError, `string parser threw ${String(err)}`);
    return err;
  }
}

function fast(kind: Kind, buf: Buffer, head: string, a: number, b: number): unknown {
  if (kind === 'via') return plainVia(buf, head, 0, a, b);
  if (kind === 'name-addr') return plainNameAddr(buf, head, 0, a, b);
  return plainUri(buf, head, 0, a, b, -1);
}

let compared = 0;
let taken = 0;

function agree(kind: Kind, text: string): void {
  // Plain values only: ASCII without controls (the parser never hands the fast paths more).
  if (!/^[\x20-\x7e\t]*$/.test(text) || text.length === 0 || /^[ \t]|[ \t]$/.test(text)) return;
  const { buf, head, a, b } = place(text);
  const got = fast(kind, buf, head, a, b);
  compared++;
  if (got === undefined) return;
  taken++;
  const want = reference(kind, head, a, b);
  assert.ok(
    !(want instanceof SipParseError),
    `${kind} fast path accepted what the parser rejects: ${JSON.stringify(text)} (${String(want)})`,
  );
  assert.deepEqual(got, want, `${kind}: ${JSON.stringify(text)}`);
}

/** Header values of the messages the tests and benchmarks use, by kind. */
function seedValues(): Array<[Kind, string]> {
  const out: Array<[Kind, string]> = [];
  const messages = [...loadCorpus().map((e) => e.data), ...EXTRA_SEEDS, ...MESSAGE_MIX.map((m) => m.raw)];
  for (const data of messages) {
    const text = data.toString('latin1');
    const lines = text.split('\r\n');
    const start = lines[0]!.split(' ');
    if (start.length === 3 && !start[0]!.startsWith('SIP/')) out.push(['request-uri', start[1]!]);
    for (const line of lines.slice(1)) {
      if (line === '') break;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'via' || name === 'v') out.push(['via', value]);
      else if (['from', 'f', 'to', 't', 'contact', 'm', 'route', 'record-route'].includes(name)) {
        out.push(['name-addr', value]);
      }
    }
  }
  return out;
}

/** Characters worth inserting: delimiters of each grammar, case changes, escapes. */
const ALPHABET = ' \t;:=,<>"\\@%[]./-_~!*+`\'?&$#()AZaz09SIPsip2x';

function mutateText(rng: Rng, s: string): string {
  let out = s;
  for (let n = rng.range(1, 3); n > 0; n--) {
    const at = rng.int(out.length + 1);
    const op = rng.int(4);
    if (op === 0) out = out.slice(0, at) + out.slice(at + 1);
    else if (op === 1) out = out.slice(0, at) + ALPHABET[rng.int(ALPHABET.length)] + out.slice(at);
    else if (op === 2) out = out.slice(0, at) + ALPHABET[rng.int(ALPHABET.length)] + out.slice(at + 1);
    else {
      const c = out.charCodeAt(at);
      if (c >= 0x61 && c <= 0x7a) out = out.slice(0, at) + String.fromCharCode(c - 0x20) + out.slice(at + 1);
    }
  }
  return out;
}

describe('plain.ts fast paths agree with the string parsers', () => {
  const seeds = seedValues();

  it('on the header values of the corpus, the test seeds and the benchmark mix', () => {
    for (const [kind, value] of seeds) agree(kind, value);
    assert.ok(taken > 50, `the fast paths took only ${taken} of ${compared} values`);
  });

  it('on mutated values', () => {
    const rng = new Rng(0x5eed);
    for (let n = 0; n < 60000; n++) {
      const [kind, value] = seeds[rng.int(seeds.length)]!;
      agree(kind, mutateText(rng, value));
    }
  });

  it('on hand-picked edge cases', () => {
    const cases: Array<[Kind, string]> = [
      ['via', 'SIP/2.0/UDP host.example.com.;branch=z9hG4bK1'],
      ['via', 'SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1, SIP/2.0/TCP b'],
      ['via', 'SIP/2.0/udp 10.0.0.1;RPORT=5;Received=10.0.0.2;branch=x'],
      ['via', 'SIP/2.0/UDP 10.0.0.1;rport=65536'],
      ['via', 'SIP/2.0/UDP 10.0.0.1;received=10.0.0.256'],
      ['via', 'SIP/2.0/UDP 10.0.0.1;received'],
      ['via', 'SIP/2.0/UDP 10.0.0.1;branch=a;branch=b'],
      ['via', 'SIP/2.0/UDP 999.1.1.1'],
      ['via', 'SIP/2.0/UDP -a.example.com'],
      ['via', 'SIP/2.0/UDP a-.example.com'],
      ['via', 'SIP/2.0/UDP a..example.com'],
      ['via', 'SIP/2.0/UDP 1.2.3.4.5'],
      ['via', 'SIP/2.0/UDP 01.2.3.4'],
      ['via', 'SIP/2.0/UDP a_b.example.com:0'],
      ['name-addr', '<sip:a@b>;tag=1;tag=2'],
      ['name-addr', '<sip:a@b;lr;LR>'],
      ['name-addr', '"x" <sip:%41@b>'],
      ['name-addr', '"x" <sip:%4@b>'],
      ['name-addr', 'sip:alice@example.com;tag=1'],
      ['name-addr', 'Alice Smith <sip:alice@example.com>'],
      ['name-addr', '<sip:alice:pw@example.com>'],
      ['name-addr', '<sip:alice@example.com?subject=x>'],
      ['name-addr', '<sips:alice@1.2.3.4:5061;transport=tls>'],
      ['name-addr', '<sip:example.com;user=phone;a=%zz>'],
      ['request-uri', 'sip:alice@example.com;transport=udp'],
      ['request-uri', 'SIP:ALICE@EXAMPLE.COM'],
      ['request-uri', 'sip:@example.com'],
      ['request-uri', 'sip:a@b@c'],
      ['request-uri', 'sip:host:99999'],
      ['request-uri', 'sip:1.2.3.4:'],
    ];
    for (const [kind, text] of cases) agree(kind, text);
  });
});

describe('plain.ts host helpers agree with isDomain and net.isIPv4', () => {
  it('on random host-like strings', () => {
    const rng = new Rng(42);
    const chars = 'ab0129.-_';
    for (let n = 0; n < 50000; n++) {
      let s = '';
      for (let k = rng.int(12); k >= 0; k--) s += chars[rng.int(chars.length)];
      const buf = Buffer.from(`${s};`, 'latin1');
      assert.equal(isIPv4Bytes(buf, 0, s.length), isIPv4(s), `isIPv4 ${s}`);
      const v4 = ipv4End(buf, 0, s.length);
      if (v4 !== -1) assert.ok(isIPv4(s.slice(0, v4)), `ipv4End ${s}`);
      // domainEnd reads the whole run of host characters (here: all of s).
      const end = domainEnd(buf, 0, s.length);
      assert.equal(end !== -1, isDomain(s), `domainEnd ${s}`);
      if (end !== -1) assert.equal(end, s.length);
    }
  });
});
