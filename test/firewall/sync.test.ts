import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FirewallSync, type FirewallSyncLog, MAX_KERNEL_TIMEOUT_S } from '../../src/firewall/sync.js';
import type { Ban, BanChange } from '../../src/store/types.js';

/**
 * What FirewallSync writes, without privileges: the command prefix is a shell that appends the
 * batch it is given on stdin to a file (one tool run = one batch). The same scripts are loaded
 * into a real kernel in kernel.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'sipwarden-sync-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function recorder(): { exec: string[]; batches: () => string[] } {
  const file = join(dir, `batches-${++n}.txt`);
  // argv after the prefix is "nft -f -" or "ipset restore -exist": ignored.
  const exec = ['sh', '-c', 'cat >> "$0"; echo "=== end" >> "$0"', file];
  return {
    exec,
    batches: () =>
      existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('=== end\n')
            .filter((b) => b !== '')
        : [],
  };
}

function quiet(): { log: FirewallSyncLog; warns: string[] } {
  const warns: string[] = [];
  return { warns, log: { warn: (_o, msg) => warns.push(msg), info: () => {} } };
}

function ban(target: string, seconds: number, now = Date.now()): Ban {
  return { target, guard: 'flood', reason: 'test', created: now, expires: now + seconds * 1000 };
}

describe('FirewallSync batches', () => {
  it('start empties the nftables sets and loads every ban, each in its set, with its timeout', async () => {
    const rec = recorder();
    const sync = new FirewallSync({ backend: 'nftables', table: 'edge', exec: rec.exec }, quiet().log);
    sync.start([
      ban('192.0.2.7', 300),
      ban('::ffff:192.0.2.8', 300),
      ban('2001:db8::7', 200),
      ban('198.51.100.0/24', 100),
      ban('2001:db8:1:2::/64', 600),
      ban('192.0.2.9', -5),
    ]);
    await sync.idle();
    const batches = rec.batches();
    assert.equal(batches.length, 1);
    const lines = batches[0]!.trim().split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      'flush set inet edge banned_v4',
      'flush set inet edge banned_v6',
      'flush set inet edge banned_net_v4',
      'flush set inet edge banned_net_v6',
    ]);
    const rest = lines.slice(4).join('\n');
    assert.match(
      rest,
      /^add element inet edge banned_v4 \{ 192\.0\.2\.7 timeout 30\ds, 192\.0\.2\.8 timeout 30\ds \}$/m,
    );
    assert.match(rest, /^add element inet edge banned_v6 \{ 2001:db8::7 timeout 20\ds \}$/m);
    assert.match(rest, /^add element inet edge banned_net_v4 \{ 198\.51\.100\.0\/24 timeout 10\ds \}$/m);
    assert.match(rest, /^add element inet edge banned_net_v6 \{ 2001:db8:1:2::\/64 timeout 60\ds \}$/m);
    assert.doesNotMatch(rest, /192\.0\.2\.9/, 'an expired ban is not loaded');
    assert.equal(sync.stats().applied, 5);
    await sync.close();
  });

  it('coalesces a burst into one run, and replaces or removes with add/delete/add', async () => {
    const rec = recorder();
    const sync = new FirewallSync({ backend: 'nftables', table: 'edge', exec: rec.exec, batchDelay: 50 }, quiet().log);
    sync.start([]);
    await sync.idle();
    for (let i = 1; i <= 50; i++) sync.onChange({ kind: 'added', ban: ban('192.0.2.7', i * 10), external: false });
    sync.onChange({ kind: 'added', ban: ban('192.0.2.8', 60), external: false });
    sync.onChange({ kind: 'removed', target: '192.0.2.8', external: false });
    sync.onChange({ kind: 'expired', ban: ban('192.0.2.50', 0) });
    await sync.idle();
    const batches = rec.batches();
    assert.equal(batches.length, 2, 'start, then one batch for 53 changes');
    assert.equal(
      batches[1],
      [
        'add element inet edge banned_v4 { 192.0.2.7, 192.0.2.8 }',
        'delete element inet edge banned_v4 { 192.0.2.7, 192.0.2.8 }',
        'add element inet edge banned_v4 { 192.0.2.7 timeout 500s }',
        '',
      ].join('\n'),
    );
    await sync.close();
  });

  it('writes ipset restore lines for the iptables backend', async () => {
    const rec = recorder();
    const sync = new FirewallSync({ backend: 'iptables', table: 'edge', exec: rec.exec, batchDelay: 10 }, quiet().log);
    sync.start([ban('192.0.2.7', 300), ban('2001:db8:1:2::/64', 600)]);
    await sync.idle();
    sync.onChange({ kind: 'removed', target: '192.0.2.7', external: true });
    sync.onChange({ kind: 'added', ban: ban('198.51.100.0/24', 90), external: false });
    await sync.idle();
    sync.onChange({ kind: 'flushed', count: 2, external: false });
    await sync.idle();
    const [first, second, third] = rec.batches();
    assert.match(first!, /^flush edge-banned4\nflush edge-banned6\n/);
    assert.match(first!, /^add edge-banned4 192\.0\.2\.7 timeout 30\d$/m);
    assert.match(first!, /^add edge-banned6 2001:db8:1:2::\/64 timeout 60\d$/m);
    assert.match(second!, /^del edge-banned4 192\.0\.2\.7$/m);
    assert.match(second!, /^add edge-banned4 198\.51\.100\.0\/24 timeout (89|90)$/m);
    assert.equal(third, 'flush edge-banned4\nflush edge-banned6\n');
    await sync.close();
  });

  it('caps timeouts at the kernel limit', async () => {
    const rec = recorder();
    const sync = new FirewallSync({ backend: 'iptables', table: 'edge', exec: rec.exec }, quiet().log);
    sync.start([ban('192.0.2.7', 100 * 86400)]);
    await sync.close();
    assert.match(
      rec.batches()[0]!,
      new RegExp(`^add edge-banned4 192\\.0\\.2\\.7 timeout ${MAX_KERNEL_TIMEOUT_S}$`, 'm'),
    );
  });

  it('never loads a /0 and never throws for bad input', async () => {
    const rec = recorder();
    const { log, warns } = quiet();
    const sync = new FirewallSync({ backend: 'nftables', table: 'edge', exec: rec.exec, batchDelay: 10 }, log);
    sync.start([ban('0.0.0.0/0', 60), ban('::/0', 60), ban('not an address', 60)]);
    sync.onChange({ kind: 'added', ban: undefined } as unknown as BanChange);
    sync.onChange({ kind: 'removed', target: 42 } as unknown as BanChange);
    sync.onChange({ kind: 'nonsense' } as unknown as BanChange);
    await sync.close();
    assert.equal(sync.stats().skipped, 3);
    assert.equal(
      rec.batches().join(''),
      ['banned_v4', 'banned_v6', 'banned_net_v4', 'banned_net_v6'].map((s) => `flush set inet edge ${s}\n`).join(''),
    );
    assert.ok(warns.some((w) => /ignored a ban change/.test(w)));
    assert.throws(
      () => new FirewallSync({ backend: 'pf' as 'nftables', table: 'edge' }, log),
      /unknown firewall backend/,
    );
    assert.throws(() => new FirewallSync({ backend: 'nftables', table: 'Edge; rm' }, log), /bad table name/);
  });

  it('reports a missing tool once, with the fix, and keeps going', async () => {
    const { log, warns } = quiet();
    const sync = new FirewallSync(
      { backend: 'iptables', table: 'edge', exec: ['/nonexistent/sipwarden-tool'], batchDelay: 5 },
      log,
    );
    sync.start([ban('192.0.2.7', 60)]);
    await sync.idle();
    sync.onChange({ kind: 'added', ban: ban('192.0.2.8', 60), external: false });
    await sync.close();
    assert.equal(warns.length, 1, warns.join('\n'));
    assert.match(warns[0]!, /missing-tool.*install ipset/);
    assert.equal(sync.stats().failed, 2);
  });
});
