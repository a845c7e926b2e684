import { SipParseError } from './errors.js';
import { DEFAULT_LIMITS, type ParseLimits } from './limits.js';

/** What a stream framer found: a whole message, or an RFC 5626 keep-alive. */
export type StreamFrame =
  | { kind: 'message'; data: Buffer }
  /**
   * CRLFCRLF from the peer (RFC 5626 4.4.1): `count` of them in a row, read in one pass. The
   * answer is a single CRLF (pong), at the receiver's discretion for a run.
   */
  | { kind: 'ping'; count: number }
  /** A lone CRLF from the peer: the answer to our ping. */
  | { kind: 'pong' };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const PONG: StreamFrame = Object.freeze({ kind: 'pong' });

/**
 * Cuts a TCP/TLS byte stream into SIP messages by Content-Length (mandatory on streams,
 * RFC 3261 18.3). Holds at most `maxMessageBytes` of incomplete data: a peer that sends
 * more without completing a message gets a SipParseError, and the connection should close
 * (the framer drops what it held). Work is linear in the bytes pushed, however the stream
 * is cut: data is appended into a buffer that grows by doubling, and a message's length is
 * computed once, when its headers are complete.
 */
export class StreamFramer {
  /** The unconsumed bytes are store[off, off + len). */
  private store: Buffer = EMPTY;
  private off = 0;
  private len = 0;
  /** Whether `store` was allocated here: only then may bytes past off + len be written. */
  private owned = false;
  /** Where to resume the search for the end of headers, relative to `off`. */
  private searchFrom = 0;
  /** Total length of the message at the front once its headers are complete, else -1. */
  private need = -1;

  constructor(private readonly limits: ParseLimits = DEFAULT_LIMITS) {}

  /** Bytes held that do not yet form a whole message. */
  get buffered(): number {
    return this.len;
  }

  push(chunk: Buffer): StreamFrame[] {
    this.append(chunk);
    try {
      return this.drain();
    } catch (err) {
      this.reset();
      throw err;
    }
  }

  private append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.len === 0) {
      // Nothing pending: frame straight out of the caller's chunk, without copying.
      this.store = chunk;
      this.off = 0;
      this.len = chunk.length;
      this.owned = false;
      return;
    }
    const end = this.off + this.len;
    if (this.owned && this.store.length - end >= chunk.length) {
      // Bytes past `end` were never handed out in a frame: safe to write.
      chunk.copy(this.store, end);
    } else {
      // Never compact in place: frames already returned may still point into the old store.
      const grown = Buffer.allocUnsafe(Math.max(2 * (this.len + chunk.length), 4096));
      this.store.copy(grown, 0, this.off, end);
      chunk.copy(grown, this.len);
      this.store = grown;
      this.off = 0;
      this.owned = true;
    }
    this.len += chunk.length;
  }

  private drain(): StreamFrame[] {
    const frames: StreamFrame[] = [];
    const max = this.limits.maxMessageBytes;
    while (this.len > 0) {
      if (this.need === -1 && this.store[this.off] === 0x0d) {
        // Keep-alives, read in place: a peer may send thousands of them in one chunk, so a
        // run of pings is skipped in one tight pass and becomes one frame.
        const s = this.store;
        const o = this.off;
        const n = this.len;
        if (n < 2) break;
        if (s[o + 1] !== 0x0a) throw new SipParseError('bad-start-line', 'Bad start line');
        let p = o;
        const last = o + n - 4;
        while (p <= last && s[p] === 0x0d && s[p + 1] === 0x0a && s[p + 2] === 0x0d && s[p + 3] === 0x0a) p += 4;
        if (p > o) {
          frames.push({ kind: 'ping', count: (p - o) >> 2 });
          this.consume(p - o);
        } else if (n === 2 || (n === 3 && s[o + 2] === 0x0d)) {
          break; // may still become a ping
        } else {
          frames.push(PONG);
          this.consume(2);
        }
        continue;
      }
      const buf = this.store.subarray(this.off, this.off + this.len);
      if (this.need === -1) {
        const blank = buf.indexOf(CRLFCRLF, this.searchFrom);
        // The same limit, checked the same way, however the stream was cut: before the
        // headers are looked at, so the error does not depend on the chunking.
        if (blank === -1 ? buf.length > max : blank + 4 > max) throw tooLarge();
        if (blank === -1) {
          this.searchFrom = Math.max(0, buf.length - 3);
          break;
        }
        const total = blank + 4 + contentLengthOf(buf, blank);
        if (total > max) throw tooLarge();
        this.need = total;
      }
      if (buf.length < this.need) break; // headers complete; wait for the body
      frames.push({ kind: 'message', data: buf.subarray(0, this.need) });
      this.consume(this.need);
    }
    return frames;
  }

  private consume(n: number): void {
    this.off += n;
    this.len -= n;
    this.searchFrom = 0;
    this.need = -1;
    if (this.len === 0) {
      this.store = EMPTY;
      this.off = 0;
      this.owned = false;
    } else if (this.len < 1024 && this.off > 65536) {
      // Do not keep a large buffer alive for a few leftover bytes.
      this.store = Buffer.from(this.store.subarray(this.off, this.off + this.len));
      this.off = 0;
      this.owned = false;
    }
  }

  private reset(): void {
    this.store = EMPTY;
    this.off = 0;
    this.len = 0;
    this.owned = false;
    this.searchFrom = 0;
    this.need = -1;
  }
}

function tooLarge(): SipParseError {
  return new SipParseError('too-large', 'Message Too Large');
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
