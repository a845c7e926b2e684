import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORPUS_DIR, PROJECT_ROOT } from '../helpers/corpus.js';
import { request, response } from '../helpers/messages.js';

const BIN = join(PROJECT_ROOT, 'bin', 'sipwarden');

interface Run {
  status: number | null;
  lines: Array<Record<string, unknown>>;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a child process. */
function sipwarden(args: string[], input?: Buffer): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: PROJECT_ROOT,
    input,
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.error, undefined, String(r.error));
  const stdout = r.stdout;
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines, stdout, stderr: r.stderr };
}

const corpus = (file: string) => join(CORPUS_DIR, file);

describe('sipwarden check-message', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipwarden-cli-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a valid message and exits 0', () => {
    const r = sipwarden(['check-message', corpus('rfc4475/wsinv.dat')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.lines.length, 1);
    const m = r.lines[0]!;
    assert.equal(m.source, corpus('rfc4475/wsinv.dat'));
    assert.equal(m.ok, true);
    assert.equal(m.kind, 'request');
    assert.equal(m.method, 'INVITE');
    assert.equal(m.requestUri, 'sip:vivekg@chair-dnrc.example.com;unknownparam');
    assert.deepEqual(m.topVia, { transport: 'UDP', host: '192.0.2.2', branch: '390skdjuw' });
    assert.deepEqual(m.from, { displayName: 'J Rosenberg \\"', uri: 'sip:jdrosen@example.com', tag: '98asjd8' });
    assert.deepEqual(m.to, { uri: 'sip:vivekg@chair-dnrc.example.com', tag: '1918181833n' });
    assert.equal(m.callId, 'wsinv.ndaksdj@192.0.2.1');
    assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
    assert.equal(m.maxForwards, 68);
    assert.equal(m.contentLength, 150);
    assert.equal(m.error, undefined);
  });

  it('reports an invalid message with its error and exits 1', () => {
    const r = sipwarden(['check-message', corpus('rfc4475/badinv01.dat')]);
    assert.equal(r.status, 1);
    assert.equal(r.lines.length, 1);
    assert.equal(r.lines[0]!.ok, false);
    assert.deepEqual(r.lines[0]!.error, { code: 'bad-header', reason: 'Bad Via parameter', header: 'Via' });
    assert.equal(r.lines[0]!.method, undefined, 'no decoded fields for a rejected message');
  });

  it('validates every known header (full validation)', () => {
    const r = sipwarden(['check-message', corpus('rfc4475/baddate.dat')]);
    assert.equal(r.status, 1);
    assert.equal((r.lines[0]!.error as { header: string }).header, 'Date');
  });

  it('prints one line per file and fails if any failed', () => {
    const r = sipwarden([
      'check-message',
      corpus('rfc4475/wsinv.dat'),
      corpus('rfc4475/badvers.dat'),
      corpus('rfc5118/ipv6-good.dat'),
    ]);
    assert.equal(r.status, 1);
    assert.deepEqual(
      r.lines.map((l) => l.ok),
      [true, false, true],
    );
    assert.equal((r.lines[1]!.error as { code: string }).code, 'bad-version');
  });

  it('reads standard input for -', () => {
    const ok = sipwarden(['check-message', '-'], readFileSync(corpus('rfc4475/esc01.dat')));
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.lines[0]!.source, '-');
    assert.equal(ok.lines[0]!.ok, true);
    const bad = sipwarden(['check-message', '-'], Buffer.from('not sip at all\r\n\r\n'));
    assert.equal(bad.status, 1);
    assert.equal(bad.lines[0]!.ok, false);
  });

  it('reports a response', () => {
    const file = join(dir, 'response.sip');
    writeFileSync(file, response({ Server: 'PBX 1.0' }, { startLine: 'SIP/2.0 486 Busy Here' }));
    const r = sipwarden(['check-message', file]);
    assert.equal(r.status, 0, r.stderr);
    const m = r.lines[0]!;
    assert.equal(m.kind, 'response');
    assert.equal(m.status, 486);
    assert.equal(m.reason, 'Busy Here');
    assert.equal(m.server, 'PBX 1.0');
    assert.equal(m.method, undefined);
    assert.deepEqual((m.topVia as { rport: number }).rport, 40000);
  });

  it('frames a stream holding several messages with --stream', () => {
    const file = join(dir, 'stream.sip');
    const a = request({ 'Call-ID': 'first@example.com', 'User-Agent': 'friendly-scanner' });
    const b = request(
      { 'Call-ID': 'second@example.com', Authorization: 'Digest username="alice", realm="example.com"' },
      { method: 'REGISTER', startLine: 'REGISTER sip:example.com SIP/2.0', body: 'xyz' },
    );
    writeFileSync(file, Buffer.concat([a, Buffer.from('\r\n\r\n'), b]));
    const r = sipwarden(['check-message', '--stream', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.lines.map((l) => [l.source, l.ok, l.callId, l.method]),
      [
        [`${file}#1`, true, 'first@example.com', 'OPTIONS'],
        [`${file}#2`, true, 'second@example.com', 'REGISTER'],
      ],
    );
    assert.equal(r.lines[0]!.userAgent, 'friendly-scanner');
    assert.equal(r.lines[1]!.authUsername, 'alice');
    assert.equal(r.lines[1]!.contentLength, 3);
  });

  it('reports an incomplete message at the end of a stream', () => {
    const file = join(dir, 'cut.sip');
    const a = request();
    writeFileSync(file, Buffer.concat([a, a.subarray(0, 40)]));
    const r = sipwarden(['check-message', '--stream', file]);
    assert.equal(r.status, 1);
    assert.equal(r.lines.length, 2);
    assert.equal(r.lines[0]!.ok, true);
    assert.deepEqual(r.lines[1], {
      source: `${file}#2`,
      ok: false,
      error: { code: 'incomplete', reason: 'Incomplete message' },
    });
  });

  it('rejects a stream message without Content-Length', () => {
    const file = join(dir, 'nolength.sip');
    writeFileSync(file, request({}, { contentLength: false }));
    const r = sipwarden(['check-message', '--stream', file]);
    assert.equal(r.status, 1);
    assert.deepEqual((r.lines[0]!.error as { code: string }).code, 'missing-header');
    // The same bytes as a datagram are fine: the body runs to the end.
    assert.equal(sipwarden(['check-message', file]).status, 0);
  });

  it('prints usage without files (exit 2) and with --help (exit 0)', () => {
    const none = sipwarden(['check-message']);
    assert.equal(none.status, 2);
    assert.match(none.stdout, /Usage: sipwarden check-message/);
    const help = sipwarden(['check-message', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--stream/);
  });
});

describe('sipwarden check-message --config --source', () => {
  let dir: string;
  let config: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipwarden-cm-guards-'));
    config = join(dir, 'sipwarden.yaml');
    writeFileSync(
      config,
      [
        `data_dir: ${dir}/data`,
        'listen: [udp://127.0.0.1:5060]',
        'upstreams: [{ name: pbx, targets: [udp://10.0.0.10:5060] }]',
        'trusted: [10.1.0.0/16]',
        'guards:',
        '  acl: { deny: [203.0.113.0/24] }',
        '  flood: { mode: monitor }',
        '',
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, data: Buffer) => {
    const f = join(dir, name);
    writeFileSync(f, data);
    return f;
  };

  it("prints every guard's verdict and what sipwarden would do", () => {
    const scanner = write('scanner.sip', request({ 'User-Agent': 'friendly-scanner' }));
    const r = sipwarden(['check-message', '--config', config, '--source', '198.51.100.7:5062', scanner]);
    assert.equal(r.status, 0, r.stderr);
    const report = r.lines[0]!;
    const guards = report.guards as Array<Record<string, unknown>>;
    assert.deepEqual(
      guards.map((g) => `${g.guard}:${g.mode}:${g.action}`),
      [
        'acl:enforce:pass',
        'bans:enforce:pass',
        'flood:monitor:pass',
        'scanner:enforce:ban',
        'sanity:enforce:pass',
        'brute-force:enforce:pass',
        'dial-scan:enforce:pass',
        'fraud:enforce:pass',
      ],
    );
    const ban = guards[3]!.ban as Record<string, unknown>;
    assert.deepEqual(ban, { target: '198.51.100.7', seconds: 3600, reason: 'scanner: user-agent' });
    assert.equal(report.verdict, 'ban (scanner: user-agent)');
  });

  it('reports the acl, a clean message, a trusted source and a sanity answer', () => {
    const clean = write('clean.sip', request());
    const denied = sipwarden(['check-message', '--config', config, '--source', '203.0.113.9', clean]);
    assert.equal(denied.lines[0]!.verdict, 'drop (acl: deny-list)');
    const ok = sipwarden(['check-message', '--config', config, '--source', '198.51.100.8', clean]);
    assert.equal(ok.lines[0]!.verdict, 'forward');
    const trusted = sipwarden(['check-message', '--config', config, '--source', '10.1.2.3', clean]);
    assert.equal(trusted.lines[0]!.verdict, 'trusted: no guard runs');
    const badExpires = write('expires.sip', request({ Expires: '99999999999' }));
    const insane = sipwarden(['check-message', '--config', config, '--source', '198.51.100.8', badExpires]);
    assert.match(String(insane.lines[0]!.verdict), /^reply \(sanity: expires\)$/);
  });

  it('reports the bans of the configured file without changing it', () => {
    const clean = write('clean3.sip', request());
    assert.equal(sipwarden(['bans', 'add', '198.51.100.0/24', '--config', config]).status, 0);
    const r = sipwarden(['check-message', '--config', config, '--source', '198.51.100.77', clean]);
    assert.equal(r.lines[0]!.verdict, 'drop (bans: banned)');
    assert.match(sipwarden(['bans', 'list', '--config', config]).stdout, /198\.51\.100\.0\/24/);
  });

  it('refuses a bad --source, and --source without --config', () => {
    const clean = write('clean2.sip', request());
    assert.equal(sipwarden(['check-message', '--config', config, '--source', 'nope', clean]).status, 2);
    assert.equal(sipwarden(['check-message', '--source', '192.0.2.1', clean]).status, 2);
  });
});
