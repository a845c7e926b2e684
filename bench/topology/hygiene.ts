/**
 * Micro benchmark of topology header hygiene: what applyHygiene costs per message, next to
 * what parsing the same message costs, in the same run.
 *
 *   npx tsc -p . && node dist/bench/topology/hygiene.js [--batch N] [--rounds N]
 *
 * The message is a typical 200 OK to an INVITE from Asterisk: 12 headers with a Server
 * banner and an SDP body. Each round parses a batch of copies (timed: the parse cost),
 * creates a MessageWriter per message (not timed: the proxy has one per forwarded message
 * anyway), then runs applyHygiene on them (timed). Rule sets: `on` replaces Server,
 * removes User-Agent and X-*, strips asserted identity, checks Warning against internal
 * hosts (the Server replacement is the one change); `miss` is the same rules on the message
 * without its Server line (nothing matches: the pass with no allocation); `keep` is all
 * rules off. The median of the rounds is printed, in ns per message, and hygiene/parse.
 */
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { MessageWriter } from '../../src/sip/writer.js';
import { applyHygiene, type CompiledHygiene, compileHygiene } from '../../src/topology/hygiene.js';
import { batchAndRounds } from '../common/args.js';
import { table } from '../common/table.js';

const USAGE = `usage: node dist/bench/topology/hygiene.js [options]
  --batch N    messages parsed and cleaned per round (default 500)
  --rounds N   timed rounds per rule set; the median is reported (default 200)
  --help`;

const { batch: BATCH, rounds: ROUNDS } = batchAndRounds(USAGE, { batch: 500, rounds: 200 });

const SDP = [
  'v=0',
  'o=- 1856393527 1856393529 IN IP4 10.1.2.3',
  's=Asterisk',
  'c=IN IP4 10.1.2.3',
  't=0 0',
  'm=audio 14562 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

function asterisk200(withServer: boolean): Buffer {
  const lines = [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 198.51.100.7:5060;rport=5060;received=198.51.100.7;branch=z9hG4bK-524287-1---a1b2c3d4e5f6',
    'From: "Alice" <sip:201@pbx.example.com>;tag=as5f1e2d3c',
    'To: <sip:202@pbx.example.com>;tag=b7c8d9e0f1',
    'Call-ID: 4f1b6c2e9d0a4b3c8e7f6a5b4c3d2e1f@198.51.100.7',
    'CSeq: 102 INVITE',
    ...(withServer ? ['Server: Asterisk PBX 20.5.0'] : []),
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE',
    'Supported: replaces, timer',
    'Session-Expires: 1800;refresher=uas',
    'Contact: <sip:202@10.1.2.3:5060>',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${SDP}`, 'latin1');
}

const ON = compileHygiene({
  server: { replace: 'PBX' },
  userAgent: 'remove',
  remove: ['X-*'],
  stripAssertedIdentityFromUntrusted: true,
  internalHosts: ['pbx.internal', '10.1.2.3'],
});
const KEEP = compileHygiene({
  server: 'keep',
  userAgent: 'keep',
  remove: [],
  stripAssertedIdentityFromUntrusted: false,
  internalHosts: [],
});
const CTX = { fromTrusted: false };

let sink = 0;

function parseBatch(raw: Buffer, out: SipMessage[]): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < out.length; i++) out[i] = parseMessage(raw);
  return Number(process.hrtime.bigint() - t0);
}

function hygieneBatch(rules: CompiledHygiene, messages: readonly SipMessage[], writers: MessageWriter[]): number {
  for (let i = 0; i < messages.length; i++) writers[i] = new MessageWriter(messages[i]!);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages.length; i++) sink += applyHygiene(messages[i]!, writers[i]!, rules, CTX);
  return Number(process.hrtime.bigint() - t0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

interface Row {
  name: string;
  headers: number;
  changed: number;
  parse: number;
  hygiene: number;
}

function measure(name: string, raw: Buffer, rules: CompiledHygiene): Row {
  const messages: SipMessage[] = new Array(BATCH);
  const writers: MessageWriter[] = new Array(BATCH);
  const parse: number[] = [];
  const hygiene: number[] = [];
  for (let round = -10; round < ROUNDS; round++) {
    const p = parseBatch(raw, messages);
    const h = hygieneBatch(rules, messages, writers);
    if (round < 0) continue;
    parse.push(p / BATCH);
    hygiene.push(h / BATCH);
  }
  const msg = parseMessage(raw);
  const changed = applyHygiene(msg, new MessageWriter(msg), rules, CTX);
  return { name, headers: msg.headerCount, changed, parse: median(parse), hygiene: median(hygiene) };
}

const rows = [
  measure('on (Server replaced)', asterisk200(true), ON),
  measure('on, nothing matches', asterisk200(false), ON),
  measure('keep (all off)', asterisk200(true), KEEP),
];

const ns = (x: number) => x.toFixed(0);
console.log(
  `topology hygiene: ns per message, Asterisk 200 OK, median of ${ROUNDS} rounds of ${BATCH} (node ${process.version})\n`,
);
console.log(
  table(
    ['rules', 'headers', 'changed', 'parse', 'hygiene', 'hygiene/parse'],
    rows.map((r) => [
      r.name,
      String(r.headers),
      String(r.changed),
      ns(r.parse),
      ns(r.hygiene),
      `${(r.hygiene / r.parse).toFixed(3)}x`,
    ]),
    new Set([1, 2, 3, 4, 5]),
  ),
);
if (sink < 0) console.log('');
