import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, isLogLevel, sanitize, setLevel } from '../../src/log/index.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; raw: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    raw: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes one JSON object per line with a level label and an ISO time', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.stream });
    log.info({ url: 'udp://0.0.0.0:5060' }, 'listening');
    log.debug('not written');
    log.warn('careful');
    const lines = out.lines();
    assert.equal(lines.length, 2);
    assert.deepEqual(Object.keys(lines[0]!), ['level', 'time', 'url', 'msg']);
    assert.equal(lines[0]!.level, 'info');
    assert.equal(lines[0]!.msg, 'listening');
    assert.match(String(lines[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(lines[1]!.level, 'warn');
  });

  it('keeps attacker text on its line', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    const evil = 'friendly-scanner\n{"level":"info","msg":"forged"}\r\u2028\u2029\u0000';
    log.warn({ userAgent: evil }, 'scanner');
    const raw = out.raw();
    assert.equal(raw.split('\n').length, 2); // one line and the final newline
    assert.ok(!raw.includes('\u2028') && !raw.includes('\u2029'));
    assert.equal(out.lines()[0]!.userAgent, evil);
  });

  it('redacts secrets', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    log.info({ secret: 's3cret', config: { secret: 's3cret', token: 't', keep: 1 } }, 'config');
    const [line] = out.lines();
    assert.equal(line!.secret, '[redacted]');
    assert.deepEqual(line!.config, { secret: '[redacted]', token: '[redacted]', keep: 1 });
    assert.ok(!out.raw().includes('s3cret'));
  });

  it('writes bindings on every line', () => {
    const out = capture();
    createLogger({ destination: out.stream, bindings: { node: 'edge-1' } }).info('x');
    assert.equal(out.lines()[0]!.node, 'edge-1');
  });

  it('changes the level at runtime, for children too', () => {
    const out = capture();
    const root = createLogger({ level: 'info', destination: out.stream });
    const child = root.child({ module: 'proxy' });
    const grandchild = child.child({ conn: 7 });
    grandchild.debug('hidden');
    setLevel(root, 'debug');
    grandchild.debug('shown');
    child.trace('hidden');
    setLevel(grandchild, 'trace'); // through any member of the family
    child.trace('shown');
    const late = root.child({ module: 'late' });
    late.trace('shown');
    setLevel(root, 'error');
    root.warn('hidden');
    child.warn('hidden');
    grandchild.warn('hidden');
    late.warn('hidden');
    assert.deepEqual(
      out.lines().map((l) => [l.level, l.msg, l.module, l.conn]),
      [
        ['debug', 'shown', 'proxy', 7],
        ['trace', 'shown', 'proxy', undefined],
        ['trace', 'shown', 'late', undefined],
      ],
    );
    setLevel(root, 'silent');
    root.fatal('hidden');
    assert.equal(out.lines().length, 3);
  });

  it('refuses unknown levels', () => {
    assert.throws(() => createLogger({ level: 'loud' as 'info' }), /unknown log level "loud"/);
    const log = createLogger({ destination: capture().stream });
    assert.throws(() => setLevel(log, 'verbose' as 'info'), /unknown log level "verbose"/);
    assert.ok(isLogLevel('fatal') && !isLogLevel('silent') && !isLogLevel(3));
  });
});

describe('sanitize', () => {
  it('keeps clean text as it is', () => {
    const text = 'friendly-scanner/1.0 (Ünïcødé ok, 中文, emoji 😀)';
    assert.equal(sanitize(text), text);
    assert.equal(sanitize(''), '');
  });

  it('escapes C0, DEL, C1, line/paragraph separators, bidi controls and backslashes', () => {
    assert.equal(sanitize('a\nb\rc\td\u0000e\u001b[31m'), 'a\\x0ab\\x0dc\\x09d\\x00e\\x1b[31m');
    assert.equal(sanitize('del\u007f c1\u0080\u0085\u009f'), 'del\\x7f c1\\x80\\x85\\x9f');
    assert.equal(sanitize('ls\u2028ps\u2029'), 'ls\\u2028ps\\u2029');
    assert.equal(
      sanitize('user\u202Egnp.exe\u2066x\u2069\u200e\u200f'),
      'user\\u202egnp.exe\\u2066x\\u2069\\u200e\\u200f',
    );
    assert.equal(sanitize('C:\\path \\x0a'), 'C:\\\\path \\\\x0a');
    assert.equal(sanitize('lone \ud800 and \udc00'), 'lone \\ud800 and \\udc00');
  });

  it('never leaves a character that could end or fake a line', () => {
    let all = '';
    for (let c = 0; c < 0x3000; c++) all += String.fromCharCode(c);
    const out = sanitize(all, 1_000_000);
    assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(out));
  });

  it('truncates with an ellipsis, within maxLen, without splitting escapes or pairs', () => {
    assert.equal(sanitize('abcdef', 6), 'abcdef');
    assert.equal(sanitize('abcdefg', 6), 'abcde…');
    assert.equal(sanitize('abcd\nef', 6), 'abcd…');
    assert.equal(sanitize('ab\ncdef', 8), 'ab\\x0ac…');
    assert.equal(sanitize('abcd😀', 6), 'abcd😀');
    assert.equal(sanitize('abcd😀x', 6), 'abcd…');
    assert.equal(sanitize('x'.repeat(1000)).length, 256);
    assert.ok(sanitize('x'.repeat(1000)).endsWith('…'));
    assert.equal(sanitize('\n'.repeat(1000), 10), `${'\\x0a'.repeat(2)}…`);
    assert.equal(sanitize('abc', 1), '…');
    assert.throws(() => sanitize('x', 0), RangeError);
  });

  it('does work bounded by maxLen on huge input', () => {
    const huge = '\n'.repeat(20_000_000);
    const start = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) sanitize(huge, 64);
    assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 500);
  });
});
