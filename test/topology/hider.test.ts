import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MessageWriter, parseMessage, type SipMessage } from '../../src/sip/index.js';
import type { SipUri } from '../../src/sip/uri.js';
import { TopologyHider } from '../../src/topology/hider.js';
import { compileHygiene } from '../../src/topology/hygiene.js';
import { TopologyTokens } from '../../src/topology/token.js';
import { raw } from '../helpers/messages.js';

const KEY = randomBytes(32);
const NONE = compileHygiene({
  server: 'keep',
  userAgent: 'keep',
  remove: [],
  stripAssertedIdentityFromUntrusted: false,
  internalHosts: [],
});

function hider(key = KEY, callId = true): TopologyHider {
  return new TopologyHider(new TopologyTokens({ current: key }), {
    callId,
    out: NONE,
    in: NONE,
    internalHosts: ['pbx.corp.example', '10.0.0.5'],
  });
}

const SW = 'sw.example.com:5060';
const isOwn = (uri: SipUri) => uri.host === 'sw.example.com';

/** Applies `edit` to `msg` through a writer and parses the result. */
function rewrite(msg: SipMessage, edit: (m: SipMessage, w: MessageWriter) => void): SipMessage {
  const w = new MessageWriter(msg);
  edit(msg, w);
  return parseMessage(w.toBuffer());
}

const invite = (extra: string[]) =>
  parseMessage(
    raw([
      'INVITE sip:alice@198.51.100.9:5062 SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-pbx-1;rport=5060;received=10.0.0.5',
      'Via: SIP/2.0/TCP 10.0.0.9:5070;branch=z9hG4bK-app-1',
      'Max-Forwards: 69',
      'From: "Reception" <sip:100@10.0.0.5:5060>;tag=as1',
      'To: <sip:alice@198.51.100.9>',
      'Call-ID: 3c26@10.0.0.5',
      'CSeq: 1 INVITE',
      'Contact: "PBX" <sip:100@10.0.0.5:5060;transport=udp>;expires=60;+sip.instance="<urn:uuid:1>"',
      ...extra,
      'Content-Length: 0',
    ]),
  );

describe('topology hider', () => {
  const h = hider();

  it('folds every Via into one token and unfolds exactly the stamped values', () => {
    const msg = invite([]);
    const first = msg.headerValueAt(msg.viaAt);
    let token = '';
    const out = rewrite(msg, (m, w) => {
      token = h.foldVias(m, w, first)!;
      w.prepend('Via', `SIP/2.0/UDP ${SW};branch=z9hG4bKsw1;tv=${token}`);
    });
    assert.equal(out.vias.length, 1);
    assert.match(token, /^[a-z][a-z2-7]+$/);
    const back = h.unfoldVias(token);
    assert.ok(typeof back !== 'string');
    assert.equal(back.value, `${first}, SIP/2.0/TCP 10.0.0.9:5070;branch=z9hG4bK-app-1`);
    assert.equal(back.next.host, '10.0.0.5');
    assert.equal(back.next.received, '10.0.0.5');
  });

  it('hides Contacts keeping display names and header parameters, and opens them again', () => {
    const out = rewrite(invite([]), (m, w) => {
      assert.ok(h.hideContacts(m, w, { hostPort: SW, transportParam: '' }));
    });
    const value = out.header('Contact')!;
    assert.doesNotMatch(value, /10\.0\.0\.5|PBX/);
    assert.match(value, /^<sip:[a-z2-7]+@sw\.example\.com:5060>;expires=60;\+sip\.instance="<urn:uuid:1>"$/);
    const c = out.contact;
    assert.ok(c && !c.star);
    assert.equal(h.openContact(c.addresses[0]!.uri.user), 'sip:100@10.0.0.5:5060;transport=udp');
  });

  it('replaces inside hosts in From and identity headers only', () => {
    const out = rewrite(invite(['P-Asserted-Identity: <sip:100@pbx.corp.example>, <tel:+4930100>']), (m, w) =>
      h.hideIdentityHosts(m, w, SW, (host) => h.isInternalHost(host)),
    );
    assert.equal(out.header('From'), '"Reception" <sip:100@sw.example.com:5060>;tag=as1');
    assert.equal(out.header('To'), '<sip:alice@198.51.100.9>');
    assert.equal(out.header('P-Asserted-Identity'), '<sip:100@sw.example.com:5060>, <tel:+4930100>');
  });

  it('folds the Record-Route entries above its own into the own entry, in route order', () => {
    const resp = parseMessage(
      raw([
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/UDP 198.51.100.9:5062;branch=z9hG4bK-ph',
        'Record-Route: <sip:10.0.0.9:5070;lr>, <sip:10.0.0.8;lr>',
        'Record-Route: <sip:sw-inside@sw.example.com;transport=tcp;lr>',
        'Record-Route: <sip:flow@sw.example.com;lr>, <sip:proxy.carrier.example;lr>',
        'From: <sip:alice@198.51.100.9>;tag=1',
        'To: <sip:100@sw.example.com>;tag=2',
        'Call-ID: c1',
        'CSeq: 1 INVITE',
        'Content-Length: 0',
      ]),
    );
    const out = rewrite(resp, (m, w) => assert.ok(h.hideResponseRecordRoute(m, w, isOwn)));
    const rr = out.recordRoutes;
    assert.equal(rr.length, 2);
    assert.equal(rr[1]!.uriText, 'sip:proxy.carrier.example;lr');
    const token = rr[0]!.uri.params.get('tr')!;
    // The caller will use them after sipwarden's entry, reversed (RFC 3261 12.1.2).
    assert.deepEqual(h.openRoutes(token), [
      '<sip:sw-inside@sw.example.com;transport=tcp;lr>',
      '<sip:10.0.0.8;lr>',
      '<sip:10.0.0.9:5070;lr>',
    ]);
  });

  it('refuses every single-character change of a token, and tokens of another kind or key', () => {
    const msg = invite([]);
    const via = h.foldVias(msg, new MessageWriter(msg), msg.headerValueAt(msg.viaAt))!;
    const routes = h.sealRoutes(['<sip:10.0.0.8;lr>'])!;
    for (let i = 0; i < via.length; i += 7) {
      const c = via[i] === 'a' ? 'b' : 'a';
      assert.equal(h.unfoldVias(via.slice(0, i) + c + via.slice(i + 1)), 'forged-via', `change at ${i}`);
    }
    // A route token where a Via or Contact token belongs, and the reverse.
    assert.equal(h.unfoldVias(routes), 'forged-via');
    assert.equal(h.openContact(routes), 'forged-contact');
    assert.equal(h.openRoutes(via), undefined);
    // Another installation's key.
    assert.equal(hider(randomBytes(32)).unfoldVias(via), 'forged-via');
    // Not a token at all: a normal user part.
    assert.equal(h.openContact('alice'), undefined);
  });

  it('seals inside Call-IDs, marks outside ones and takes the mark off on the way out', () => {
    const pbx = invite([]);
    const out = rewrite(pbx, (m, w) => assert.ok(h.callIdOut(m, w)));
    assert.match(out.callId, /^[a-z][a-z2-7]+$/);
    // The phone's answer comes back with the token: the PBX gets its own Call-ID.
    const back = rewrite(out, (m, w) => h.callIdIn(m, w));
    assert.equal(back.callId, '3c26@10.0.0.5');

    const phone = parseMessage(
      raw([
        'BYE sip:100@sw.example.com SIP/2.0',
        'Via: SIP/2.0/UDP 198.51.100.9:5062;branch=z9hG4bK-b',
        'Max-Forwards: 70',
        'From: <sip:alice@198.51.100.9>;tag=1',
        'To: <sip:100@sw.example.com>;tag=2',
        'Call-ID: a84b4c76e66710@pc33.example',
        'CSeq: 2 BYE',
        'Content-Length: 0',
      ]),
    );
    const inside = rewrite(phone, (m, w) => h.callIdIn(m, w));
    assert.match(inside.callId, /^a84b4c76e66710@pc33\.example~[a-z2-7]{8}$/);
    assert.equal(h.insideCallId('a84b4c76e66710@pc33.example'), inside.callId);
    const outside = rewrite(inside, (m, w) => assert.ok(h.callIdOut(m, w)));
    assert.equal(outside.callId, 'a84b4c76e66710@pc33.example');
    // A forged mark is not taken off: the value is sealed instead.
    const forged = rewrite(phone, (m, w) => w.replace(m.callIdAt, 'a84b4c76e66710@pc33.example~aaaaaaaa'));
    assert.match(rewrite(forged, (m, w) => h.callIdOut(m, w)).callId, /^[a-z][a-z2-7]{46,}$/);
  });

  it('leaves Call-IDs alone when call_id is off', () => {
    const off = hider(KEY, false);
    const out = rewrite(invite([]), (m, w) => assert.ok(off.callIdOut(m, w)));
    assert.equal(out.callId, '3c26@10.0.0.5');
  });
});
