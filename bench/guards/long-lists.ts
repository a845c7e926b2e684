/**
 * Worst case per message of long header lists: what one request from the outside costs
 * sipwarden's whole message path (`SipProxy.onMessage`: parse, the default guard chain, the
 * routing reads, then the forward or the 400 and their send), against a normal INVITE
 * measured in the same run.
 *
 *   npx tsc -p . && node dist/bench/guards/long-lists.js [--batch N] [--rounds N]
 *
 * sipwarden runs in this process from a configuration file with the default guard chain
 * and limits, topology hiding on, the flood density and the 400 rate raised so that every
 * message is handled in full; the upstream is a UDP socket of this process. Each request
 * comes from the address its top Via and (when it has one) its top Record-Route name, as a
 * trunk's would. Cases:
 * - `INVITE` (baseline): a phone's INVITE with SDP, one Via, no Record-Route;
 * - `<list> x N`: the same INVITE with N entries in Record-Route, Via, Route or Contact, N the
 *   default `limits.max_list_entries` (read in full, forwarded or refused by a guard) and
 *   2,000 (about 50 KB: refused by the parser, answered 400 Too Many <list> Entries, the 400
 *   copying the Vias when the list is Via);
 * - `all four x N`: every list at the limit in one message.
 * The median of the rounds is printed in µs per message, with the ratio to the baseline and
 * what sipwarden did with the message.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFromString } from '../../src/config/index.js';
import type { Peer } from '../../src/net/peer.js';
import { Server } from '../../src/server.js';
import { DEFAULT_LIMITS } from '../../src/sip/limits.js';
import { batchAndRounds } from '../common/args.js';
import { table } from '../common/table.js';

const USAGE = `usage: node dist/bench/guards/long-lists.js [options]
  --batch N    messages handled per round (default 200)
  --rounds N   timed rounds per case; the median is reported (default 40)
  --help`;

const { batch: BATCH, rounds: ROUNDS } = batchAndRounds(USAGE, { batch: 200, rounds: 40 });

const SW = '127.105.9.1';
const SW_PORT = 34900;
const PBX = '127.105.9.2';
const PBX_PORT = 34901;
/** The sender: every case's top Via and top Record-Route name it. */
const FROM = '127.105.9.3';
const FROM_PORT = 34902;
const LIMIT = DEFAULT_LIMITS.maxListEntries;

const SDP =
  'v=0\r\no=- 1 1 IN IP4 127.105.9.3\r\ns=-\r\nc=IN IP4 127.105.9.3\r\nt=0 0\r\nm=audio 14562 RTP/AVP 0 8\r\n';

type List = 'Record-Route' | 'Via' | 'Route' | 'Contact';

/** Entry number `i` of a list (`i` = 0 is the one a trunk puts itself). */
function entry(list: List, i: number): string {
  const host = `10.${(i >> 8) & 255}.${i & 255}.1`;
  switch (list) {
    case 'Record-Route':
      return i === 0 ? `<sip:${FROM}:${FROM_PORT};lr>` : `<sip:${host}:5060;lr>`;
    case 'Via':
      return i === 0 ? `SIP/2.0/UDP ${FROM}:${FROM_PORT};branch=z9hG4bKlong;rport` : `SIP/2.0/UDP ${host}:5060`;
    case 'Route':
      return `<sip:${host}:5060;lr>`;
    case 'Contact':
      return i === 0 ? `<sip:alice@${FROM}:${FROM_PORT}>` : `<sip:u${i}@${host}:5060>`;
  }
}

/** `count` entries of a list as header lines of 250 entries (within max_header_bytes). */
function lines(list: List, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i += 250) {
    const n = Math.min(250, count - i);
    out.push(`${list}: ${Array.from({ length: n }, (_, k) => entry(list, i + k)).join(', ')}`);
  }
  return out;
}

/** A phone's INVITE with `count` entries in each of `lists`. */
function invite(lists: readonly List[], count: number): Buffer {
  const has = (l: List) => lists.includes(l);
  const headers = [
    'INVITE sip:+4930123456789@pbx.example.com SIP/2.0',
    ...(has('Via') ? lines('Via', count) : [`Via: ${entry('Via', 0)}`]),
    ...(has('Record-Route') ? lines('Record-Route', count) : []),
    ...(has('Route') ? lines('Route', count) : []),
    'Max-Forwards: 70',
    'From: "Alice" <sip:alice@pbx.example.com>;tag=1537216914',
    'To: <sip:+4930123456789@pbx.example.com>',
    'Call-ID: 0_2736412201@127.105.9.3',
    'CSeq: 2 INVITE',
    ...(has('Contact') ? lines('Contact', count) : [`Contact: ${entry('Contact', 0)}`]),
    'User-Agent: Yealink SIP-T46S 66.86.0.15',
    'Content-Type: application/sdp',
    `Content-Length: ${SDP.length}`,
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${SDP}`, 'latin1');
}

const NO_LOG = { debug() {}, info() {}, warn() {} };

const dir = mkdtempSync(join(tmpdir(), 'sipwarden-bench-'));
const config = loadConfigFromString(
  [
    `data_dir: ${join(dir, 'data')}`,
    `listen: [udp://${SW}:${SW_PORT}]`,
    `upstreams: [{ name: pbx, targets: ["udp://${PBX}:${PBX_PORT}"], ping: false }]`,
    'replies: { bad_request_per_second: 1000000 }',
    'store: { type: memory }',
    'guards: { flood: { max_messages: 10000000 } }',
  ].join('\n'),
  join(dir, 'sipwarden.yaml'),
  {},
  { cwd: dir, env: {} },
);

/** The PBX and the sender: sockets that take what sipwarden sends and count it. */
async function sink(address: string, port: number): Promise<{ received: () => number; close: () => void }> {
  const s = createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  let n = 0;
  s.on('message', () => n++);
  await new Promise<void>((resolve) => s.bind(port, address, () => resolve()));
  return { received: () => n, close: () => s.close() };
}

const pbx = await sink(PBX, PBX_PORT);
const phone = await sink(FROM, FROM_PORT);
const server = await Server.start(config, NO_LOG);
const peer: Peer = { transport: 'udp', address: FROM, port: FROM_PORT, family: 4, listener: 0, connId: 0 };

function round(data: Buffer): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) server.proxy.onMessage(data, peer);
  return Number(process.hrtime.bigint() - t0) / BATCH;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const settle = () => new Promise((r) => setTimeout(r, 20));

/** What sipwarden did with one copy of the message: forwarded, answered (how), blocked. */
async function outcome(data: Buffer): Promise<string> {
  const before = { pbx: pbx.received(), phone: phone.received(), stats: JSON.stringify(server.proxy.stats.toJSON()) };
  server.proxy.onMessage(data, peer);
  await new Promise((r) => setTimeout(r, 100));
  if (pbx.received() > before.pbx) return 'forwarded';
  const stats = server.proxy.stats.toJSON() as { malformed: Record<string, number>; blocked: Record<string, number> };
  const prev = JSON.parse(before.stats) as typeof stats;
  for (const [code, n] of Object.entries(stats.malformed)) if (n > (prev.malformed[code] ?? 0)) return `400 (${code})`;
  for (const [guard, n] of Object.entries(stats.blocked))
    if (n > (prev.blocked[guard] ?? 0)) return `blocked (${guard})`;
  return phone.received() > before.phone ? 'answered' : 'dropped';
}

interface Row {
  name: string;
  bytes: number;
  us: number;
  outcome: string;
}

async function measure(name: string, data: Buffer): Promise<Row> {
  const what = await outcome(data);
  const times: number[] = [];
  for (let r = -3; r < ROUNDS; r++) {
    const t = round(data);
    // Let the sockets drain between rounds (the sends are part of the cost, the backlog is not).
    await settle();
    if (r >= 0) times.push(t);
  }
  return { name, bytes: data.length, us: median(times) / 1000, outcome: what };
}

const cases: Array<[string, Buffer]> = [['INVITE (baseline)', invite([], 0)]];
for (const list of ['Record-Route', 'Via', 'Route', 'Contact'] as const) {
  cases.push([`${list} x ${LIMIT}`, invite([list], LIMIT)]);
  cases.push([`${list} x 2000`, invite([list], 2000)]);
}
cases.push([`all four x ${LIMIT}`, invite(['Record-Route', 'Via', 'Route', 'Contact'], LIMIT)]);

const rows: Row[] = [];
for (const [name, data] of cases) rows.push(await measure(name, data));
await server.stop();
pbx.close();
phone.close();

const base = rows[0]!.us;
console.log(
  `long lists: µs per request through SipProxy.onMessage, median of ${ROUNDS} rounds of ${BATCH} (node ${process.version}, default configuration, max_list_entries ${LIMIT})\n`,
);
console.log(
  table(
    ['message', 'bytes', 'µs/msg', 'x baseline', 'sipwarden'],
    rows.map((r) => [r.name, String(r.bytes), r.us.toFixed(1), `${(r.us / base).toFixed(1)}x`, r.outcome]),
    new Set([1, 2, 3]),
  ),
);
const worst = rows.slice(1).reduce((a, b) => (b.us > a.us ? b : a));
console.log(
  `\nworst case: ${worst.name}, ${worst.us.toFixed(1)} µs, ${(worst.us / base).toFixed(1)}x the baseline INVITE`,
);
