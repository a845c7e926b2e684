import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_LIMITS,
  parseMessage,
  SipParseError,
  type SipParseErrorCode,
  type StreamFrame,
  StreamFramer,
} from '../../src/index.js';
import { request, response } from '../helpers/messages.js';

const A = request({ 'Call-ID': 'a@example.com' }, { body: 'first body' });
const B = response({ 'Call-ID': 'b@example.com' });
const C = request({ 'Call-ID': 'c@example.com', l: '5' }, { body: 'ccccc' });

function messages(frames: StreamFrame[]): Buffer[] {
  return frames.flatMap((f) => (f.kind === 'message' ? [f.data] : []));
}

function pushAll(framer: StreamFramer, chunks: Buffer[]): StreamFrame[] {
  return chunks.flatMap((c) => framer.push(c));
}

function bytes(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

function framingError(chunks: Buffer[], limits = DEFAULT_LIMITS): { err: SipParseError; framer: StreamFramer } {
  const framer = new StreamFramer(limits);
  for (const c of chunks) {
    try {
      framer.push(c);
    } catch (err) {
      assert.ok(err instanceof SipParseError, `threw ${String(err)}`);
      return { err, framer };
    }
    assert.ok(framer.buffered <= limits.maxMessageBytes, 'never holds more than the limit');
  }
  assert.fail('no framing error');
}

function expectError(chunks: Buffer[], code: SipParseErrorCode, limits = DEFAULT_LIMITS): void {
  const { err, framer } = framingError(chunks, limits);
  assert.equal(err.code, code, err.reason);
  assert.equal(framer.buffered, 0, 'a failed framer lets go of what it held');
}

describe('StreamFramer', () => {
  it('frames one message pushed one byte at a time', () => {
    const framer = new StreamFramer();
    const chunks = bytes(A, 1);
    const last = chunks.pop()!;
    for (const [i, c] of chunks.entries()) {
      assert.deepEqual(framer.push(c), [], `nothing before the last byte (byte ${i})`);
      assert.equal(framer.buffered, i + 1);
    }
    const frames = framer.push(last);
    assert.equal(frames.length, 1);
    assert.ok(messages(frames)[0]!.equals(A));
    assert.equal(framer.buffered, 0);
  });

  it('frames several messages from one chunk, in order', () => {
    const framer = new StreamFramer();
    const frames = framer.push(Buffer.concat([A, B, C]));
    const got = messages(frames);
    assert.equal(got.length, 3);
    assert.ok(got[0]!.equals(A) && got[1]!.equals(B) && got[2]!.equals(C));
    assert.equal(parseMessage(got[2]!, { requireContentLength: true }).body.toString(), 'ccccc', 'compact l: is read');
  });

  it('waits for a body split across chunks', () => {
    const framer = new StreamFramer();
    const split = A.length - 4;
    assert.deepEqual(framer.push(A.subarray(0, split)), [], 'headers complete, body not');
    assert.equal(framer.buffered, split);
    assert.deepEqual(framer.push(A.subarray(split, split + 2)), []);
    const frames = framer.push(Buffer.concat([A.subarray(split + 2), B.subarray(0, 10)]));
    assert.ok(messages(frames)[0]!.equals(A));
    assert.equal(framer.buffered, 10, 'the start of the next message is kept');
    assert.ok(messages(framer.push(B.subarray(10)))[0]!.equals(B));
  });

  it('gives the same frames however the stream is cut', () => {
    const stream = Buffer.concat([A, Buffer.from('\r\n\r\n'), B, Buffer.from('\r\n'), C]);
    const whole = new StreamFramer().push(stream);
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const cut = pushAll(new StreamFramer(), bytes(stream, size));
      assert.deepEqual(cut, whole, `chunks of ${size}`);
    }
    assert.deepEqual(
      whole.map((f) => f.kind),
      ['message', 'ping', 'message', 'pong', 'message'],
    );
  });

  it('keeps returned frames intact while buffering more data', () => {
    const framer = new StreamFramer();
    // Force the framer to copy into its own buffer, then frame out of it.
    framer.push(A.subarray(0, 10));
    const frames = framer.push(Buffer.concat([A.subarray(10), B.subarray(0, 20)]));
    const first = messages(frames)[0]!;
    const copy = Buffer.from(first);
    framer.push(B.subarray(20, 30));
    assert.deepEqual(framer.push(Buffer.alloc(3000, 0x5a)), [], 'garbage in the headers of B');
    assert.ok(first.equals(copy), 'a frame is never overwritten');
  });

  it('answers keep-alives: CRLFCRLF is a ping, a lone CRLF a pong (RFC 5626)', () => {
    assert.deepEqual(new StreamFramer().push(Buffer.from('\r\n\r\n')), [{ kind: 'ping', count: 1 }]);
    assert.deepEqual(new StreamFramer().push(Buffer.from('\r\n\r\n\r\n\r\n')), [{ kind: 'ping', count: 2 }]);
    const framer = new StreamFramer();
    assert.deepEqual(framer.push(Buffer.from('\r\n')), [], 'a CRLF may still become a ping');
    assert.deepEqual(framer.push(Buffer.from('\r')), []);
    assert.deepEqual(framer.push(Buffer.from('\n')), [{ kind: 'ping', count: 1 }]);
    const pong = new StreamFramer();
    assert.deepEqual(pong.push(Buffer.from('\r\n')), []);
    const frames = pong.push(A);
    assert.deepEqual(
      frames.map((f) => f.kind),
      ['pong', 'message'],
    );
  });

  it('reads a run of keep-alives as one frame, however long', () => {
    const run = Buffer.from('\r\n\r\n'.repeat(262_144)); // 1 MiB of pings
    assert.deepEqual(new StreamFramer().push(run), [{ kind: 'ping', count: 262_144 }]);
    const framer = new StreamFramer();
    assert.deepEqual(framer.push(Buffer.concat([run.subarray(0, 4002), A.subarray(0, 5)])), [
      { kind: 'ping', count: 1000 },
      { kind: 'pong' },
    ]);
    assert.deepEqual(
      framer.push(A.subarray(5)).map((f) => f.kind),
      ['message'],
    );
    const partial = new StreamFramer();
    assert.deepEqual(partial.push(Buffer.from('\r\n\r\n\r\n')), [{ kind: 'ping', count: 1 }]);
    assert.equal(partial.buffered, 2, 'a trailing CRLF waits: it may still become a ping');
    assert.deepEqual(partial.push(Buffer.from('\r\n\r\n\r\n')), [{ kind: 'ping', count: 2 }]);
  });

  it('rejects a missing Content-Length (mandatory on streams)', () => {
    expectError([request({}, { contentLength: false })], 'missing-header');
  });

  it('rejects two Content-Length headers, and bad values', () => {
    expectError([request({ 'Content-Length': '0', l: '0' })], 'bad-content-length');
    expectError([request({ 'Content-Length': 'ten' })], 'bad-content-length');
    expectError([request({ 'Content-Length': '-1' })], 'bad-content-length');
    expectError([request({ 'Content-Length': '' })], 'bad-content-length');
  });

  it('rejects a CR that does not start a CRLF between messages', () => {
    expectError([Buffer.from('\rX')], 'bad-start-line');
    expectError([A, Buffer.from('\r\r\n')], 'bad-start-line');
  });

  it('rejects a Content-Length beyond the limit before the body arrives', () => {
    const limits = { ...DEFAULT_LIMITS, maxMessageBytes: 1000 };
    expectError([request({ 'Content-Length': '5000' })], 'too-large', limits);
  });

  it('stops buffering at the limit: too-large, never holding more', () => {
    const limits = { ...DEFAULT_LIMITS, maxMessageBytes: 4096 };
    const endless = Buffer.concat([Buffer.from('OPTIONS sip:a@example.com SIP/2.0\r\n'), Buffer.alloc(10000, 0x61)]);
    for (const size of [1, 100, 4096, 10000]) {
      const { err, framer } = framingError(bytes(endless, size), limits);
      assert.equal(err.code, 'too-large');
      assert.equal(framer.buffered, 0);
    }
  });

  it('gives the same error however an over-long header block is cut', () => {
    const limits = { ...DEFAULT_LIMITS, maxMessageBytes: 512 };
    // No Content-Length and headers beyond the limit: too-large, whether or not the empty
    // line has arrived when the limit is crossed.
    const data = request({ 'X-Pad': 'p'.repeat(600) }, { contentLength: false });
    for (const size of [1, 50, data.length]) expectError(bytes(data, size), 'too-large', limits);
  });

  it('frames a message exactly at the limit', () => {
    const limits = { ...DEFAULT_LIMITS, maxMessageBytes: A.length };
    assert.ok(messages(new StreamFramer(limits).push(A))[0]!.equals(A));
    expectError([A], 'too-large', { ...limits, maxMessageBytes: A.length - 1 });
  });

  it('stays linear with tiny chunks', () => {
    const big = request({}, { body: 'x'.repeat(60000) });
    const t0 = performance.now();
    const frames = pushAll(new StreamFramer(), bytes(big, 1));
    const ms = performance.now() - t0;
    assert.equal(messages(frames).length, 1);
    assert.ok(ms < 1000, `${big.length} one-byte pushes took ${ms.toFixed(0)} ms`);
  });
});
