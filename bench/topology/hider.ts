/**
 * Micro benchmark of topology hiding per message: what the proxy's hiding steps cost on the
 * messages that cross, next to parsing the same message, in the same run.
 *
 *   npx tsc -p . && node dist/bench/topology/hider.js [--batch N] [--rounds N]
 *
 * Cases (the steps SipProxy runs for each, on a parsed message and its MessageWriter, with
 * the writer's serialisation included since hiding adds to what it writes):
 * - `PBX INVITE out`: an INVITE from Asterisk to a phone: two Vias folded into one token,
 *   an internal Record-Route entry sealed, Contact sealed, the PBX's Call-ID sealed, From host
 *   replaced, hygiene (User-Agent removed).
 * - `200 OK out`: the PBX's answer to a phone's INVITE: Record-Route folded, Contact sealed,
 *   the marked Call-ID unmarked, Server removed.
 * - `BYE in`: the phone's BYE: Request-URI (Contact token) and Route (`tr` token) opened, the
 *   Call-ID marked.
 * - `200 OK in`: the phone's answer to the PBX's INVITE: the `tv` Via token opened, the
 *   Record-Route `tr` opened, the Call-ID token opened.
 * Tokens repeat within a dialog, so by default the memo of recent tokens answers most of them
 * (`memo` rows); the `cold` rows use a token layer without memo: every message pays the
 * AES-GCM and HMAC work, as the first message of each dialog does.
 * The baseline is the parse of the same message plus forwarding it with the writer alone.
 */
import { randomBytes } from 'node:crypto';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import type { SipUri } from '../../src/sip/uri.js';
import { MessageWriter } from '../../src/sip/writer.js';
import { ROUTE_PARAM, TopologyHider, VIA_PARAM } from '../../src/topology/hider.js';
import { applyHygiene, compileHygiene } from '../../src/topology/hygiene.js';
import { TopologyTokens } from '../../src/topology/token.js';
import { batchAndRounds } from '../common/args.js';
import { table } from '../common/table.js';

const USAGE = `usage: node dist/bench/topology/hider.js [options]
  --batch N    messages per round (default 500)
  --rounds N   timed rounds per case; the median is reported (default 100)
  --help`;

const { batch: BATCH, rounds: ROUNDS } = batchAndRounds(USAGE, { batch: 500, rounds: 100 });

const KEY = randomBytes(32);
const SW = '203.0.113.10:5060';
const isOwn = (uri: SipUri) => uri.host === '203.0.113.10';
const isInternal = (host: string) => host === '10.1.2.3' || host === '10.1.2.9';

function hider(memo: number): TopologyHider {
  return new TopologyHider(new TopologyTokens({ current: KEY }, { memo }), {
    callId: true,
    out: compileHygiene({
      server: 'remove',
      userAgent: 'remove',
      remove: [],
      stripAssertedIdentityFromUntrusted: false,
      internalHosts: ['10.1.2.3'],
    }),
    in: compileHygiene({
      server: 'keep',
      userAgent: 'keep',
      remove: [],
      stripAssertedIdentityFromUntrusted: true,
      internalHosts: [],
    }),
    internalHosts: ['10.1.2.3'],
  });
}

const SDP =
  'v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 14562 RTP/AVP 0 8\r\n';

function msg(lines: string[], body = ''): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'latin1');
}

const PBX_INVITE = msg(
  [
    'INVITE sip:alice@198.51.100.7:5062;transport=udp SIP/2.0',
    'Via: SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bKPj7e3b2c1a-9f8e-4d6c;received=10.1.2.3',
    'Via: SIP/2.0/UDP 10.1.2.9:5070;branch=z9hG4bK-app-31;rport=5070',
    'Record-Route: <sip:10.1.2.9:5070;lr>',
    'Max-Forwards: 69',
    'From: "Reception" <sip:100@10.1.2.3>;tag=8a1f7c3e-2b4d',
    'To: <sip:alice@198.51.100.7>',
    'Contact: <sip:asterisk@10.1.2.3:5060>',
    'Call-ID: 2c4f6a8e-1b3d-5f7a-9c0e@10.1.2.3',
    'CSeq: 28317 INVITE',
    'Allow: OPTIONS, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, REFER, MESSAGE',
    'Supported: 100rel, timer, replaces, norefersub',
    'User-Agent: Asterisk PBX 20.5.0',
    'Content-Type: application/sdp',
  ],
  SDP,
);

const mark = hider(0).insideCallId('a84b4c76e66710@pc33.example.com');
const OK_OUT = msg(
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 198.51.100.7:5062;rport=5062;received=198.51.100.7;branch=z9hG4bK776asdhds',
    'Record-Route: <sip:10.1.2.9:5070;lr>, <sip:AQAAAAAAAEnXBH8XAAN47ZWducAdrBmp@203.0.113.10:5060;lr>',
    'From: "Alice" <sip:alice@pbx.example.com>;tag=1928301774',
    'To: <sip:100@pbx.example.com>;tag=as5f1e2d3c',
    `Call-ID: ${mark}`,
    'CSeq: 314159 INVITE',
    'Server: Asterisk PBX 20.5.0',
    'Contact: <sip:100@10.1.2.3:5060>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO',
    'Content-Type: application/sdp',
  ],
  SDP,
);

/** Tokens as the outside holds them, made once with the same key. */
const h0 = hider(0);
const contactToken = (() => {
  const m = parseMessage(OK_OUT);
  const w = new MessageWriter(m);
  h0.hideContacts(m, w, { hostPort: SW, transportParam: '' });
  return parseMessage(w.toBuffer()).contact as { star: false; addresses: Array<{ uriText: string }> };
})().addresses[0]!.uriText;
const routeToken = h0.sealRoutes(['<sip:10.1.2.9:5070;lr>'])!;
const callIdToken = (() => {
  const m = parseMessage(PBX_INVITE);
  const w = new MessageWriter(m);
  h0.callIdOut(m, w);
  return parseMessage(w.toBuffer()).callId;
})();
const viaToken = (() => {
  const m = parseMessage(PBX_INVITE);
  return h0.foldVias(m, new MessageWriter(m), m.headerValueAt(m.viaAt))!;
})();

const BYE_IN = msg([
  `BYE ${contactToken} SIP/2.0`,
  'Via: SIP/2.0/UDP 198.51.100.7:5062;rport;branch=z9hG4bKnashds10',
  `Route: <sip:AQAAAAAAAEnXBH8XAAN47ZWducAdrBmp@203.0.113.10:5060;lr;${ROUTE_PARAM}=${routeToken}>`,
  'Max-Forwards: 70',
  'From: "Alice" <sip:alice@pbx.example.com>;tag=1928301774',
  'To: <sip:100@pbx.example.com>;tag=as5f1e2d3c',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314160 BYE',
  'User-Agent: Yealink SIP-T46U 108.86.0.20',
]);

const OK_IN = msg(
  [
    'SIP/2.0 200 OK',
    `Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKsw3f9a;sw=u0-0;${VIA_PARAM}=${viaToken}`,
    `Record-Route: <sip:AQAAAAAAAEnXBH8XAAN47ZWducAdrBmp@203.0.113.10:5060;lr;${ROUTE_PARAM}=${routeToken}>`,
    'From: "Reception" <sip:100@203.0.113.10:5060>;tag=8a1f7c3e-2b4d',
    'To: <sip:alice@198.51.100.7>;tag=9fxced76sl',
    `Call-ID: ${callIdToken}`,
    'CSeq: 28317 INVITE',
    'Contact: <sip:alice@198.51.100.7:5062>',
    'Content-Type: application/sdp',
  ],
  SDP,
);

type Step = (h: TopologyHider, m: SipMessage, w: MessageWriter) => void;

const steps: Record<string, { raw: Buffer; step: Step }> = {
  'PBX INVITE out': {
    raw: PBX_INVITE,
    step: (h, m, w) => {
      const token = h.foldVias(m, w, m.headerValueAt(m.viaAt));
      w.prepend('Via', `SIP/2.0/UDP ${SW};branch=z9hG4bKsw1;sw=u0-0;${VIA_PARAM}=${token}`);
      const rr = [];
      for (let k = m.findHeader('Record-Route'); k !== -1; k = m.findHeader('Record-Route', k + 1)) {
        rr.push(m.headerValueAt(k));
        w.remove(k);
      }
      w.prepend('Record-Route', `<sip:flow@${SW};lr;${ROUTE_PARAM}=${h.sealRoutes(rr)}>`);
      h.hideContacts(m, w, { hostPort: SW, transportParam: '' });
      h.callIdOut(m, w);
      h.hideIdentityHosts(m, w, SW, isInternal);
      applyOut(h, m, w);
    },
  },
  '200 OK out': {
    raw: OK_OUT,
    step: (h, m, w) => {
      h.hideResponseRecordRoute(m, w, isOwn);
      h.hideContacts(m, w, { hostPort: SW, transportParam: '' });
      h.callIdOut(m, w);
      h.hideIdentityHosts(m, w, SW, isInternal);
      applyOut(h, m, w);
    },
  },
  'BYE in': {
    raw: BYE_IN,
    step: (h, m, w) => {
      const uri = h.openContact(m.requestUri.user);
      if (typeof uri === 'string' && uri !== 'forged-contact') w.setRequestUri(uri);
      const r = h.openRoutes(String(m.routes[0]!.uri.params.get(ROUTE_PARAM)));
      if (r !== undefined) w.prepend('Route', r.join(', '));
      h.callIdIn(m, w);
      applyIn(h, m, w);
    },
  },
  '200 OK in': {
    raw: OK_IN,
    step: (h, m, w) => {
      const u = h.unfoldVias(String(m.topVia.params.get(VIA_PARAM)));
      if (typeof u !== 'string') w.replace(m.viaAt, u.value);
      h.restoreResponseRecordRoute(m, w, isOwn);
      h.restoreContacts(m, w, isOwn);
      h.callIdIn(m, w);
      applyIn(h, m, w);
    },
  },
};

function applyOut(h: TopologyHider, m: SipMessage, w: MessageWriter): void {
  applyHygiene(m, w, h.outHygiene, { fromTrusted: true });
}
function applyIn(h: TopologyHider, m: SipMessage, w: MessageWriter): void {
  applyHygiene(m, w, h.inHygiene, { fromTrusted: false });
}

let sink = 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** ns per message: parse + writer alone (baseline), and parse + hiding + writer. */
function measure(raw: Buffer, step: Step, h: TopologyHider): { base: number; hidden: number } {
  const base: number[] = [];
  const hidden: number[] = [];
  for (let round = -5; round < ROUNDS; round++) {
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      const m = parseMessage(raw);
      const w = new MessageWriter(m).removeFirstElement(m.viaAt);
      sink += w.toBuffer().length;
    }
    const b = Number(process.hrtime.bigint() - t0) / BATCH;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      const m = parseMessage(raw);
      const w = new MessageWriter(m).removeFirstElement(m.viaAt);
      step(h, m, w);
      sink += w.toBuffer().length;
    }
    const t = Number(process.hrtime.bigint() - t0) / BATCH;
    if (round < 0) continue;
    base.push(b);
    hidden.push(t);
  }
  return { base: median(base), hidden: median(hidden) };
}

const warm = hider(4096);
const cold = hider(0);
const rows: string[][] = [];
for (const [name, { raw, step }] of Object.entries(steps)) {
  for (const [label, h] of [
    ['memo', warm],
    ['cold', cold],
  ] as const) {
    const r = measure(raw, step, h);
    rows.push([
      `${name} (${label})`,
      r.base.toFixed(0),
      r.hidden.toFixed(0),
      (r.hidden - r.base).toFixed(0),
      `${(r.hidden / r.base).toFixed(2)}x`,
    ]);
  }
}

console.log(`topology hiding: ns per message, median of ${ROUNDS} rounds of ${BATCH} (node ${process.version})\n`);
console.log(table(['message', 'parse+write', 'with hiding', 'hiding ns', 'ratio'], rows, new Set([1, 2, 3, 4])));
if (sink === 42) console.log('');
