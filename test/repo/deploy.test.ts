import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { haveCommands } from '../helpers/netns.js';

/** The service unit and the logrotate snippet shipped in deploy/. */

const UNIT = join(PROJECT_ROOT, 'deploy/systemd/sipwarden.service');
const LOGROTATE = join(PROJECT_ROOT, 'deploy/logrotate/sipwarden');

/** `Key=value` lines of a unit, every value of a repeated key. */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

describe('deploy/systemd/sipwarden.service', () => {
  const unit = directives(readFileSync(UNIT, 'utf8'));

  it('runs unprivileged with its state directory, reloads by SIGHUP, and is hardened', () => {
    const one = (key: string) => unit.get(key)?.join(' ');
    assert.equal(one('User'), 'sipwarden');
    assert.equal(one('StateDirectory'), 'sipwarden');
    assert.ok(unit.get('ExecReload')?.includes('/bin/kill -HUP $MAINPID'));
    assert.match(one('ExecStart') ?? '', /sipwarden run --config \/etc\/sipwarden\/sipwarden\.yaml$/);
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('ProtectHome'), 'yes');
    assert.equal(one('PrivateTmp'), 'yes');
    assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one('RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX');
    assert.equal(one('SystemCallFilter'), '@system-service');
    assert.equal(unit.get('MemoryDenyWriteExecute'), undefined, "V8's JIT needs writable executable memory");
  });

  it('systemd-analyze verify finds nothing to say', {
    skip: haveCommands('systemd-analyze') ? undefined : 'systemd-analyze is not installed',
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-unit-'));
    try {
      // verify checks that the commands exist: point them at this checkout's.
      const text = readFileSync(UNIT, 'utf8').replaceAll('/usr/bin/sipwarden', join(PROJECT_ROOT, 'bin/sipwarden'));
      const copy = join(dir, 'sipwarden.service');
      writeFileSync(copy, text);
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      const about = r.stderr.split('\n').filter((l) => l.includes('sipwarden.service'));
      assert.deepEqual(about, [], 'no warning about the unit');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/logrotate/sipwarden', () => {
  it('rotates the log directory by renaming and tells sipwarden with SIGUSR1', () => {
    const text = readFileSync(LOGROTATE, 'utf8');
    assert.match(text, /^\/var\/log\/sipwarden\/\*\.log \{/m, 'the LogsDirectory of the unit');
    assert.doesNotMatch(text, /^\s*copytruncate/m);
    const post = /postrotate\n([\s\S]*?)\n\s*endscript/.exec(text)?.[1] ?? '';
    assert.match(post, /kill -USR1 "\$pid"/);
    assert.match(post, /\[ "\$\{pid:-0\}" -gt 0 \]/, 'never kill -USR1 0 (the whole process group) when it is stopped');
    assert.ok(directives(readFileSync(UNIT, 'utf8')).get('LogsDirectory')?.includes('sipwarden'));
  });

  it('logrotate accepts it', { skip: haveCommands('logrotate') ? undefined : 'logrotate is not installed' }, () => {
    const r = spawnSync('logrotate', ['--debug', LOGROTATE], { encoding: 'utf8', timeout: 30_000 });
    assert.doesNotMatch(r.stderr, /error:/i, r.stderr);
  });
});
