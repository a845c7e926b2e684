import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageWriter, parseMessage, type SipMessage } from '../../src/sip/index.js';
import {
  applyHygiene,
  CompiledHygiene,
  compileHygiene,
  type HygieneRules,
  MAX_REPLACEMENT_LENGTH,
} from '../../src/topology/hygiene.js';
import { loadCorpus } from '../helpers/corpus.js';
import { raw, request, response } from '../helpers/messages.js';

const KEEP_ALL: HygieneRules = {
  server: 'keep',
  userAgent: 'keep',
  remove: [],
  stripAssertedIdentityFromUntrusted: false,
  internalHosts: [],
};

function rules(over: Partial<HygieneRules>): HygieneRules {
  return { ...KEEP_ALL, ...over };
}

interface Result {
  changed: number;
  out: Buffer;
  msg: SipMessage;
}

function run(data: Buffer, r: HygieneRules | CompiledHygiene, fromTrusted = true): Result {
  const msg = parseMessage(data);
  const w = new MessageWriter(msg);
  const changed = applyHygiene(msg, w, r, { fromTrusted });
  const out = w.toBuffer();
  return { changed, out, msg: parseMessage(out) };
}

/** Every [name, value] of the re-parsed output, lower-case names. */
function names(msg: SipMessage): string[] {
  return msg.headers().map(([n]) => n.toLowerCase());
}

function assertNoSipwarden(out: Buffer): void {
  assert.equal(/sipwarden/i.test(out.toString('latin1')), false, 'output names sipwarden');
}

const ASTERISK_200 = response({
  Server: 'Asterisk PBX 20.5.0',
  Contact: '<sip:10.1.2.3:5060>',
  Allow: 'INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE',
  Supported: 'replaces, timer',
  'X-Asterisk-HangupCause': 'Normal Clearing',
  'x-lowercase': 'yes',
  'Content-Type': 'application/sdp',
});

describe('topology hygiene: banners', () => {
  it('removes the Asterisk Server banner', () => {
    const r = run(ASTERISK_200, rules({ server: 'remove' }));
    assert.equal(r.changed, 1);
    assert.equal(r.msg.header('Server'), undefined);
    assert.equal(r.msg.header('Contact'), '<sip:10.1.2.3:5060>');
    assert.equal(r.msg.headerCount, parseMessage(ASTERISK_200).headerCount - 1);
  });

  it('replaces the Asterisk Server banner', () => {
    const r = run(ASTERISK_200, rules({ server: { replace: 'PBX' } }));
    assert.equal(r.changed, 1);
    assert.deepEqual(r.msg.headerLines('Server'), ['PBX']);
    assert.equal(r.out.toString('latin1').includes('Asterisk PBX'), false);
  });

  it('replaces the FreeSWITCH User-Agent and leaves Server alone when only userAgent is set', () => {
    const data = request({ 'User-Agent': 'FreeSWITCH-mod_sofia/1.10.9', Server: 'FreeSWITCH' }, { method: 'INVITE' });
    const r = run(data, rules({ userAgent: { replace: 'Phone system' } }));
    assert.equal(r.changed, 1);
    assert.deepEqual(r.msg.headerLines('User-Agent'), ['Phone system']);
    assert.deepEqual(r.msg.headerLines('Server'), ['FreeSWITCH']);
  });

  it('leaves one banner when the header is repeated: the first replaced, the rest removed', () => {
    const data = response({ Server: ['Asterisk PBX 20.5.0', 'Asterisk PBX 20.5.0 (again)'] });
    const r = run(data, rules({ server: { replace: 'PBX' } }));
    assert.equal(r.changed, 2);
    assert.deepEqual(r.msg.headerLines('Server'), ['PBX']);
    const removed = run(data, rules({ server: 'remove' }));
    assert.equal(removed.changed, 2);
    assert.deepEqual(removed.msg.headerLines('Server'), []);
  });

  it('lets the remove list win over a banner replacement', () => {
    const r = run(ASTERISK_200, rules({ server: { replace: 'PBX' }, remove: ['server'] }));
    assert.equal(r.changed, 1);
    assert.deepEqual(r.msg.headerLines('Server'), []);
  });

  it('counts nothing when the banner already holds the replacement text', () => {
    const data = response({ Server: 'PBX' });
    const r = run(data, rules({ server: { replace: 'PBX' } }));
    assert.equal(r.changed, 0);
    assert.ok(r.out.equals(data));
  });

  it('replaces a folded, oddly spaced banner as one value', () => {
    const data = raw([
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9',
      'From: <sip:alice@example.com>;tag=1',
      'To: <sip:bob@example.com>;tag=2',
      'Call-ID: fold-1',
      'CSeq: 1 INVITE',
      'SERVER   :    Asterisk PBX',
      '\t  20.5.0   ',
      'user-agent:Asterisk',
      'Content-Length: 0',
    ]);
    const r = run(data, rules({ server: { replace: 'PBX' }, userAgent: 'remove' }));
    assert.equal(r.changed, 2);
    assert.deepEqual(r.msg.headerLines('Server'), ['PBX']);
    assert.deepEqual(r.msg.headerLines('User-Agent'), []);
    assert.equal(r.out.toString('latin1').includes('20.5.0'), false);
    // The name keeps its spelling as written.
    assert.ok(r.out.toString('latin1').includes('\r\nSERVER: PBX\r\n'));
  });
});

describe('topology hygiene: remove list', () => {
  it('removes X-* by prefix, any case', () => {
    const r = run(ASTERISK_200, rules({ remove: ['X-*'] }));
    assert.equal(r.changed, 2);
    const n = names(r.msg);
    assert.equal(
      n.some((h) => h.startsWith('x-')),
      false,
    );
    assert.ok(n.includes('server'));
    assert.ok(n.includes('content-type'));
  });

  it('removes exact names case-insensitively, every repeat', () => {
    const data = request({ 'x-Custom-Trace': ['a', 'b'], 'P-Charging-Vector': 'icid-value=1', 'X-Custom': 'stay' });
    const r = run(data, rules({ remove: ['X-CUSTOM-TRACE', 'p-charging-vector'] }));
    assert.equal(r.changed, 3);
    assert.deepEqual(r.msg.headerLines('X-Custom-Trace'), []);
    assert.deepEqual(r.msg.headerLines('P-Charging-Vector'), []);
    assert.deepEqual(r.msg.headerLines('X-Custom'), ['stay'], 'an exact name is not a prefix');
  });

  it('matches a header written in compact form by its full name and the other way round', () => {
    const data = raw([
      'MESSAGE sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1',
      'Max-Forwards: 70',
      'From: <sip:alice@example.com>;tag=1',
      'To: <sip:bob@example.com>',
      'Call-ID: compact-1',
      'CSeq: 1 MESSAGE',
      's: internal subject',
      'Subject: another one',
      'Content-Length: 0',
    ]);
    for (const pattern of ['Subject', 's', 'SUB*']) {
      const r = run(data, rules({ remove: [pattern] }));
      assert.equal(r.changed, 2, pattern);
      assert.deepEqual(r.msg.headerLines('Subject'), [], pattern);
    }
  });

  it('refuses patterns that are not header names or name protected headers', () => {
    for (const bad of ['', '*', 'X-**', 'Bad Name', 'X:Y', 'Via', 'v', 'call-id', 'Contact', 'Content-Length']) {
      assert.throws(() => compileHygiene(rules({ remove: [bad] })), RangeError, bad);
    }
  });

  it('never removes a protected header through a prefix', () => {
    const r = run(ASTERISK_200, rules({ remove: ['C*', 'V*', 'T*', 'F*'] }));
    for (const h of ['via', 'from', 'to', 'call-id', 'cseq', 'contact', 'content-type', 'content-length']) {
      assert.ok(names(r.msg).includes(h), h);
    }
  });
});

describe('topology hygiene: asserted identity', () => {
  const data = request(
    {
      'P-Asserted-Identity': ['"Boss" <sip:100@pbx.internal>', '<tel:+15551234567>'],
      'p-preferred-identity': '<sip:100@pbx.internal>',
    },
    { method: 'INVITE' },
  );
  const strip = rules({ stripAssertedIdentityFromUntrusted: true });

  it('strips P-Asserted-Identity and P-Preferred-Identity from an untrusted source', () => {
    const r = run(data, strip, false);
    assert.equal(r.changed, 3);
    assert.deepEqual(r.msg.headerLines('P-Asserted-Identity'), []);
    assert.deepEqual(r.msg.headerLines('P-Preferred-Identity'), []);
  });

  it('keeps them from a trusted source', () => {
    const r = run(data, strip, true);
    assert.equal(r.changed, 0);
    assert.ok(r.out.equals(data));
  });

  it('keeps them from an untrusted source when the rule is off', () => {
    const r = run(data, KEEP_ALL, false);
    assert.equal(r.changed, 0);
    assert.equal(r.msg.headerLines('P-Asserted-Identity').length, 2);
  });
});

describe('topology hygiene: Warning', () => {
  const hosts = rules({ internalHosts: ['pbx.internal', '10.1.2.3', '2001:DB8::10'] });

  function warned(...values: string[]): Buffer {
    return response({ Warning: values }, { startLine: 'SIP/2.0 488 Not Acceptable Here' });
  }

  it('removes a Warning whose warn-agent is an internal host, with or without port', () => {
    const r = run(
      warned(
        '399 pbx.internal "Internal error"',
        '370 10.1.2.3:5060 "Insufficient bandwidth"',
        '399 PBX.Internal. "trailing dot"',
      ),
      hosts,
    );
    assert.equal(r.changed, 3);
    assert.deepEqual(r.msg.headerLines('Warning'), []);
  });

  it('matches IPv6 warn-agents bracketed, with port, in any spelling', () => {
    const r = run(warned('399 [2001:db8:0::10]:5060 "x"', '399 [2001:0db8::0010] "y"'), hosts);
    assert.equal(r.changed, 2);
    assert.deepEqual(r.msg.headerLines('Warning'), []);
  });

  it('rewrites a mixed list keeping the external values', () => {
    const r = run(
      warned('399 pbx.internal "Internal, with a comma", 301 carrier.example.net "Incompatible network address"'),
      hosts,
    );
    assert.equal(r.changed, 1);
    assert.deepEqual(r.msg.headerLines('Warning'), ['301 carrier.example.net "Incompatible network address"']);
  });

  it('accepts internal hosts written with a port or brackets', () => {
    const r = run(
      warned('399 10.1.2.3 "a"', '399 [::1]:5070 "b"'),
      rules({ internalHosts: ['10.1.2.3:5060', '[::1]'] }),
    );
    assert.equal(r.changed, 2);
    assert.deepEqual(r.msg.headerLines('Warning'), []);
  });

  it('keeps external and unparseable warnings untouched', () => {
    const data = warned('399 carrier.example.net "Fine"', 'garbage pbx.internal', '99 pbx.internal "two digits"');
    const r = run(data, hosts);
    assert.equal(r.changed, 0);
    assert.ok(r.out.equals(data));
  });

  it('handles a folded Warning list', () => {
    const data = raw([
      'SIP/2.0 488 Not Acceptable Here',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1',
      'From: <sip:alice@example.com>;tag=1',
      'To: <sip:bob@example.com>;tag=2',
      'Call-ID: warn-fold',
      'CSeq: 1 INVITE',
      'Warning:  399   carrier.example.net  "one" ,',
      '   399 10.1.2.3 "two"',
      'Content-Length: 0',
    ]);
    const r = run(data, hosts);
    assert.equal(r.changed, 1);
    assert.deepEqual(r.msg.headerLines('Warning'), ['399   carrier.example.net  "one"']);
  });
});

describe('topology hygiene: no change, no leak', () => {
  it('leaves the bytes identical when every rule keeps', () => {
    const c = compileHygiene(KEEP_ALL);
    assert.equal(c.active, false);
    let messages = 0;
    for (const entry of loadCorpus()) {
      let msg: SipMessage;
      try {
        msg = parseMessage(entry.data);
      } catch {
        continue;
      }
      const w = new MessageWriter(msg);
      assert.equal(applyHygiene(msg, w, c, { fromTrusted: false }), 0);
      assert.ok(w.toBuffer().equals(msg.raw), entry.file);
      messages++;
    }
    assert.ok(messages > 10, `only ${messages} corpus messages parsed`);
    assert.ok(run(ASTERISK_200, KEEP_ALL, false).out.equals(ASTERISK_200));
  });

  it('leaves the bytes identical when active rules match nothing', () => {
    const data = request({ 'User-Agent': 'Softphone 1.0' });
    const r = run(
      data,
      rules({
        server: 'remove',
        remove: ['X-*', 'P-Charging-Vector'],
        stripAssertedIdentityFromUntrusted: true,
        internalHosts: ['pbx.internal'],
      }),
      false,
    );
    assert.equal(r.changed, 0);
    assert.ok(r.out.equals(data));
  });

  it('runs every rule over the torture corpus without crashing or adding headers', () => {
    const c = compileHygiene(
      rules({
        server: { replace: 'PBX' },
        userAgent: 'remove',
        remove: ['X-*', 'Subject', 'P-*'],
        stripAssertedIdentityFromUntrusted: true,
        internalHosts: ['pbx.internal', '10.1.2.3', '::1'],
      }),
    );
    let messages = 0;
    for (const entry of loadCorpus()) {
      let msg: SipMessage;
      try {
        msg = parseMessage(entry.data);
      } catch {
        continue;
      }
      const w = new MessageWriter(msg);
      const changed = applyHygiene(msg, w, c, { fromTrusted: false });
      const again = parseMessage(w.toBuffer());
      assert.ok(again.headerCount <= msg.headerCount, entry.file);
      assert.equal(changed === 0, w.toBuffer().equals(msg.raw), entry.file);
      assertNoSipwarden(w.toBuffer());
      messages++;
    }
    assert.ok(messages > 10);
  });

  it('writes no header naming sipwarden, with everything on', () => {
    const everything = rules({
      server: { replace: 'PBX' },
      userAgent: { replace: 'PBX' },
      remove: ['X-*', 'Subject'],
      stripAssertedIdentityFromUntrusted: true,
      internalHosts: ['pbx.internal'],
    });
    for (const data of [ASTERISK_200, request({ 'User-Agent': 'FreeSWITCH-mod_sofia/1.10.9' })]) {
      const r = run(data, everything, false);
      assertNoSipwarden(r.out);
      assert.ok(r.msg.headerCount <= parseMessage(data).headerCount, 'a header was added');
    }
  });

  it('refuses bad replacement text at compile time, naming the problem', () => {
    const cases: Array<[string, RegExp]> = [
      ['PBX\r\nX-Injected: 1', /CR or LF/],
      ['PBX\n', /CR or LF/],
      ['PBX\u0000', /control character/],
      ['PBX\u0007bell', /control character/],
      ['x'.repeat(MAX_REPLACEMENT_LENGTH + 1), /longer than 128/],
      ['sipwarden 0.1', /names sipwarden/],
      ['Edge (SIPWarden)', /names sipwarden/],
      ['', /empty/],
      ['  PBX', /spaces/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => compileHygiene(rules({ server: { replace: text } })), { name: 'RangeError', message });
      assert.throws(() => compileHygiene(rules({ userAgent: { replace: text } })), { name: 'RangeError', message });
    }
    assert.doesNotThrow(() => compileHygiene(rules({ server: { replace: 'x'.repeat(MAX_REPLACEMENT_LENGTH) } })));
  });

  it('compiles plain rules once and reuses them', () => {
    const r = rules({ server: 'remove' });
    assert.equal(run(ASTERISK_200, r).changed, 1);
    assert.equal(run(ASTERISK_200, r).changed, 1);
    assert.ok(compileHygiene(r) instanceof CompiledHygiene);
  });
});
