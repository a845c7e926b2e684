/**
 * Flood guard micro benchmark: nanoseconds per `checkSource`, against a baseline in the same
 * run, a plain `Map<string, number>` counter keyed by the address text (no window, no bound,
 * no prefix aggregation: the least any per-source counter can do).
 *
 *   npx tsc -p . && node dist/bench/guards/flood.js [--rounds N] [--messages N]
 *
 * Cases:
 *   hot IPv4      one source flooding (banned after 16 messages, dropped from then on)
 *   hot IPv6      the same from an IPv6 address, counted per /64
 *   1M rotating   1,000,000 distinct IPv4 sources in turn, each sending every millionth
 *                 message, through a table capped at 100,000: every message is a newcomer
 *                 that evicts a slot. The baseline Map simply grows to a million entries.
 *
 * Then detection under churn: a table of 100,000 slots, a crowd of newcomers (half of them
 * sending a second packet 1,000 messages later) at 200,000 and 1,000,000 new sources per
 * second of simulated time, and one attacker at 9 to 100 messages a second (the limit is
 * 16 per 2 s, i.e. 8/s): the message with which it is banned (17 at the earliest), or "missed"
 * if it is not banned within 10 s of simulated time.
 *
 * Sources are pre-built `Source` objects with the address as a string, as the socket layer
 * hands them over. Time advances 1 ms every 200 messages (200,000 messages/s of simulated
 * time), so windows roll and counts expire as they would under a real flood. Each case runs
 * `rounds` rounds of `messages` messages after a warm-up; the median round is reported. The
 * memory column is heap plus array buffers after the case, relative to before it.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Source } from '../../src/core/verdict.js';
import type { FloodConfig } from '../../src/guards/flood/config.js';
import { FloodGuard } from '../../src/guards/flood/flood.js';
import type { Guard } from '../../src/guards/types.js';
import { formatIPv4, SourceKeys } from '../../src/net/index.js';
import { table } from '../common/table.js';

const CONFIG: FloodConfig = {
  mode: 'enforce',
  window: 2000,
  maxMessages: 16,
  ban: 300_000,
  maxSources: 100_000,
};
/** IPv4 per address, IPv6 per /64: the defaults of `sources`. */
const KEYS = new SourceKeys(32, 64);

const T0 = 1_700_000_000_000;
const ROTATING_SOURCES = 1_000_000;

/** One counter per address text, as a naive flood check would keep. */
class MapCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: number) {}
  check(source: Source): number {
    const n = (this.counts.get(source.address) ?? 0) + 1;
    this.counts.set(source.address, n);
    return n > this.max ? 1 : 0;
  }
  get size(): number {
    return this.counts.size;
  }
}

let sink = 0;

type Step = (source: Source, now: number) => void;

function guardStep(guard: Guard): Step {
  return (source, now) => {
    const v = guard.checkSource!(source, 300, now);
    sink += v.action.length;
  };
}

function mapStep(counter: MapCounter): Step {
  return (source) => {
    sink += counter.check(source);
  };
}

/** Runs `messages` messages from `sources` in turn, starting at message number `offset`; returns ns per message. */
function round(step: Step, sources: readonly Source[], offset: number, messages: number): number {
  const n = sources.length;
  let k = offset % n;
  const start = performance.now();
  for (let i = 0; i < messages; i++) {
    step(sources[k]!, T0 + Math.floor((offset + i) / 200));
    k = k + 1 === n ? 0 : k + 1;
  }
  return ((performance.now() - start) * 1e6) / messages;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Measured {
  nsPerMessage: number;
  memoryBytes: number;
  entries: number;
}

/** Warm-up, then `rounds` timed rounds; memory measured around the whole case. */
function measure(
  make: () => { step: Step; entries: () => number },
  sources: readonly Source[],
  rounds: number,
  messages: number,
): Measured {
  collectGarbage();
  const before = memoryInUse();
  const subject = make();
  let offset = 0;
  round(subject.step, sources, offset, Math.min(messages, 200_000));
  offset += Math.min(messages, 200_000);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    times.push(round(subject.step, sources, offset, messages));
    offset += messages;
  }
  collectGarbage();
  const memoryBytes = memoryInUse() - before;
  const entries = subject.entries();
  return { nsPerMessage: median(times), memoryBytes, entries };
}

/** Distinct string objects with the same text, as each datagram brings its own. */
function sameAddress(text: string, copies: number, family: 4 | 6): Source[] {
  const out: Source[] = [];
  for (let i = 0; i < copies; i++) {
    const address = `${text} `.slice(0, text.length);
    out.push({ transport: 'udp', address, port: 5060 + (i % 16), family });
  }
  return out;
}

/** The message (1-based) with which a steady attacker among a churning crowd is banned, or 0. */
function detectAmongChurn(newPerSecond: number, attackerPerSecond: number): number {
  const guard = new FloodGuard(CONFIG, KEYS);
  const perMs = newPerSecond / 1000;
  const attackerGap = 1000 / attackerPerSecond;
  const attacker: Source = { transport: 'udp', address: '10.0.0.1', port: 5060, family: 4 };
  const crowd = (n: number): Source => ({
    transport: 'udp',
    address: formatIPv4(0x0b000000 + n),
    port: 5060,
    family: 4,
  });
  // Fill the table first (one second of newcomers, at least the table's size), then attack for 10 s.
  const warm = Math.max(CONFIG.maxSources * 2, newPerSecond);
  let n = 0;
  for (; n < warm; n++) guard.checkSource(crowd(n), 200, T0 + Math.floor(n / perMs));
  const start = T0 + Math.floor(n / perMs);
  let nextAttack = start;
  let sent = 0;
  const end = n + newPerSecond * 10;
  for (; n < end; n++) {
    const now = T0 + Math.floor(n / perMs);
    guard.checkSource(crowd(n), 200, now);
    if (n % 2 === 0) guard.checkSource(crowd(n - 1000), 200, now);
    if (now >= nextAttack) {
      sent++;
      nextAttack += attackerGap;
      if (guard.checkSource(attacker, 200, now).action === 'ban') return sent;
    }
  }
  return 0;
}

function churnTable(): string {
  const rates = [9, 10, 20, 50, 100];
  const rows = [200_000, 1_000_000].map((churn) => [
    `${churn.toLocaleString('en')} new sources/s`,
    ...rates.map((rate) => {
      const at = detectAmongChurn(churn, rate);
      return at > 0 ? `banned at #${at}` : 'missed';
    }),
  ]);
  return `Detection under churn (max_sources ${CONFIG.maxSources}, ${CONFIG.maxMessages} per ${CONFIG.window / 1000} s; attacker rate per second):\n${table(
    ['crowd', ...rates.map((r) => `${r}/s`)],
    rows,
    new Set(rates.map((_, i) => i + 1)),
  )}`;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '7' },
      messages: { type: 'string', default: '2000000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/guards/flood.js [--rounds N] [--messages N]');
    return;
  }
  const rounds = Math.max(1, Math.floor(Number(values.rounds)));
  const messages = Math.max(10_000, Math.floor(Number(values.messages)));

  const hot4 = sameAddress('198.51.100.7', 1024, 4);
  const hot6 = sameAddress('2001:db8:1:2::7', 1024, 6);
  const rotating: Source[] = [];
  for (let i = 0; i < ROTATING_SOURCES; i++) {
    rotating.push({ transport: 'udp', address: formatIPv4(0x0b000000 + i), port: 5060, family: 4 });
  }

  const cases: Array<{ name: string; sources: readonly Source[] }> = [
    { name: 'hot IPv4 source', sources: hot4 },
    { name: 'hot IPv6 source (/64)', sources: hot6 },
    { name: `${ROTATING_SOURCES / 1e6}M rotating IPv4, cap ${CONFIG.maxSources / 1000}k`, sources: rotating },
  ];

  console.log('Flood guard micro benchmark: ns per checkSource, median of rounds');
  console.log(`  command: node ${process.argv.slice(1).join(' ')}`);
  console.log(`  node ${process.version}; ${rounds} rounds of ${messages} messages after a warm-up`);
  console.log(
    `  flood: window ${CONFIG.window} ms, max_messages ${CONFIG.maxMessages}, max_sources ${CONFIG.maxSources}; baseline: Map<string, number> per address`,
  );

  const rows: string[][] = [];
  for (const c of cases) {
    const flood = measure(
      () => {
        const guard = new FloodGuard(CONFIG, KEYS);
        return { step: guardStep(guard), entries: () => guard.trackedSources };
      },
      c.sources,
      rounds,
      messages,
    );
    const baseline = measure(
      () => {
        const counter = new MapCounter(CONFIG.maxMessages);
        return { step: mapStep(counter), entries: () => counter.size };
      },
      c.sources,
      rounds,
      messages,
    );
    const mb = (bytes: number): string => (Math.max(0, bytes) / 1048576).toFixed(1);
    rows.push([
      c.name,
      flood.nsPerMessage.toFixed(1),
      baseline.nsPerMessage.toFixed(1),
      `${(flood.nsPerMessage / baseline.nsPerMessage).toFixed(2)}x`,
      `${flood.entries} / ${baseline.entries}`,
      `${mb(flood.memoryBytes)} / ${mb(baseline.memoryBytes)}`,
    ]);
  }
  console.log();
  console.log(
    table(
      ['case', 'flood ns/msg', 'Map ns/msg', 'flood/Map', 'entries flood / Map', 'MB flood / Map'],
      rows,
      new Set([1, 2, 3, 4, 5]),
    ),
  );
  console.log(`\n${churnTable()}`);
  console.log(
    '\nThe Map is neither windowed nor bounded nor aggregated by prefix, and its keys are the pre-built address strings:',
  );
  console.log(
    'their hashes are cached after the first lookup, and in a server each key would also keep its own string alive.',
  );
  console.log(`(checksum ${sink})`);
}

main();
