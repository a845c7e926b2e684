import { SipParseError } from './errors.js';
import { DEFAULT_LIMITS, type ParseLimits } from './limits.js';

/** What a stream framer found: a whole message, or an RFC 5626 keep-alive. */
export type StreamFrame =
  | { kind: 'message'; data: Buffer }
  /** CRLFCRLF from the peer: answer with a single CRLF (pong). */
  | { kind: 'ping' }
  /** A lone CRLF from the peer: the answer to our ping. */
  | { kind: 'pong' };

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Cuts a TCP/TLS byte stream into SIP messages by Content-Length (mandatory on streams,
 * RFC 3261 18.3). Holds at most `maxMessageBytes` of incomplete data: a peer that sends
 * more without completing a message gets a SipParseError, and the connection should close.
 */
export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  /** Where to resume the search for the end of headers in `pending`. */
  private searchFrom = 0;

  constructor(private readonly limits: ParseLimits = DEFAULT_LIMITS) {}

  /** Bytes held that do not yet form a whole message. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): StreamFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: StreamFrame[] = [];
    for (;;) {
      const buf = this.pending;
      if (buf.length === 0) break;
      if (buf[0] === 0x0d) {
        if (buf.length < 2) break;
        if (buf[1] !== 0x0a) throw new SipParseError('bad-start-line', 'Bad start line');
        if (buf.length >= 4 && buf[2] === 0x0d && buf[3] === 0x0a) {
          frames.push({ kind: 'ping' });
          this.consume(4);
          continue;
        }
        if (buf.length === 2 || (buf.length === 3 && buf[2] === 0x0d)) break; // may still become a ping
        frames.push({ kind: 'pong' });
        this.consume(2);
        continue;
      }
      const blank = buf.indexOf(CRLFCRLF, this.searchFrom);
      if (blank === -1) {
        if (buf.length > this.limits.maxMessageBytes) throw new SipParseError('too-large', 'Message Too Large');
        this.searchFrom = Math.max(0, buf.length - 3);
        break;
      }
      const bodyStart = blank + 4;
      const total = bodyStart + contentLengthOf(buf, blank);
      if (total > this.limits.maxMessageBytes) throw new SipParseError('too-large', 'Message Too Large');
      if (buf.length < total) {
        this.searchFrom = blank; // headers complete; wait for the body
        break;
      }
      frames.push({ kind: 'message', data: buf.subarray(0, total) });
      this.consume(total);
    }
    return frames;
  }

  private consume(n: number): void {
    this.pending = this.pending.subarray(n);
    this.searchFrom = 0;
    // Do not keep a large chunk alive for a few leftover bytes.
    if (this.pending.length > 0 && this.pending.length < 1024 && this.pending.byteOffset > 65536) {
      this.pending = Buffer.from(this.pending);
    }
  }
}

/**
 * Finds Content-Length (or compact `l`) in the header block buf[0, blank) and returns its
 * value. Missing, repeated or non-numeric values are framing errors on a stream.
 */
function contentLengthOf(buf: Buffer, blank: number): number {
  let found = -1;
  let line = buf.indexOf(0x0a) + 1; // skip the start line
  while (line > 0 && line < blank + 2) {
    const eol = buf.indexOf(0x0a, line);
    const nameEnd = matchContentLengthName(buf, line);
    if (nameEnd !== -1) {
      if (found !== -1) throw new SipParseError('bad-content-length', 'Multiple Content-Length', 'Content-Length');
      found = readNumber(buf, nameEnd, eol - 1);
    }
    line = eol + 1;
  }
  if (found === -1) throw new SipParseError('missing-header', 'Missing Content-Length', 'Content-Length');
  return found;
}

const CONTENT_LENGTH = Buffer.from('content-length');

/** If the line at `p` is a Content-Length header, returns the offset just after its colon. */
function matchContentLengthName(buf: Buffer, p: number): number {
  let i = p;
  if ((buf[p]! | 0x20) === 0x6c && (buf[p + 1] === 0x3a || buf[p + 1] === 0x20 || buf[p + 1] === 0x09)) {
    i = p + 1;
  } else {
    for (let k = 0; k < CONTENT_LENGTH.length; k++) if ((buf[p + k]! | 0x20) !== CONTENT_LENGTH[k]) return -1;
    i = p + CONTENT_LENGTH.length;
  }
  while (buf[i] === 0x20 || buf[i] === 0x09) i++;
  return buf[i] === 0x3a ? i + 1 : -1;
}

function readNumber(buf: Buffer, a: number, b: number): number {
  while (a < b && (buf[a] === 0x20 || buf[a] === 0x09)) a++;
  while (b > a && (buf[b - 1] === 0x20 || buf[b - 1] === 0x09 || buf[b - 1] === 0x0d)) b--;
  if (a === b || b - a > 10) throw new SipParseError('bad-content-length', 'Bad Content-Length', 'Content-Length');
  let n = 0;
  for (let k = a; k < b; k++) {
    const d = buf[k]! - 0x30;
    if (d < 0 || d > 9) throw new SipParseError('bad-content-length', 'Bad Content-Length', 'Content-Length');
    n = n * 10 + d;
  }
  return n;
}
