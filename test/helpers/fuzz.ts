/**
 * Seeded, reproducible mutation fuzzing helpers for the SIP message layer.
 *
 * Every case draws from its own PRNG, seeded from the run seed and the case number, so a
 * single failing case can be replayed without running the ones before it
 * (`SIPWARDEN_FUZZ_SEED=<seed> SIPWARDEN_FUZZ_CASE=<n>`).
 */
import { randomInt } from 'node:crypto';
import { SipParseError } from '../../src/sip/errors.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';

/** mulberry32: a tiny, fast 32-bit PRNG; good enough for choosing mutations. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next 32-bit unsigned integer. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  /** Integer in [a, b]. */
  range(a: number, b: number): number {
    return a + this.int(b - a + 1);
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A per-case seed derived from the run seed and the case number (splitmix-style mixing). */
export function caseSeed(runSeed: number, caseNo: number): number {
  let h = (runSeed ^ Math.imul(caseNo + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

/** The run seed: SIPWARDEN_FUZZ_SEED, or a fresh random one (printed by the test). */
export function fuzzSeed(): number {
  return (envInt('SIPWARDEN_FUZZ_SEED') ?? randomInt(0, 0x7fff_ffff)) >>> 0;
}

/** Number of cases: SIPWARDEN_FUZZ_CASES, or `fallback`. */
export function fuzzCases(fallback: number): number {
  return envInt('SIPWARDEN_FUZZ_CASES') ?? fallback;
}

/** SIPWARDEN_FUZZ_CASE: replay this one case only. */
export function fuzzOnlyCase(): number | undefined {
  return envInt('SIPWARDEN_FUZZ_CASE');
}

/** Byte strings that tend to sit on parser decision points. */
const INTERESTING: readonly string[] = [
  '\r',
  '\n',
  '\r\n',
  '\r\n ',
  '\r\n\t',
  '\r\n\r\n',
  '\0',
  '"',
  '\\',
  '\\"',
  '<',
  '>',
  '%',
  '%0',
  '%00',
  '%zz',
  ',',
  ';',
  ':',
  '=',
  '@',
  '?',
  '[',
  ']',
  '[::1]',
  ' ',
  '\t',
  '/',
  '\x7f',
  '\xff',
  '\xc3\xa9',
  ';lr',
  ';branch=',
  ';rport',
  ';received=',
  ';tag=',
  ';tag=x;tag=y',
  'sip:',
  'sips:',
  'tel:',
  'SIP/2.0',
  'SIP/2.0/UDP ',
  '\r\nContent-Length: 0',
  '\r\nl: 10',
  '\r\nVia: SIP/2.0/UDP h',
  '\r\nContact: *',
  '\r\nAuthorization: Digest a="b"',
  'Digest ',
  '=""',
  ', ',
];

/** Decimal strings around the limits sipwarden checks. */
const NUMBERS: readonly string[] = [
  '0',
  '00000000000000000000000001',
  '1',
  '-1',
  '70',
  '255',
  '256',
  '65535',
  '65536',
  '2147483647',
  '2147483648',
  '4294967295',
  '4294967296',
  '99999999999999999999',
  '1e3',
  '0x10',
  '',
  ' 1 ',
];

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

function splice(data: Buffer, at: number, del: number, ins: Buffer): Buffer {
  return Buffer.concat([data.subarray(0, at), ins, data.subarray(at + del)]);
}

/** Offsets of the starts of lines (after each LF) in `data`. */
function lineStarts(data: Buffer): number[] {
  const out = [0];
  for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) out.push(i + 1);
  return out;
}

/** [start, end) of a random line, CRLF included. */
function randomLine(rng: Rng, data: Buffer): [number, number] {
  const starts = lineStarts(data);
  const k = rng.int(starts.length);
  const a = starts[k]!;
  const b = k + 1 < starts.length ? starts[k + 1]! : data.length;
  return [a, b];
}

export interface MutateContext {
  /** All seed messages, for splicing. */
  seeds: readonly Buffer[];
  /** Largest message the parser accepts; huge repeats grow up to a little beyond it. */
  maxMessageBytes: number;
}

type Mutator = (rng: Rng, data: Buffer, ctx: MutateContext) => Buffer;

/** The mutations, by name (names show up in failure reports). */
export const MUTATORS: ReadonlyArray<[string, Mutator]> = [
  [
    'bit-flip',
    (rng, d) => {
      if (d.length === 0) return d;
      const out = Buffer.from(d);
      for (let n = rng.range(1, 8); n > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    },
  ],
  [
    'byte-set',
    (rng, d) => {
      if (d.length === 0) return d;
      const out = Buffer.from(d);
      out[rng.int(out.length)] = rng.chance(0.5)
        ? rng.int(256)
        : rng.pick([0, 9, 10, 13, 32, 34, 37, 44, 59, 60, 62, 92]);
      return out;
    },
  ],
  [
    'insert-random',
    (rng, d) => {
      const ins = Buffer.alloc(rng.range(1, 16));
      for (let i = 0; i < ins.length; i++) ins[i] = rng.int(256);
      return splice(d, rng.int(d.length + 1), 0, ins);
    },
  ],
  ['insert-special', (rng, d) => splice(d, rng.int(d.length + 1), 0, latin1(rng.pick(INTERESTING)))],
  ['replace-special', (rng, d) => splice(d, rng.int(d.length + 1), rng.range(1, 3), latin1(rng.pick(INTERESTING)))],
  ['delete', (rng, d) => splice(d, rng.int(d.length + 1), rng.range(1, 32), Buffer.alloc(0))],
  [
    'duplicate',
    (rng, d) => {
      const a = rng.int(d.length + 1);
      const b = Math.min(d.length, a + rng.range(1, 64));
      return splice(d, rng.int(d.length + 1), 0, Buffer.from(d.subarray(a, b)));
    },
  ],
  ['truncate', (rng, d) => d.subarray(0, rng.int(d.length + 1))],
  [
    'splice-messages',
    (rng, d, ctx) => {
      const other = rng.pick(ctx.seeds);
      if (rng.chance(0.5)) {
        // Line-aligned: the head of one message with the tail of another.
        const la = lineStarts(d);
        const lb = lineStarts(other);
        return Buffer.concat([d.subarray(0, rng.pick(la)), other.subarray(rng.pick(lb))]);
      }
      return Buffer.concat([d.subarray(0, rng.int(d.length + 1)), other.subarray(rng.int(other.length + 1))]);
    },
  ],
  [
    'duplicate-line',
    (rng, d) => {
      const [a, b] = randomLine(rng, d);
      return splice(d, b, 0, Buffer.from(d.subarray(a, b)));
    },
  ],
  [
    'delete-line',
    (rng, d) => {
      const [a, b] = randomLine(rng, d);
      return splice(d, a, b - a, Buffer.alloc(0));
    },
  ],
  [
    'swap-lines',
    (rng, d) => {
      const [a1, b1] = randomLine(rng, d);
      const [a2, b2] = randomLine(rng, d);
      if (a1 === a2) return d;
      const [x, y] =
        a1 < a2
          ? [
              [a1, b1],
              [a2, b2],
            ]
          : [
              [a2, b2],
              [a1, b1],
            ];
      if (x[1]! > y[0]!) return d;
      return Buffer.concat([
        d.subarray(0, x[0]),
        d.subarray(y[0], y[1]),
        d.subarray(x[1], y[0]),
        d.subarray(x[0], x[1]),
        d.subarray(y[1]),
      ]);
    },
  ],
  [
    'fold-line',
    (rng, d) => {
      // Turn a space into a line fold, or a fold into nothing.
      const sp = d.indexOf(0x20, rng.int(d.length + 1));
      if (sp === -1) return d;
      return splice(d, sp, 1, latin1(rng.pick(['\r\n ', '\r\n\t', ' \r\n ', '\r\n \r\n '])));
    },
  ],
  [
    'case-flip',
    (rng, d) => {
      const out = Buffer.from(d);
      const a = rng.int(out.length + 1);
      for (let i = a; i < Math.min(out.length, a + rng.range(1, 20)); i++) {
        const c = out[i]!;
        if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) out[i] = c ^ 0x20;
      }
      return out;
    },
  ],
  [
    'number',
    (rng, d) => {
      // Replace a run of digits (CSeq, Max-Forwards, Content-Length, ports, ...).
      const from = rng.int(d.length + 1);
      let i = from;
      while (i < d.length && !(d[i]! >= 0x30 && d[i]! <= 0x39)) i++;
      if (i >= d.length) return d;
      let j = i;
      while (j < d.length && d[j]! >= 0x30 && d[j]! <= 0x39) j++;
      return splice(d, i, j - i, latin1(rng.pick(NUMBERS)));
    },
  ],
  [
    'huge-repeat',
    (rng, d, ctx) => {
      // Repeat a small piece (a byte, a parameter, a header line, a list element) many times,
      // up to a little past the message limit.
      const unit = rng.chance(0.5)
        ? latin1(
            rng.pick([';a', ';p=1', ',<sip:h>', ',sip:h', ', SIP/2.0/UDP h', '"\\"', '\r\n x', 'X: y\r\n', ' ', 'a']),
          )
        : Buffer.from(d.subarray(...randomPiece(rng, d)));
      if (unit.length === 0) return d;
      const budget = Math.max(0, ctx.maxMessageBytes + 64 - d.length);
      const times = Math.max(1, Math.floor((rng.chance(0.8) ? rng.int(budget) : budget) / unit.length));
      const at = rng.int(d.length + 1);
      return Buffer.concat([d.subarray(0, at), Buffer.alloc(unit.length * times, unit), d.subarray(at)]);
    },
  ],
];

function randomPiece(rng: Rng, d: Buffer): [number, number] {
  if (rng.chance(0.5)) return randomLine(rng, d);
  const a = rng.int(d.length + 1);
  return [a, Math.min(d.length, a + rng.range(1, 12))];
}

/** Applies 1 to 4 random mutations; returns the result and the names of what was done. */
export function mutate(rng: Rng, data: Buffer, ctx: MutateContext): { data: Buffer; ops: string[] } {
  const ops: string[] = [];
  let out = data;
  for (let n = rng.chance(0.6) ? 1 : rng.range(2, 4); n > 0; n--) {
    const [name, fn] = rng.pick(MUTATORS);
    out = fn(rng, out, ctx);
    ops.push(name);
  }
  return { data: out, ops };
}

/**
 * Cuts `data` into random chunks: single bytes, small pieces, or large and small ones mixed.
 * Tiny chunks are kept for small inputs so a case stays cheap.
 */
export function randomChunks(rng: Rng, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const style = data.length <= 4096 ? rng.int(3) : data.length <= 16384 ? rng.range(1, 2) : 2;
  for (let i = 0; i < data.length; ) {
    const n = style === 0 ? 1 : style === 1 ? rng.range(1, 64) : rng.chance(0.3) ? rng.range(1, 4) : rng.range(1, 4096);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** A short printable rendering of a buffer for failure messages. */
export function show(data: Buffer, max = 2000): string {
  const s = JSON.stringify(data.subarray(0, max).toString('latin1'));
  return data.length > max ? `${s}... (${data.length} bytes)` : s;
}

/**
 * `count` mutated messages from `seeds` (case `i` replayable with `caseSeed(seed, i)`), each
 * parsed as the proxy parses it; a message the parser rejects is yielded as its partial
 * message when it has one, else skipped. Every parse failure must be a SipParseError.
 */
export function* mutatedMessages(
  seeds: readonly Buffer[],
  count: number,
  seed: number,
): Generator<{ i: number; msg: SipMessage }> {
  for (let i = 0; i < count; i++) {
    const rng = new Rng(caseSeed(seed, i));
    const { data } = mutate(rng, rng.pick(seeds), { seeds, maxMessageBytes: 65535 });
    try {
      yield { i, msg: parseMessage(data) };
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      if (err.partial !== undefined) yield { i, msg: err.partial };
    }
  }
}
