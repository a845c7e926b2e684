/**
 * Parser benchmark: sipwarden's SIP parser against the JavaScript SIP stacks, on one mix of
 * realistic messages, in one process.
 *
 *   npx tsc -p . && node --expose-gc dist/bench/parser/run.js [options]
 *
 * For each parser: validate it on the mix, warm up, then time rounds of parse + reads
 * (top Via branch, CSeq number and method, Call-ID, From tag, User-Agent/Server), median of
 * the rounds. Rounds interleave the parsers, rotating their order, so drift in machine
 * speed spreads over all of them. With --expose-gc it also measures the memory a parsed
 * message keeps alive.
 */
import { cpus } from 'node:os';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { table } from '../common/table.js';
import type { ParserAdapter } from './adapter.js';
import { drachtioAdapter, jssipAdapter, sipJsAdapter } from './competitors.js';
import { checksum, gcFunction, measureRetainedBytes, measureThroughput, type Rejection, validate } from './harness.js';
import { MESSAGE_MIX } from './messages.js';
import { sipwardenAdapter } from './sipwarden.js';

const TARGET_RATIO = 5;

const USAGE = `usage: node --expose-gc dist/bench/parser/run.js [options]
  --iterations N    messages parsed per round, per parser (default 300000)
  --rounds N        timed rounds; the median is reported (default 5)
  --warmup N        messages parsed per parser before timing (default 100000)
  --max-seconds S   time bound of one round of one parser (default 10)
  --retain N        parsed messages kept alive for the memory figure (default 20000)
  --only LIST       comma-separated parser names: sipwarden,sip,drachtio-sip,jssip
  --help`;

interface Options {
  iterations: number;
  rounds: number;
  warmup: number;
  maxSeconds: number;
  retain: number;
  only: string[] | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      iterations: { type: 'string', default: '300000' },
      rounds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '100000' },
      'max-seconds': { type: 'string', default: '10' },
      retain: { type: 'string', default: '20000' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) {
      console.error(`--${flag} must be a positive number, got ${JSON.stringify(text)}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  return {
    iterations: Math.floor(positive('iterations', values.iterations)),
    rounds: Math.floor(positive('rounds', values.rounds)),
    warmup: Math.floor(positive('warmup', values.warmup)),
    maxSeconds: positive('max-seconds', values['max-seconds']),
    retain: Math.floor(positive('retain', values.retain)),
    only: values.only
      ?.split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  };
}

interface Contender {
  adapter: ParserAdapter<unknown>;
  datagrams: Buffer[];
  rejected: Rejection[];
  rates: number[];
  retainedBytes: number | undefined;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const formatRate = (perSecond: number): string => integer.format(perSecond);

function commandLine(): string {
  const script = relative(process.cwd(), process.argv[1] ?? 'dist/bench/parser/run.js');
  return ['node', ...process.execArgv, script, ...process.argv.slice(2)].join(' ');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const all: ParserAdapter<unknown>[] = [sipwardenAdapter(), sipJsAdapter(), drachtioAdapter(), jssipAdapter()];
  const unknown = (options.only ?? []).filter((name) => !all.some((a) => a.name === name));
  if (unknown.length > 0) {
    console.error(`unknown parser(s) in --only: ${unknown.join(', ')}\n${USAGE}`);
    process.exit(2);
  }
  const selected = options.only ? all.filter((a) => options.only!.includes(a.name)) : all;
  const gc = gcFunction();

  console.log('SIP parser benchmark');
  console.log(`  command: ${commandLine()}`);
  console.log(
    `  node ${process.version}, ${process.platform}/${process.arch}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`,
  );
  console.log(
    `  ${options.rounds} rounds x ${integer.format(options.iterations)} messages per parser (max ${options.maxSeconds} s a round), warm-up ${integer.format(options.warmup)}`,
  );
  const sizes = MESSAGE_MIX.map((m) => `${m.name} ${m.raw.length} B`).join(', ');
  const meanSize = MESSAGE_MIX.reduce((sum, m) => sum + m.raw.length, 0) / MESSAGE_MIX.length;
  console.log(`  mix (${MESSAGE_MIX.length} messages, mean ${Math.round(meanSize)} B): ${sizes}`);
  console.log('');

  // Validation: a parser is only timed on the messages it reads correctly.
  const contenders: Contender[] = [];
  let sipwardenFailed = false;
  for (const adapter of selected) {
    const { accepted, rejected } = validate(adapter, MESSAGE_MIX);
    console.log(`${adapter.name} ${adapter.version}: ${adapter.invocation}`);
    for (const r of rejected) {
      console.log(`  !! ${adapter.isSipwarden ? 'FAILED' : 'excluded from its mix'}: ${r.message}: ${r.reason}`);
    }
    if (adapter.isSipwarden && rejected.length > 0) sipwardenFailed = true;
    if (accepted.length === 0) {
      console.log(`  !! ${adapter.name} parsed none of the mix; not timed`);
      continue;
    }
    contenders.push({
      adapter,
      datagrams: accepted.map((m) => m.raw),
      rejected,
      rates: [],
      retainedBytes: undefined,
    });
  }
  if (sipwardenFailed) {
    console.error('\nsipwarden misread messages of the mix (above); fix the parser before benchmarking it.');
    process.exit(1);
  }
  console.log('');

  for (const c of contenders) measureThroughput(c.adapter, c.datagrams, options.warmup, options.maxSeconds);

  for (let round = 0; round < options.rounds; round++) {
    const cells: string[] = [];
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length]!;
      const { messages, seconds } = measureThroughput(c.adapter, c.datagrams, options.iterations, options.maxSeconds);
      const rate = messages / seconds;
      c.rates.push(rate);
      cells.push(
        `${c.adapter.name} ${formatRate(rate)}/s${messages < options.iterations ? ` (time-bound: ${integer.format(messages)} msgs)` : ''}`,
      );
    }
    console.log(`round ${round + 1}/${options.rounds}: ${cells.join(', ')}`);
  }

  if (gc) {
    for (const c of contenders) {
      c.retainedBytes = await measureRetainedBytes(c.adapter, c.datagrams, options.retain, gc);
    }
  }

  const others = contenders.filter((c) => !c.adapter.isSipwarden);
  const sipwarden = contenders.find((c) => c.adapter.isSipwarden);
  const fastestOther = others.reduce<Contender | undefined>(
    (best, c) => (best === undefined || median(c.rates) > median(best.rates) ? c : best),
    undefined,
  );

  const rows = [...contenders]
    .sort((a, b) => median(b.rates) - median(a.rates))
    .map((c) => {
      const rate = median(c.rates);
      return [
        c.adapter.name,
        c.adapter.version,
        `${c.datagrams.length}/${MESSAGE_MIX.length}`,
        formatRate(rate),
        integer.format(1e9 / rate),
        `${formatRate(Math.min(...c.rates))} - ${formatRate(Math.max(...c.rates))}`,
        c.retainedBytes === undefined ? 'n/a' : integer.format(c.retainedBytes),
        sipwarden ? `${(median(sipwarden.rates) / rate).toFixed(2)}x` : '',
      ];
    });
  console.log('');
  console.log(
    table(
      ['parser', 'version', 'mix', 'msgs/s (median)', 'ns/msg', 'min - max msgs/s', 'retained B/msg', 'sipwarden is'],
      rows,
      new Set([2, 3, 4, 5, 6, 7]),
    ),
  );
  console.log('');

  if (sipwarden && fastestOther) {
    const ratio = median(sipwarden.rates) / median(fastestOther.rates);
    const verdict = ratio >= TARGET_RATIO ? 'met' : 'NOT met';
    console.log(
      `sipwarden / fastest other (${fastestOther.adapter.name}): ${ratio.toFixed(2)}x; target >= ${TARGET_RATIO}x: ${verdict}`,
    );
    if (fastestOther.rejected.length > 0) {
      console.log(`  note: ${fastestOther.adapter.name} ran without the message(s) it could not parse`);
    }
  }
  console.log(
    gc
      ? `retained B/msg: JS heap + ArrayBuffer memory kept alive per parsed and read message (${integer.format(options.retain)} messages, each from its own datagram Buffer), after gc`
      : 'retained B/msg: not measured, global.gc is unavailable; run with node --expose-gc',
  );
  console.log(`checksum of all reads: ${checksum()}`);
}

await main();
