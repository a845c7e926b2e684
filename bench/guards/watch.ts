/**
 * Transaction watch micro benchmark: nanoseconds per watched request/answer pair (the
 * `request` hook when a REGISTER from the outside is forwarded, the `response` hook when its
 * answer goes back out), with brute_force, dial_scan and fraud as configured by default,
 * against the cost of parsing the same two messages (what every message pays anyway).
 *
 *   npx tsc -p . && node dist/bench/guards/watch.js [--batch N] [--rounds N]
 *
 * Cases:
 *   REGISTER 200     credentialed REGISTER answered 200 (a success: known-good table write)
 *   REGISTER 401     credentialed REGISTER answered 401 by 100,000 rotating sources (a
 *                    failure each, every third of a source a ban event and a 403 rewrite)
 *   INVITE 404       INVITE answered 404 from 100,000 rotating sources (dial_scan sets)
 *
 * Messages are parsed once outside the timed loop (the proxy has them parsed already); each
 * iteration uses a fresh branch so every pair makes and removes a table entry. The median
 * round is reported.
 */
import { performance } from 'node:perf_hooks';
import { loadConfigFromString } from '../../src/config/index.js';
import { EventBus } from '../../src/core/events.js';
import type { Source } from '../../src/core/verdict.js';
import { BanPolicy } from '../../src/guards/ban-policy.js';
import { BruteForceGuard } from '../../src/guards/brute-force/brute-force.js';
import { DialScanGuard } from '../../src/guards/dial-scan/dial-scan.js';
import { FraudGuard } from '../../src/guards/fraud/fraud.js';
import { parseMessage } from '../../src/sip/parser.js';
import { MessageWriter } from '../../src/sip/writer.js';
import { Reporter } from '../../src/watch/report.js';
import { TransactionWatch } from '../../src/watch/watch.js';
import { batchAndRounds } from '../common/args.js';
import { table } from '../common/table.js';

const USAGE = 'Usage: node dist/bench/guards/watch.js [--batch N] [--rounds N]';
const { batch, rounds } = batchAndRounds(USAGE, { batch: 200_000, rounds: 7 });

const config = loadConfigFromString(
  'listen: [udp://127.0.0.1:5060]\nupstreams: [{name: p, targets: [udp://127.0.0.1:5070], ping: false}]\n',
  'bench.yaml',
).guards;

function request(method: string, user: string, auth: boolean): Buffer {
  return Buffer.from(
    `${method} sip:${user}@example.test SIP/2.0\r\n` +
      'Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK776asdhds;rport\r\n' +
      'Max-Forwards: 70\r\nFrom: "Alice" <sip:alice@example.test>;tag=1928301774\r\n' +
      `To: <sip:${user}@example.test>\r\nCall-ID: a84b4c76e66710@pc33.example.test\r\n` +
      `CSeq: 2 ${method}\r\nContact: <sip:alice@192.0.2.7:5060>\r\nUser-Agent: Phone/1.0\r\n` +
      (auth
        ? 'Authorization: Digest username="alice", realm="example.test", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:example.test", response="6629fae49393a05397450978507c4ef1", algorithm=MD5\r\n'
        : '') +
      'Content-Length: 0\r\n\r\n',
  );
}

function answer(status: string, method: string, user: string): Buffer {
  return Buffer.from(
    `SIP/2.0 ${status}\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-sw-x;sw=u0-0\r\n` +
      'Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.7\r\n' +
      'From: "Alice" <sip:alice@example.test>;tag=1928301774\r\n' +
      `To: <sip:${user}@example.test>;tag=a6c85cf\r\nCall-ID: a84b4c76e66710@pc33.example.test\r\n` +
      `CSeq: 2 ${method}\r\nWWW-Authenticate: Digest realm="example.test", nonce="abc"\r\nContent-Length: 0\r\n\r\n`,
  );
}

interface Case {
  name: string;
  req: Buffer;
  res: Buffer;
  rotating: boolean;
}

const cases: Case[] = [
  {
    name: 'REGISTER 200',
    req: request('REGISTER', 'alice', true),
    res: answer('200 OK', 'REGISTER', 'alice'),
    rotating: false,
  },
  {
    name: 'REGISTER 401',
    req: request('REGISTER', 'alice', true),
    res: answer('401 Unauthorized', 'REGISTER', 'alice'),
    rotating: true,
  },
  {
    name: 'INVITE 404',
    req: request('INVITE', '1000', false),
    res: answer('404 Not Found', 'INVITE', '1000'),
    rotating: true,
  },
];

const sources: Source[] = Array.from({ length: 100_000 }, (_, i) => ({
  transport: 'udp',
  address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  port: 5060,
  family: 4,
}));
const branches = Array.from({ length: batch }, (_, i) => `z9hG4bK-sw-${i.toString(36)}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const rows: string[][] = [];
for (const c of cases) {
  let now = 1_700_000_000_000;
  const reporter = new Reporter({
    events: new EventBus(),
    store: undefined,
    log: { warn() {} },
    isExempt: () => false,
    policy: () => BanPolicy.DEFAULT,
  });
  // Default settings; no ban store, so a source banned at its third failure comes back (as
  // it would after its ban) and the ban path is part of the figures.
  const watch = new TransactionWatch(65_536, () => now);
  watch.setWatchers([
    new BruteForceGuard(config.bruteForce, reporter),
    new DialScanGuard(config.dialScan, reporter),
    new FraudGuard(config.fraud, reporter),
  ]);
  const req = parseMessage(c.req);
  const res = parseMessage(c.res);
  const w = new MessageWriter(res);
  const watchNs: number[] = [];
  const parseNs: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    let t = performance.now();
    for (let i = 0; i < batch; i++) {
      const src = c.rotating ? sources[i % sources.length]! : sources[0]!;
      watch.request(req, src, branches[i]!);
      watch.response(res, branches[i]!, w);
      now += 0.01;
    }
    const watchTime = performance.now() - t;
    t = performance.now();
    let sink = 0;
    for (let i = 0; i < batch; i++) {
      sink += parseMessage(c.req).headerCount + parseMessage(c.res).headerCount;
    }
    const parseTime = performance.now() - t;
    if (sink === 0) throw new Error('unreachable');
    if (r === 0) continue; // warm-up
    watchNs.push((watchTime * 1e6) / batch);
    parseNs.push((parseTime * 1e6) / batch);
  }
  const wn = median(watchNs);
  const pn = median(parseNs);
  rows.push([c.name, wn.toFixed(0), pn.toFixed(0), `${((wn / pn) * 100).toFixed(0)}%`, String(watch.table.size)]);
}

console.log(
  table(['case', 'watch ns/pair', 'parse ns/pair', 'watch / parse', 'table left'], rows, new Set([1, 2, 3, 4])),
);
