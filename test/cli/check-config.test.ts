import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';

const BIN = join(PROJECT_ROOT, 'bin', 'sipwarden');
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipwarden-check-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function sipwarden(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.error, undefined, String(r.error));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const VALID = `listen: [udp://127.114.0.1:40600]
upstreams:
  - name: pbx
    targets: [udp://127.114.0.1:40601, tcp://127.114.0.1:40601]
alerts:
  webhooks: [{ url: "https://hooks.example/services/T0/very-secret", format: slack }]
`;

describe('sipwarden check-config', () => {
  it('a valid file: ok and a summary, exit 0, nothing bound', () => {
    const r = sipwarden(['check-config', file('good.yaml', `data_dir: ${dir}/data\n${VALID}`)]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'ok');
    assert.ok(lines.includes('  listen: udp://127.114.0.1:40600'), r.stdout);
    assert.ok(lines.includes('  upstreams: pbx (2 targets); default pbx'), r.stdout);
    assert.match(r.stdout, /alerts: 1 webhook https:\/\/hooks\.example \(slack\)/);
    assert.doesNotMatch(r.stdout, /very-secret/, 'a webhook URL is a credential');
    assert.equal(r.stderr, '');
  });

  it('an invalid file: exit 1 with the errors run gives (file, line, field, did you mean)', () => {
    const bad = file(
      'bad.yaml',
      `${VALID}guards:\n  flood: { max_mesages: 5 }\n  bans: { default_duration: forever }\n`,
    );
    const r = sipwarden(['check-config', bad]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:8.*guards\\.flood\\.max_mesages.*max_messages`));
    assert.match(r.stderr, /:9.*guards\.bans\.default_duration.*not a duration/);
    const run = sipwarden(['run', '--config', bad]);
    assert.notEqual(run.status, 0);
    assert.equal(r.stderr, run.stderr, 'the same words as run');
  });

  it('a missing file, and usage errors', () => {
    const missing = sipwarden(['check-config', join(dir, 'nope.yaml')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.yaml.*no such file/);
    assert.equal(sipwarden(['check-config']).status, 2);
    assert.equal(sipwarden(['check-config', '--help']).status, 0);
  });

  it('output into a closed pipe (`| head -1`): its exit code, no EPIPE stack trace', async () => {
    const path = file('piped.yaml', `data_dir: ${dir}/data\n${VALID}`);
    for (const args of [
      ['check-config', path],
      ['firewall', 'nftables', '--config', path],
    ]) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the first line
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, stderr);
      assert.doesNotMatch(stderr, /EPIPE|Error/);
    }
  });
});
