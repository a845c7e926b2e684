import { setImmediate as nextTurn } from 'node:timers/promises';
import { emptyReads, type ParserAdapter } from './adapter.js';
import type { BenchMessage, MessageReads } from './messages.js';

export interface Rejection {
  message: string;
  reason: string;
}

export interface Validation {
  accepted: BenchMessage[];
  rejected: Rejection[];
}

const READ_FIELDS: ReadonlyArray<keyof MessageReads> = [
  'branch',
  'cseqSeq',
  'cseqMethod',
  'callId',
  'fromTag',
  'userAgent',
];

/**
 * Parses and reads every message of the mix once, comparing the reads with the expected
 * values. A message that throws or reads wrong is rejected, with the reason.
 */
export function validate(adapter: ParserAdapter<unknown>, mix: readonly BenchMessage[]): Validation {
  const accepted: BenchMessage[] = [];
  const rejected: Rejection[] = [];
  for (const message of mix) {
    const out = emptyReads();
    try {
      adapter.read(adapter.parse(message.raw), out);
    } catch (err) {
      const reason = err instanceof Error ? `threw ${err.constructor.name}: ${err.message}` : `threw ${String(err)}`;
      rejected.push({ message: message.name, reason });
      continue;
    }
    const wrong = READ_FIELDS.filter((field) => out[field] !== message.expected[field]).map(
      (field) => `${field}=${JSON.stringify(out[field])} (expected ${JSON.stringify(message.expected[field])})`,
    );
    if (wrong.length > 0) rejected.push({ message: message.name, reason: `wrong reads: ${wrong.join(', ')}` });
    else accepted.push(message);
  }
  return { accepted, rejected };
}

/**
 * Folds the reads into a number. Every parser's loop feeds its checksum into `sink`, so
 * neither the parse nor the reads can be optimised away, and the folding costs every parser
 * the same.
 */
function fold(reads: MessageReads): number {
  return (
    reads.cseqSeq +
    reads.cseqMethod.length +
    reads.callId.length +
    (reads.branch?.length ?? 0) +
    (reads.fromTag?.length ?? 0) +
    (reads.userAgent?.length ?? 0)
  );
}

let sink = 0;

/** A value derived from everything the timed loops read; print it so it stays live. */
export function checksum(): number {
  return sink;
}

export interface Throughput {
  messages: number;
  seconds: number;
}

/**
 * Parses and reads `iterations` datagrams, cycling through `datagrams`, and stops early
 * once `maxSeconds` have passed (checked every 1024 messages).
 */
export function measureThroughput<M>(
  adapter: ParserAdapter<M>,
  datagrams: readonly Buffer[],
  iterations: number,
  maxSeconds: number,
): Throughput {
  const out = emptyReads();
  const count = datagrams.length;
  let acc = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + maxSeconds * 1000;
  let done = 0;
  while (done < iterations) {
    const message = adapter.parse(datagrams[next]!);
    adapter.read(message, out);
    acc += fold(out);
    if (++next === count) next = 0;
    if ((++done & 1023) === 0 && performance.now() > deadline) break;
  }
  const seconds = (performance.now() - start) / 1000;
  sink = (sink + acc) % 0x7fffffff;
  return { messages: done, seconds };
}

type Gc = () => void;

export function gcFunction(): Gc | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as Gc) : undefined;
}

async function settledMemory(gc: Gc): Promise<number> {
  // Two collections and a turn of the event loop, so that weak callbacks have run and
  // freed ArrayBuffer backing stores show up in `arrayBuffers`.
  gc();
  await nextTurn();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Bytes each parsed-and-read message keeps alive. Like a UDP socket, every message arrives in
 * its own freshly allocated Buffer, which the benchmark then drops: if a parser keeps
 * a reference to the datagram (or to a string decoded from it), that memory is counted
 * against it, in the JS heap or in ArrayBuffer memory.
 */
export async function measureRetainedBytes<M>(
  adapter: ParserAdapter<M>,
  datagrams: readonly Buffer[],
  count: number,
  gc: Gc,
): Promise<number> {
  const out = emptyReads();
  // Allocated before the baseline so its slots are not counted.
  const retained: unknown[] = new Array(count).fill(0);
  const before = await settledMemory(gc);
  for (let i = 0; i < count; i++) {
    const source = datagrams[i % datagrams.length]!;
    const datagram = Buffer.from(new ArrayBuffer(source.length));
    source.copy(datagram);
    const message = adapter.parse(datagram);
    adapter.read(message, out);
    retained[i] = message;
  }
  const after = await settledMemory(gc);
  // Keep `retained` alive up to here.
  sink = (sink + retained.length) % 0x7fffffff;
  return (after - before) / count;
}
