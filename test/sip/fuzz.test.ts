import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_LIMITS,
  MessageWriter,
  type ParseLimits,
  parseMessage,
  type SipMessage,
  SipParseError,
  type SipParseErrorCode,
  type StreamFrame,
  StreamFramer,
  type Via,
  validateMessage,
} from '../../src/index.js';
import { loadCorpus } from '../helpers/corpus.js';
import {
  caseSeed,
  fuzzCases,
  fuzzOnlyCase,
  fuzzSeed,
  type MutateContext,
  mutate,
  Rng,
  randomChunks,
  show,
} from '../helpers/fuzz.js';
import { EXTRA_SEEDS } from '../helpers/messages.js';

/**
 * Mutation fuzzing of the parser, the typed accessors, the writer and the stream framer.
 *
 *   SIPWARDEN_FUZZ_SEED=<n>     run seed (default: random, printed)
 *   SIPWARDEN_FUZZ_CASES=<n>    number of cases (default 100000)
 *   SIPWARDEN_FUZZ_CASE=<n>     replay a single case of the given seed
 *   SIPWARDEN_FUZZ_MAX_MS=<n>   per-case time bound (default 50)
 */
const SEED = fuzzSeed();
const ONLY = fuzzOnlyCase();
const CASES = fuzzCases(100_000);
const MAX_CASE_MS = Number(process.env.SIPWARDEN_FUZZ_MAX_MS ?? 50);
/** One case in this many also runs a stream through the framer. */
const FRAMER_EVERY = 8;

const LIMITS: ParseLimits = DEFAULT_LIMITS;
/** Room for the headers the writer checks add. */
const RELAXED: ParseLimits = {
  maxMessageBytes: LIMITS.maxMessageBytes + 1024,
  maxHeaders: LIMITS.maxHeaders + 4,
  maxHeaderBytes: LIMITS.maxHeaderBytes + 256,
  maxListEntries: LIMITS.maxListEntries + 4,
};

const CODES: ReadonlySet<SipParseErrorCode> = new Set<SipParseErrorCode>([
  'empty',
  'too-large',
  'incomplete',
  'bad-start-line',
  'bad-version',
  'bad-method',
  'bad-status',
  'bad-request-uri',
  'bad-header-name',
  'header-too-long',
  'too-many-headers',
  'too-many-entries',
  'missing-header',
  'duplicate-header',
  'bad-header',
  'bad-content-length',
  'body-too-short',
  'cseq-mismatch',
]);

const seeds: Buffer[] = [...loadCorpus().map((e) => e.data), ...EXTRA_SEEDS];
const ctx: MutateContext = { seeds, maxMessageBytes: LIMITS.maxMessageBytes };

/** Values holding CR or LF after decoding (there must be none: a trailing fold is trimmed). */
let valuesWithCrLf = 0;
let valuesWithCrLfExample = '';

function expectSipError(err: unknown, where: string): SipParseError {
  if (!(err instanceof SipParseError)) {
    throw new Error(`${where}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`, {
      cause: err,
    });
  }
  assert.ok(CODES.has(err.code), `${where}: unknown error code ${err.code}`);
  assert.ok(/^[\x20-\x7e]+$/.test(err.reason), `${where}: reason not printable ASCII: ${JSON.stringify(err.reason)}`);
  return err;
}

/** Runs `f`; a SipParseError is an acceptable outcome, anything else fails the case. */
function attempt(where: string, f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    expectSipError(err, where);
    return false;
  }
}

function parse(data: Buffer, validate: 'essential' | 'full', requireContentLength = false): SipMessage | SipParseError {
  try {
    return parseMessage(data, { validate, requireContentLength });
  } catch (err) {
    return expectSipError(err, `parseMessage(${validate})`);
  }
}

function hasCrLf(s: string): boolean {
  return s.indexOf('\r') !== -1 || s.indexOf('\n') !== -1;
}

/** Everything a parsed message promises, checked on one message. */
function checkParsed(msg: SipMessage, data: Buffer): void {
  assert.ok(msg.start >= 0 && msg.start <= msg.headersStart && msg.headersStart <= msg.headersEnd, 'offsets');
  assert.ok(msg.bodyStart === msg.headersEnd + 2 && msg.bodyStart <= msg.end && msg.end <= data.length, 'bounds');
  assert.ok(msg.isRequest ? msg.method.length > 0 : msg.status >= 100 && msg.status <= 699, 'start line');

  // The writer with no edits reproduces the message byte for byte.
  const same = new MessageWriter(msg).toBuffer();
  assert.ok(same.equals(msg.raw), 'writer without edits must reproduce msg.raw');

  // Essentials were validated by the parser: they must not throw now, and they are cached.
  const top = msg.topVia;
  assert.equal(msg.topVia, top, 'topVia is cached');
  msg.callId;
  msg.cseq;
  msg.maxForwards;
  // From, To and the Request-URI are decoded on first use: they work or throw SipParseError.
  attempt('from', () => msg.from);
  attempt('to', () => msg.to);
  if (msg.isRequest) attempt('requestUri', () => msg.requestUri);

  // Other accessors either work or throw SipParseError.
  attempt('vias', () => msg.vias);
  attempt('contact', () => msg.contact);
  attempt('routes', () => msg.routes);
  attempt('recordRoutes', () => msg.recordRoutes);
  attempt('paths', () => msg.paths);
  attempt('authorization', () => msg.authorization);
  attempt('proxyAuthorization', () => msg.proxyAuthorization);
  attempt('wwwAuthenticate', () => msg.wwwAuthenticate);
  attempt('proxyAuthenticate', () => msg.proxyAuthenticate);
  attempt('authHeaders', () => msg.authHeaders('WWW-Authenticate'));
  attempt('expires', () => msg.expires);
  attempt('date', () => msg.date);
  attempt('headerValues', () => msg.headerValues('Supported'));

  let crlf = false;
  for (const [name, value] of msg.headers()) {
    if (hasCrLf(value)) {
      crlf = true;
      if (valuesWithCrLf++ === 0) valuesWithCrLfExample = `${name}: ${JSON.stringify(value)}`;
    }
  }
  if (crlf) return; // the writer refuses such values; see the known-issue test below

  // Forwarding edits: the result parses and shows the edits.
  const w = new MessageWriter(msg).prepend('Via', 'SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKfuzz;rport');
  if (msg.maxForwardsAt !== -1) w.replace(msg.maxForwardsAt, String(Math.max(0, (msg.maxForwards ?? 1) - 1)));
  const fwd = parseMessage(w.toBuffer(), { limits: RELAXED });
  assert.equal(fwd.topVia.branch, 'z9hG4bKfuzz', 'prepended Via is on top');
  assert.equal(fwd.callId, msg.callId);
  assert.deepEqual(fwd.cseq, msg.cseq);
  assert.ok(fwd.body.equals(msg.body), 'body kept');

  const body = 'é→ body';
  const withBody = parseMessage(new MessageWriter(msg).setBody(body).toBuffer(), { limits: RELAXED });
  assert.equal(withBody.contentLength, Buffer.byteLength(body), 'Content-Length in bytes');
  assert.equal(withBody.body.toString('utf8'), body);

  let vias: Via[] = [];
  attempt('vias', () => {
    vias = msg.vias;
  });
  if (vias.length >= 2) {
    const popped = parseMessage(new MessageWriter(msg).removeFirstElement(msg.viaAt).toBuffer(), { limits: RELAXED });
    assert.equal(popped.topVia.toString(), vias[1]!.toString(), 'removeFirstElement pops the top Via');
  }
}

/** One datagram: both validation modes, and their agreement. */
function checkDatagram(data: Buffer): void {
  const essential = parse(data, 'essential');
  const full = parse(data, 'full');
  if (!(full instanceof SipParseError)) {
    assert.ok(!(essential instanceof SipParseError), `full accepted what essential rejected (${String(essential)})`);
  }
  if (!(essential instanceof SipParseError)) {
    checkParsed(essential, data);
    // validateMessage on the lazily parsed message agrees with validate: 'full'.
    let late: SipParseError | undefined;
    try {
      validateMessage(parseMessage(data));
    } catch (err) {
      late = expectSipError(err, 'validateMessage');
    }
    assert.equal(late?.code, full instanceof SipParseError ? full.code : undefined, 'validateMessage = full');
  }
  if (!(full instanceof SipParseError)) checkParsed(full, data);
}

interface FramerOutcome {
  frames: StreamFrame[];
  error: string | undefined;
  buffered: number;
}

function runFramer(chunks: Buffer[]): FramerOutcome {
  const framer = new StreamFramer(LIMITS);
  const frames: StreamFrame[] = [];
  for (const chunk of chunks) {
    try {
      frames.push(...framer.push(chunk));
    } catch (err) {
      return { frames, error: expectSipError(err, 'StreamFramer.push').code, buffered: framer.buffered };
    }
    assert.ok(framer.buffered <= LIMITS.maxMessageBytes, `framer holds ${framer.buffered} bytes`);
  }
  return { frames, error: undefined, buffered: framer.buffered };
}

function frameKey(f: StreamFrame): string {
  return f.kind === 'message' ? `m:${f.data.toString('latin1')}` : f.kind;
}

/** A stream of several messages (mutated or not, pings between), framed whole and in random chunks. */
function checkStream(rng: Rng): void {
  const parts: Buffer[] = [];
  for (let n = rng.range(1, 4); n > 0; n--) {
    if (rng.chance(0.2)) parts.push(Buffer.from(rng.pick(['\r\n\r\n', '\r\n'])));
    let m = rng.pick(seeds);
    const msg = parse(m, 'essential');
    if (!(msg instanceof SipParseError)) m = new MessageWriter(msg).ensureContentLength().toBuffer();
    if (rng.chance(0.5)) m = mutate(rng, m, ctx).data;
    parts.push(m);
  }
  const stream = Buffer.concat(parts);
  try {
    checkFraming(rng, stream);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`stream: ${detail}\n  stream: ${show(stream)}`, { cause: err });
  }
}

function checkFraming(rng: Rng, stream: Buffer): void {
  const whole = runFramer([stream]);
  const chunked = runFramer(randomChunks(rng, stream));
  assert.equal(chunked.error, whole.error, 'same error however the stream is cut');
  if (whole.error === undefined) {
    assert.deepEqual(chunked.frames.map(frameKey), whole.frames.map(frameKey), 'same frames however the stream is cut');
    assert.equal(chunked.buffered, whole.buffered);
  }
  // A stream of tiny garbage frames can hold thousands; a few dozen make the point.
  for (const f of chunked.frames.filter((x) => x.kind === 'message').slice(0, 64)) {
    if (f.kind !== 'message') continue;
    const m = parse(f.data, 'essential', true);
    // Framer and parser must agree on where a message ends (no smuggling between them).
    if (!(m instanceof SipParseError)) {
      assert.equal(m.start, 0, 'frame starts with the start line');
      assert.equal(m.end, f.data.length, 'framer and parser agree on the message length');
    }
  }
}

function runCase(caseNo: number): { ops: string[]; data: Buffer } {
  const rng = new Rng(caseSeed(SEED, caseNo));
  const { data, ops } = mutate(rng, rng.pick(seeds), ctx);
  checkDatagram(data);
  if (caseNo % FRAMER_EVERY === 0) checkStream(rng);
  return { ops, data };
}

function timeCase(caseNo: number): number {
  const t0 = performance.now();
  runCase(caseNo);
  return performance.now() - t0;
}

describe('fuzz: mutated corpus messages', () => {
  it(`parser, accessors, writer and framer hold their promises (seed ${SEED})`, (t) => {
    const first = ONLY ?? 0;
    const last = ONLY === undefined ? CASES : ONLY + 1;
    t.diagnostic(
      `seed ${SEED}, cases ${first}..${last - 1}; reproduce: SIPWARDEN_FUZZ_SEED=${SEED} node --test dist/test/sip/fuzz.test.js`,
    );
    const caseFailed = (i: number, err: unknown): Error => {
      const rng = new Rng(caseSeed(SEED, i));
      const { ops, data } = mutate(rng, rng.pick(seeds), ctx);
      const detail = err instanceof Error ? err.message : String(err);
      return new Error(
        `fuzz case ${i} of seed ${SEED} failed: ${detail}\n  mutations: ${ops.join(', ')}\n  input: ${show(data)}\n  reproduce: SIPWARDEN_FUZZ_SEED=${SEED} SIPWARDEN_FUZZ_CASE=${i} node --test dist/test/sip/fuzz.test.js`,
        { cause: err },
      );
    };
    let maxMs = 0;
    let maxCase = -1;
    const slow: number[] = [];
    const started = performance.now();
    for (let i = first; i < last; i++) {
      let elapsed: number;
      try {
        elapsed = timeCase(i);
      } catch (err) {
        throw caseFailed(i, err);
      }
      if (elapsed > MAX_CASE_MS / 5) slow.push(i);
      else if (elapsed > maxMs) {
        maxMs = elapsed;
        maxCase = i;
      }
    }
    const total = performance.now() - started;
    // A slowish case is timed again once the code is warm, best of three: only a case that
    // is slow every time counts, not a cold JIT, a GC pause or a busy machine.
    let retimedMax = 0;
    let retimedCase = -1;
    for (const i of slow.slice(0, 200)) {
      const elapsed = Math.min(timeCase(i), timeCase(i), timeCase(i));
      if (elapsed > retimedMax) {
        retimedMax = elapsed;
        retimedCase = i;
      }
    }
    t.diagnostic(
      `${last - first} cases in ${(total / 1000).toFixed(1)} s; slowest case ${maxCase}: ${maxMs.toFixed(2)} ms; ` +
        `${slow.length} cases over ${MAX_CASE_MS / 5} ms timed again, slowest ${retimedCase}: ${retimedMax.toFixed(2)} ms`,
    );
    if (retimedMax > maxMs) {
      maxMs = retimedMax;
      maxCase = retimedCase;
    }
    assert.ok(
      maxMs <= MAX_CASE_MS,
      `case ${maxCase} of seed ${SEED} took ${maxMs.toFixed(1)} ms (bound ${MAX_CASE_MS} ms): super-linear work? reproduce: SIPWARDEN_FUZZ_SEED=${SEED} SIPWARDEN_FUZZ_CASE=${maxCase} node --test dist/test/sip/fuzz.test.js`,
    );
  });

  it('no decoded header value holds a raw CR or LF', () => {
    assert.equal(
      valuesWithCrLf,
      0,
      `${valuesWithCrLf} values with CR/LF, e.g. ${valuesWithCrLfExample} (seed ${SEED})`,
    );
  });
});
