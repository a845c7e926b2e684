/**
 * Micro benchmark of the message guards: what sanity and scanner cost per message, next to
 * what parsing the same message costs, in the same run.
 *
 *   npx tsc -p . && node dist/bench/guards/message-guards.js [--batch N] [--rounds N]
 *
 * Each round parses a batch of copies of one message (timed: the parse cost), then runs the
 * guards on those freshly parsed messages (timed: the guards' cost, including the lazy
 * decoding of From, To, Request-URI, Contact, Vias and Record-Route the guards trigger,
 * since that is work the guards add; the proxy needs some of it anyway). Messages: the INVITE (with SDP, Record-Route) and the digest
 * REGISTER of the parser benchmark's mix, with the default guard configuration. The
 * median of the rounds is printed, in ns per message, and the guards/parse ratio.
 */
import { tmpdir } from 'node:os';
import { loadConfigFromString } from '../../src/config/index.js';
import type { Source, Verdict } from '../../src/core/verdict.js';
import { BanPolicy } from '../../src/guards/ban-policy.js';
import { SanityGuard } from '../../src/guards/sanity/sanity.js';
import { ScannerGuard } from '../../src/guards/scanner/scanner.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { batchAndRounds } from '../common/args.js';
import { table } from '../common/table.js';
import { MESSAGE_MIX } from '../parser/messages.js';

const USAGE = `usage: node dist/bench/guards/message-guards.js [options]
  --batch N    messages parsed and checked per round (default 500)
  --rounds N   timed rounds per message; the median is reported (default 100)
  --help`;

const { batch: BATCH, rounds: ROUNDS } = batchAndRounds(USAGE, { batch: 500, rounds: 100 });

const config = loadConfigFromString(
  'listen: [udp://192.0.2.1:5060]\nupstreams:\n  - name: pbx\n    targets: [udp://10.0.0.2:5060]\n    ping: false\n',
  'bench.yaml',
  {},
  { cwd: tmpdir(), env: {} },
);
const identity = {
  isOwnHost: (host: string) => host === '192.0.2.1',
  isTrusted: (address: string) => address === '10.0.0.2',
};
const sanity = new SanityGuard(config.guards.sanity);
const scanner = new ScannerGuard(config.guards.scanner, config.guards.reply, identity, BanPolicy.DEFAULT.keys);
/** The proxy that sent the INVITE: its top Record-Route names it (scanner, record_route_foreign). */
const SOURCE: Source = { transport: 'udp', address: '10.30.0.1', port: 5060, family: 4 };

let sink = 0;

function parseBatch(raw: Buffer, out: SipMessage[]): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < out.length; i++) out[i] = parseMessage(raw);
  return Number(process.hrtime.bigint() - t0);
}

/** The guards of one measurement, called directly (one call site per guard). */
type GuardSet = 'sanity' | 'scanner' | 'both';

function guardBatch(set: GuardSet, messages: readonly SipMessage[]): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages.length; i++) {
    const msg = messages[i]!;
    if (set !== 'scanner') expectPass('sanity', sanity.checkMessage(msg, SOURCE, 0));
    if (set !== 'sanity') expectPass('scanner', scanner.checkMessage(msg, SOURCE, 0));
  }
  return Number(process.hrtime.bigint() - t0);
}

function expectPass(guard: string, v: Verdict): void {
  sink += v.action.length;
  if (v.action !== 'pass') throw new Error(`${guard} did not pass a valid message: ${JSON.stringify(v)}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

interface Row {
  name: string;
  parse: number;
  sanity: number;
  scanner: number;
  both: number;
}

function measure(name: string, raw: Buffer): Row {
  const messages: SipMessage[] = new Array(BATCH);
  const times: Record<string, number[]> = { parse: [], sanity: [], scanner: [], both: [] };
  // One guard set after the other (interleaving them skews the JIT's view of the guards),
  // the pair first; each round parses a fresh batch, then runs the guards on it.
  for (const set of ['both', 'sanity', 'scanner'] as const) {
    for (let round = -5; round < ROUNDS; round++) {
      const parse = parseBatch(raw, messages);
      const guard = guardBatch(set, messages);
      if (round < 0) continue;
      times.parse!.push(parse / BATCH);
      times[set]!.push(guard / BATCH);
    }
  }
  return {
    name,
    parse: median(times.parse!),
    sanity: median(times.sanity!),
    scanner: median(times.scanner!),
    both: median(times.both!),
  };
}

const rows: Row[] = [];
for (const wanted of ['INVITE+SDP', 'REGISTER+Digest', 'OPTIONS']) {
  const message = MESSAGE_MIX.find((m) => m.name === wanted);
  if (message === undefined) throw new Error(`no ${wanted} in the message mix`);
  rows.push(measure(wanted, message.raw));
}

const ns = (x: number) => x.toFixed(0);
console.log(
  `message guards: ns per message, median of ${ROUNDS} rounds of ${BATCH} (node ${process.version}, default configuration)\n`,
);
console.log(
  table(
    ['message', 'parse', 'sanity', 'scanner', 'sanity+scanner', 'guards/parse'],
    rows.map((r) => [
      r.name,
      ns(r.parse),
      ns(r.sanity),
      ns(r.scanner),
      ns(r.both),
      `${(r.both / r.parse).toFixed(2)}x`,
    ]),
    new Set([1, 2, 3, 4, 5]),
  ),
);
if (sink === 0) console.log('');
