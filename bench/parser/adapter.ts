import type { MessageReads } from './messages.js';

/**
 * One parser under test. `parse` takes the datagram exactly as a UDP socket delivers it (a
 * Buffer), so any decoding a parser needs is part of its cost. `read` extracts the benchmark
 * fields through the parser's own public accessors, writing them into `out` so the timed
 * loop allocates nothing of its own.
 *
 * Methods, not function-typed properties: method parameters are bivariant, which lets
 * adapters with different message types share one list.
 */
export interface ParserAdapter<M> {
  /** Short name used in the table and by `--only`. */
  readonly name: string;
  readonly version: string;
  /** How the parser is invoked, for the report. */
  readonly invocation: string;
  /** The project's own parser, as opposed to a competitor. */
  readonly isSipwarden: boolean;
  parse(datagram: Buffer): M;
  read(message: M, out: MessageReads): void;
}

export function emptyReads(): MessageReads {
  return {
    branch: undefined,
    cseqSeq: 0,
    cseqMethod: '',
    callId: '',
    fromTag: undefined,
    userAgent: undefined,
  };
}
