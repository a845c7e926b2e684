import { isToken } from './chars.js';
import { SipParseError } from './errors.js';
import { H } from './header-names.js';
import type { SipMessage } from './message.js';
import { firstElementEnd } from './split.js';

/**
 * Builds the bytes of a forwarded message from a parsed one. Headers that are not touched
 * are copied byte for byte (folding, spacing and compact names included); headers can be
 * inserted, replaced or removed; Content-Length is rewritten in bytes when the body changes.
 */
export class MessageWriter {
  private startLine: string | undefined;
  private readonly top: string[] = [];
  private readonly bottom: string[] = [];
  /** Per header number: replacement line (without CRLF), or null to remove. */
  private readonly replaced = new Map<number, string | null>();
  /** Per header number: lines to insert before it. */
  private readonly before = new Map<number, string[]>();
  private body: Buffer | undefined;
  private forceContentLength = false;

  constructor(readonly msg: SipMessage) {}

  /** Replaces the whole start line (without CRLF). */
  setStartLine(line: string): this {
    if (hasCrLf(line)) throw new SipParseError('bad-start-line', 'Bad start line');
    this.startLine = line;
    return this;
  }

  /** Replaces the Request-URI of a request. */
  setRequestUri(uri: string): this {
    return this.setStartLine(`${this.msg.method} ${uri} SIP/2.0`);
  }

  /** Inserts a header above all others. Repeated calls keep their order. */
  prepend(name: string, value: string): this {
    this.top.push(headerLine(name, value));
    return this;
  }

  /** Inserts a header below all others. */
  append(name: string, value: string): this {
    this.bottom.push(headerLine(name, value));
    return this;
  }

  /** Inserts a header just before header number `k` (or at the bottom when k is -1). */
  insertBefore(k: number, name: string, value: string): this {
    if (k < 0) return this.append(name, value);
    const line = headerLine(name, value);
    const list = this.before.get(k);
    if (list === undefined) this.before.set(k, [line]);
    else list.push(line);
    return this;
  }

  /** Replaces the value of header number `k`, keeping its name as written. */
  replace(k: number, value: string): this {
    const name = this.msg.headerNameAt(k);
    this.replaced.set(k, headerLine(name, value));
    return this;
  }

  remove(k: number): this {
    this.replaced.set(k, null);
    return this;
  }

  /** Removes every header with this id (see header-names.ts) or name. */
  removeAll(name: string): this {
    for (let k = this.msg.findHeader(name); k !== -1; k = this.msg.findHeader(name, k + 1)) this.remove(k);
    return this;
  }

  /**
   * Removes the first element of a list header line (the top Via of a response, the top
   * Route of a request): the whole line if it held one element, else the rest stays.
   */
  removeFirstElement(k: number): this {
    const value = this.msg.headerValueAt(k);
    const cut = firstElementEnd(value);
    if (cut >= value.length) return this.remove(k);
    return this.replace(k, value.slice(cut + 1).trimStart());
  }

  setBody(body: Buffer | string): this {
    this.body = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    return this;
  }

  /**
   * Writes a Content-Length of sipwarden's own, `Content-Length: N` in canonical form, even if
   * the body is unchanged: on a stream the next hop frames by it, so the client's own line
   * (compact, folded, padded) is never copied onto a shared connection.
   */
  ensureContentLength(): this {
    this.forceContentLength = true;
    return this;
  }

  toBuffer(): Buffer {
    const msg = this.msg;
    const src = msg.buf;
    const body = this.body ?? msg.body;
    const rewriteLength = this.body !== undefined || this.forceContentLength;
    const clAt = msg.contentLengthAt;
    const lengthLine = `${clAt === -1 || this.forceContentLength ? 'Content-Length' : msg.headerNameAt(clAt)}: ${body.length}`;

    // Pieces: strings are whole lines without CRLF; numbers are [start, end) ranges of src.
    const lines: string[] = [];
    const ranges: number[] = [];
    const order: number[] = []; // >= 0: index into lines; < 0: -(range pair index) - 1
    const addLine = (l: string) => {
      order.push(lines.length);
      lines.push(l);
    };
    const addRange = (a: number, b: number) => {
      const n = ranges.length;
      if (n > 0 && ranges[n - 1] === a && order[order.length - 1]! < 0) {
        ranges[n - 1] = b; // extend the previous range: untouched headers are copied in one go
        return;
      }
      order.push(-(n >> 1) - 1);
      ranges.push(a, b);
    };

    if (this.startLine === undefined) addRange(msg.start, msg.headersStart);
    else addLine(this.startLine);
    for (const l of this.top) addLine(l);
    const count = msg.headerCount;
    for (let k = 0; k < count; k++) {
      const ins = this.before.get(k);
      if (ins !== undefined) for (const l of ins) addLine(l);
      if (rewriteLength && msg.headerIdAt(k) === H.ContentLength) {
        addLine(lengthLine);
        continue;
      }
      const r = this.replaced.get(k);
      if (r === undefined) addRange(msg.headerStartAt(k), msg.headerEndAt(k));
      else if (r !== null) addLine(r);
    }
    for (const l of this.bottom) addLine(l);
    if ((rewriteLength || this.forceContentLength) && clAt === -1) addLine(lengthLine);

    let total = 2 + body.length;
    for (let i = 0; i < order.length; i++) {
      const o = order[i]!;
      if (o >= 0) total += Buffer.byteLength(lines[o]!, 'utf8') + 2;
      else total += ranges[(-o - 1) * 2 + 1]! - ranges[(-o - 1) * 2]!;
    }
    const out = Buffer.allocUnsafe(total);
    let w = 0;
    for (let i = 0; i < order.length; i++) {
      const o = order[i]!;
      if (o >= 0) {
        w += out.write(lines[o]!, w, 'utf8');
        out[w++] = 0x0d;
        out[w++] = 0x0a;
      } else {
        const a = ranges[(-o - 1) * 2]!;
        const b = ranges[(-o - 1) * 2 + 1]!;
        w += src.copy(out, w, a, b);
      }
    }
    out[w++] = 0x0d;
    out[w++] = 0x0a;
    body.copy(out, w);
    return out;
  }
}

/**
 * Header injection guard: a name must be a token, and no text written may hold CR or LF,
 * so a value copied from a malformed message can never end the header block early and
 * smuggle what follows to the next hop. Thrown as SipParseError, the only error of the
 * message layer: a proxy handles it like the malformed message it came from.
 */
function headerLine(name: string, value: string): string {
  if (!isToken(name)) throw new SipParseError('bad-header-name', 'Bad header');
  if (hasCrLf(value)) throw new SipParseError('bad-header', `Bad ${name} value`, name);
  return `${name}: ${value}`;
}

function hasCrLf(text: string): boolean {
  return text.indexOf('\r') !== -1 || text.indexOf('\n') !== -1;
}
