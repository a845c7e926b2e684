import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MessageWriter, parseMessage, type SipMessage } from '../../src/sip/index.js';
import type { SipUri } from '../../src/sip/uri.js';
import {
  escapeHvalue,
  hideDialogRefs,
  restoreDialogRefs,
  sipfragStatusLine,
  unescapeHvalue,
} from '../../src/topology/dialog-refs.js';
import { TopologyHider } from '../../src/topology/hider.js';
import { compileHygiene } from '../../src/topology/hygiene.js';
import { TopologyTokens } from '../../src/topology/token.js';
import { raw } from '../helpers/messages.js';

const NONE = compileHygiene({
  server: 'keep',
  userAgent: 'keep',
  remove: [],
  stripAssertedIdentityFromUntrusted: false,
  internalHosts: [],
});

function hider(callId = true): TopologyHider {
  return new TopologyHider(new TopologyTokens({ current: randomBytes(32) }), {
    callId,
    out: NONE,
    in: NONE,
    internalHosts: ['pbx.corp.example', '10.0.0.5'],
  });
}

const OWN = { hostPort: 'sw.example.com:5060', transportParam: '' };
const isOwn = (uri: SipUri) => uri.host === 'sw.example.com';
const isInternal = (host: string) => host === '10.0.0.5' || host === 'pbx.corp.example';

function request(method: string, extra: string[], body = ''): SipMessage {
  return parseMessage(
    raw([
      `${method} sip:bob@198.51.100.7:5062 SIP/2.0`,
      'Via: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-1',
      'Max-Forwards: 70',
      'From: <sip:alice@example.com>;tag=from1',
      'To: <sip:bob@example.com>;tag=to1',
      'Call-ID: dialog-1@198.51.100.9',
      `CSeq: 2 ${method}`,
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ]).subarray(0, -2),
  );
}

function goingIn(topo: TopologyHider, msg: SipMessage): SipMessage {
  const w = new MessageWriter(msg);
  restoreDialogRefs(msg, w, topo, isOwn);
  return parseMessage(w.toBuffer());
}

function goingOut(topo: TopologyHider, msg: SipMessage): SipMessage {
  const w = new MessageWriter(msg);
  assert.equal(hideDialogRefs(msg, w, topo, OWN, isInternal), true);
  return parseMessage(w.toBuffer());
}

/** The Call-ID the outside sees for a dialog the inside made (as the Call-ID header goes out). */
function sealedCallId(topo: TopologyHider, inside: string): string {
  const id = topo.callIdForOutside(inside);
  assert.ok(id !== undefined && id !== inside);
  return id;
}

describe('dialog references through topology hiding', () => {
  it('Replaces naming a dialog the PBX made: the sealed Call-ID is opened going in, tags kept', () => {
    const topo = hider();
    const token = sealedCallId(topo, 'a84b@10.0.0.5');
    const msg = goingIn(topo, request('INVITE', [`Replaces: ${token};to-tag=t-pbx;from-tag=f-phone;early-only`]));
    assert.equal(msg.header('Replaces'), 'a84b@10.0.0.5;to-tag=t-pbx;from-tag=f-phone;early-only');
  });

  it("Replaces naming a phone's own dialog: marked going in, the mark taken off going out", () => {
    const topo = hider();
    const inside = goingIn(topo, request('INVITE', ['Replaces: xyz@198.51.100.9;to-tag=a;from-tag=b']));
    const marked = inside.header('Replaces')!;
    // The inside knows the phone's dialog by its marked Call-ID, as in the Call-ID header.
    assert.equal(marked, `${topo.insideCallId('xyz@198.51.100.9')};to-tag=a;from-tag=b`);
    assert.notEqual(marked, 'xyz@198.51.100.9;to-tag=a;from-tag=b');
    const back = goingOut(topo, inside);
    assert.equal(back.header('Replaces'), 'xyz@198.51.100.9;to-tag=a;from-tag=b');
  });

  it('Replaces from the PBX naming its own dialog goes out sealed, the same token as that Call-ID', () => {
    const topo = hider();
    const msg = goingOut(topo, request('INVITE', ['Replaces: 3c26@10.0.0.5;to-tag=x;from-tag=y']));
    assert.equal(msg.header('Replaces'), `${sealedCallId(topo, '3c26@10.0.0.5')};to-tag=x;from-tag=y`);
    assert.ok(!msg.raw.toString().includes('10.0.0.5'));
    // And back in, the PBX gets its own Call-ID.
    assert.equal(goingIn(topo, msg).header('Replaces'), '3c26@10.0.0.5;to-tag=x;from-tag=y');
  });

  it('Join and Target-Dialog are translated the same way', () => {
    const topo = hider();
    const out = goingOut(
      topo,
      request('REFER', [
        'Join: j1@10.0.0.5;to-tag=a;from-tag=b',
        'Target-Dialog: t1@10.0.0.5;local-tag=l;remote-tag=r',
      ]),
    );
    assert.equal(out.header('Join'), `${sealedCallId(topo, 'j1@10.0.0.5')};to-tag=a;from-tag=b`);
    assert.equal(out.header('Target-Dialog'), `${sealedCallId(topo, 't1@10.0.0.5')};local-tag=l;remote-tag=r`);
    const back = goingIn(topo, out);
    assert.equal(back.header('Join'), 'j1@10.0.0.5;to-tag=a;from-tag=b');
    assert.equal(back.header('Target-Dialog'), 't1@10.0.0.5;local-tag=l;remote-tag=r');
  });

  it('the Replaces embedded in a Refer-To: unescaped, translated, escaped again, the rest kept', () => {
    const topo = hider();
    const token = sealedCallId(topo, '3c26@10.0.0.5');
    // A phone transfers its call with the PBX to the PBX's other call (attended transfer).
    const refer = request('REFER', [
      `Refer-To: "Carol" <sip:carol@example.com?Replaces=${token}%3Bto-tag%3Dt2%3Bfrom-tag%3Df2&X-Note=1>`,
    ]);
    const inside = goingIn(topo, refer);
    assert.equal(
      inside.header('Refer-To'),
      '"Carol" <sip:carol@example.com?Replaces=3c26%4010.0.0.5%3Bto-tag%3Dt2%3Bfrom-tag%3Df2&X-Note=1>',
    );
    // And the other way: the PBX's REFER names its own dialog; the phone gets the token.
    const out = goingOut(topo, inside);
    assert.equal(out.header('Refer-To'), refer.header('Refer-To'));
  });

  it('an escaped Replaces written with a literal ";" and lower-case escapes is understood', () => {
    const topo = hider();
    const token = sealedCallId(topo, 'q1@10.0.0.5');
    const msg = goingIn(topo, request('REFER', [`Refer-To: <sip:c@example.com?replaces=${token}%3bto-tag%3da>`]));
    assert.equal(msg.header('Refer-To'), '<sip:c@example.com?replaces=q1%4010.0.0.5%3bto-tag%3da>');
  });

  it('a Refer-To on an inside host leaves sealed and comes back exactly, its Replaces in clear for the phone', () => {
    const topo = hider();
    const out = goingOut(
      topo,
      request('REFER', [
        'Refer-To: <sip:300@10.0.0.5:5060;user=phone?Replaces=r9%4010.0.0.5%3Bto-tag%3Da%3Bfrom-tag%3Db>',
      ]),
    );
    const referTo = out.header('Refer-To')!;
    assert.ok(!out.raw.toString().includes('10.0.0.5'), out.raw.toString());
    const m = /^<sip:([a-z2-7]+)@sw\.example\.com:5060\?Replaces=([a-z2-7]+)%3Bto-tag%3Da%3Bfrom-tag%3Db>$/.exec(
      referTo,
    );
    assert.ok(m, referTo);
    assert.equal(topo.openContact(m[1]), 'sip:300@10.0.0.5:5060;user=phone');
    assert.equal(m[2], sealedCallId(topo, 'r9@10.0.0.5'));
    // The phone hands the same Refer-To back (it transfers the PBX): the PBX gets its own URI.
    assert.equal(
      goingIn(topo, out).header('Refer-To'),
      '<sip:300@10.0.0.5:5060;user=phone?Replaces=r9%4010.0.0.5%3Bto-tag%3Da%3Bfrom-tag%3Db>',
    );
  });

  it('an addr-spec Refer-To on an inside host becomes a name-addr', () => {
    const topo = hider();
    const out = goingOut(topo, request('REFER', ['r: sip:300@pbx.corp.example']));
    assert.match(out.header('Refer-To')!, /^<sip:[a-z2-7]+@sw\.example\.com:5060>$/);
  });

  it('outside targets, other URI headers and unparsable values are left as they are', () => {
    const topo = hider();
    const values = [
      '<sip:carol@example.com>',
      '<sip:carol@198.51.100.20:5062;transport=tcp?Subject=hello>',
      '<tel:+4930123456>',
      'not a uri at all',
    ];
    for (const v of values) {
      const msg = request('REFER', [`Refer-To: ${v}`]);
      assert.equal(goingOut(topo, msg).raw.toString(), msg.raw.toString());
      assert.equal(goingIn(topo, msg).header('Refer-To'), v);
    }
  });

  it('a sealed URI that does not open is left alone going in (the PBX finds no such target)', () => {
    const topo = hider();
    const other = hider();
    const foreign = other.sealContactUri('sip:300@10.0.0.5', OWN)!;
    const msg = goingIn(topo, request('REFER', [`Refer-To: <${foreign}>`]));
    assert.equal(msg.header('Refer-To'), `<${foreign}>`);
  });

  it('a sipfrag from the inside goes out as its status line only', () => {
    const topo = hider();
    const frag = 'SIP/2.0 200 OK\r\nContact: <sip:300@10.0.0.5>\r\nServer: Asterisk PBX 20.5.0\r\n\r\n';
    const out = goingOut(
      topo,
      request(
        'NOTIFY',
        ['Event: refer', 'Subscription-State: terminated', 'Content-Type: message/sipfrag;version=2.0'],
        frag,
      ),
    );
    assert.equal(out.body.toString(), 'SIP/2.0 200 OK\r\n');
    assert.equal(out.contentLength, 16);
    // Nothing to change: the message is written as it came.
    const plain = request('NOTIFY', ['Content-Type: message/sipfrag'], 'SIP/2.0 180 Ringing\r\n');
    const w = new MessageWriter(plain);
    hideDialogRefs(plain, w, topo, OWN, isInternal);
    assert.equal(w.toBuffer().toString(), plain.raw.toString());
  });

  it('sipfrag status lines', () => {
    assert.equal(sipfragStatusLine('SIP/2.0 100 Trying'), 'SIP/2.0 100 Trying\r\n');
    assert.equal(sipfragStatusLine('SIP/2.0 503 Service Unavailable\nVia: x\n'), 'SIP/2.0 503 Service Unavailable\r\n');
    assert.equal(sipfragStatusLine('INVITE sip:300@10.0.0.5 SIP/2.0\r\n'), '');
    assert.equal(sipfragStatusLine(''), '');
  });

  it('with call_id: false only the hosts are hidden, Call-IDs cross as they are', () => {
    const topo = hider(false);
    const msg = request('INVITE', ['Replaces: 3c26@10.0.0.5;to-tag=x;from-tag=y']);
    assert.equal(goingOut(topo, msg).header('Replaces'), '3c26@10.0.0.5;to-tag=x;from-tag=y');
    assert.equal(goingIn(topo, msg).header('Replaces'), '3c26@10.0.0.5;to-tag=x;from-tag=y');
  });

  it('a Call-ID too long to seal: the message is refused rather than sent out unhidden', () => {
    const topo = hider();
    const msg = request('INVITE', [`Replaces: ${'x'.repeat(2100)}@10.0.0.5;to-tag=x;from-tag=y`]);
    assert.equal(hideDialogRefs(msg, new MessageWriter(msg), topo, OWN, isInternal), false);
  });

  it('escaping of hvalues', () => {
    assert.equal(escapeHvalue('a84b@10.0.0.5~k3q7rw2a'), 'a84b%4010.0.0.5~k3q7rw2a');
    assert.equal(escapeHvalue('a;b=c d&e'), 'a%3Bb%3Dc%20d%26e');
    assert.equal(unescapeHvalue('a84b%4010.0.0.5'), 'a84b@10.0.0.5');
    assert.equal(unescapeHvalue('100%'), '100%');
  });
});
