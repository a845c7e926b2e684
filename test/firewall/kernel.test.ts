import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderIptables } from '../../src/firewall/iptables.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import { FirewallSync, type FirewallSyncLog } from '../../src/firewall/sync.js';
import type { Ban } from '../../src/store/types.js';
import { writeTestConfig } from '../helpers/firewall-config.js';
import { haveCommands, Netns, netnsUnavailable } from '../helpers/netns.js';
import { waitFor } from '../helpers/process.js';

/**
 * The rendered rulesets loaded with the real tools (nft, iptables-restore, ip6tables-restore,
 * ipset) in network namespaces this file creates and deletes, and FirewallSync filling the
 * loaded sets. Real packets only on the namespace's loopback interface.
 */

const unavailable = netnsUnavailable();
const skipNft = unavailable ?? (haveCommands('nft') ? undefined : 'nft (nftables) is not installed');
const skipIpt =
  unavailable ??
  (haveCommands('iptables-restore', 'ip6tables-restore', 'ipset') ? undefined : 'iptables or ipset is not installed');

const tc = writeTestConfig();
const scratch = mkdtempSync(join(tmpdir(), 'sipwarden-fwk-'));
after(() => {
  rmSync(tc.dir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});
const input = {
  firewall: tc.config.firewall,
  listeners: tc.config.listen,
  admin: { port: 8080, allowFrom: ['192.0.2.0/24'] },
};

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

interface Logged {
  level: 'warn' | 'info';
  msg: string;
  obj: Record<string, unknown>;
}

function collector(): { log: FirewallSyncLog; lines: Logged[] } {
  const lines: Logged[] = [];
  return {
    lines,
    log: {
      warn: (obj: object, msg: string) => lines.push({ level: 'warn', msg, obj: obj as Record<string, unknown> }),
      info: (obj: object, msg: string) => lines.push({ level: 'info', msg, obj: obj as Record<string, unknown> }),
    },
  };
}

function ban(target: string, seconds: number, now = Date.now()): Ban {
  return { target, guard: 'flood', reason: 'test', created: now, expires: now + seconds * 1000 };
}

/** nft set elements: text -> timeout in seconds. */
function nftElements(ns: Netns, set: string): Map<string, number> {
  const json = JSON.parse(ns.mustExec('nft', ['-j', 'list', 'set', 'inet', 'sipwarden', set])) as {
    nftables: Array<{
      set?: { elem?: Array<{ elem: { val: string | { prefix: { addr: string; len: number } }; timeout: number } }> };
    }>;
  };
  const out = new Map<string, number>();
  for (const entry of json.nftables) {
    for (const e of entry.set?.elem ?? []) {
      const v = e.elem.val;
      out.set(typeof v === 'string' ? v : `${v.prefix.addr}/${v.prefix.len}`, e.elem.timeout);
    }
  }
  return out;
}

/** ipset members: text -> timeout in seconds. */
function ipsetMembers(ns: Netns, set: string): Map<string, number> {
  const text = ns.mustExec('ipset', ['list', set]);
  const members = text.slice(text.indexOf('Members:') + 'Members:'.length);
  const out = new Map<string, number>();
  for (const line of members.split('\n')) {
    const m = /^(\S+) timeout (\d+)/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined, `${what} is in the set`);
  assert.ok(Math.abs(actual - expected) <= 3, `${what}: timeout ${actual}, expected about ${expected}`);
}

/** Sends 3 datagrams from each sender address to an echo server inside the namespace; what arrived. */
const PROBE = `
const dgram = require('node:dgram');
const { family, server, port, senders } = JSON.parse(process.argv[1]);
const type = family === 6 ? 'udp6' : 'udp4';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
setTimeout(() => process.exit(3), 5000).unref();
const srv = dgram.createSocket(type);
const seen = new Set();
const echoed = new Set();
srv.on('message', (m, r) => { seen.add(String(m)); srv.send(m, r.port, r.address); });
srv.bind(port, server, async () => {
  const socks = [];
  for (const s of senders) {
    const c = dgram.createSocket(type);
    c.on('message', (m) => echoed.add(String(m)));
    await new Promise((res) => c.bind(0, s, res));
    socks.push([s, c]);
  }
  for (let i = 0; i < 3; i++) {
    for (const [s, c] of socks) c.send(s, port, server);
    await sleep(50);
  }
  await sleep(300);
  console.log(JSON.stringify({ seen: [...seen].sort(), echoed: [...echoed].sort() }));
  process.exit(0);
});
`;

function probe(ns: Netns, family: 4 | 6, senders: string[]): { seen: string[]; echoed: string[] } {
  const server = family === 4 ? '127.0.0.1' : '::1';
  const r = ns.exec(
    process.execPath,
    ['-e', PROBE, JSON.stringify({ family, server, port: 5060, senders })],
    undefined,
    10_000,
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { seen: string[]; echoed: string[] };
}

describe('firewall: nftables in a network namespace', { skip: skipNft }, () => {
  let ns: Netns;
  let path = '';
  before(() => {
    ns = new Netns();
    path = file('sipwarden.nft', renderNftables(input));
  });
  // Each test can run alone (--test-name-pattern): loading is idempotent.
  const load = () => ns.mustExec('nft', ['-f', path]);
  after(() => ns?.delete());

  it('checks and loads the rendered script', () => {
    const check = ns.exec('nft', ['-c', '-f', path]);
    assert.equal(check.status, 0, check.stderr);
    const load = ns.exec('nft', ['-f', path]);
    assert.equal(load.status, 0, load.stderr);
    const json = JSON.parse(ns.mustExec('nft', ['-j', 'list', 'table', 'inet', 'sipwarden'])) as {
      nftables: Array<Record<string, Record<string, unknown>>>;
    };
    const chains = json.nftables.filter((e) => e.chain).map((e) => e.chain!);
    const pre = chains.find((c) => c.name === 'prerouting')!;
    assert.equal(pre.hook, 'prerouting');
    assert.equal(pre.prio, -300, 'raw priority: before connection tracking');
    const inputChain = chains.find((c) => c.name === 'input')!;
    assert.equal(inputChain.policy, 'drop');
    const sets = new Map(
      json.nftables.filter((e) => e.set).map((e) => [e.set!.name as string, e.set!.flags as string[]]),
    );
    assert.deepEqual(sets.get('banned_v4'), ['timeout']);
    assert.deepEqual(sets.get('banned_net_v6'), ['interval', 'timeout']);
    const preRules = json.nftables.filter((e) => e.rule && e.rule.chain === 'prerouting');
    assert.equal(preRules.length, 4);
  });

  it('loads again without duplicating rules and keeps the banned sets', () => {
    load();
    const count = () =>
      (ns.mustExec('nft', ['-a', 'list', 'table', 'inet', 'sipwarden']).match(/# handle/g) ?? []).length;
    const before = count();
    ns.mustExec('nft', ['add', 'element', 'inet', 'sipwarden', 'banned_v4', '{ 192.0.2.200 timeout 600s }']);
    const again = ns.exec('nft', ['-f', path]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(count(), before);
    assert.ok(nftElements(ns, 'banned_v4').has('192.0.2.200'), 'the ban survives a reload');
    ns.mustExec('nft', ['flush', 'set', 'inet', 'sipwarden', 'banned_v4']);
  });

  it('loads the ruleset without scan slowing', () => {
    const other = new Netns();
    try {
      const p = file('plain.nft', renderNftables({ ...input, firewall: { ...input.firewall, scanSlowing: false } }));
      const r = other.exec('nft', ['-f', p]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(other.mustExec('nft', ['list', 'ruleset']), /scan_slowing|numgen/);
    } finally {
      other.delete();
    }
  });

  it('FirewallSync fills, updates, empties the sets in batches', async () => {
    load();
    const { log, lines } = collector();
    const sync = new FirewallSync({ backend: 'nftables', table: 'sipwarden', exec: ns.prefix, batchDelay: 20 }, log);
    sync.start([
      ban('192.0.2.7', 300),
      ban('2001:db8::7', 200),
      ban('198.51.100.0/24', 100),
      ban('2001:db8:1:2::/64', 600),
    ]);
    await sync.idle();
    near(nftElements(ns, 'banned_v4').get('192.0.2.7'), 300, '192.0.2.7');
    near(nftElements(ns, 'banned_v6').get('2001:db8::7'), 200, '2001:db8::7');
    near(nftElements(ns, 'banned_net_v4').get('198.51.100.0/24'), 100, '198.51.100.0/24');
    near(nftElements(ns, 'banned_net_v6').get('2001:db8:1:2::/64'), 600, '2001:db8:1:2::/64');

    // A longer ban of the same address replaces the timeout; removals; a network inside a banned one.
    sync.onChange({ kind: 'added', ban: ban('192.0.2.7', 900), external: false });
    sync.onChange({ kind: 'added', ban: ban('203.0.113.5', 60), external: true });
    sync.onChange({ kind: 'added', ban: ban('198.51.100.128/25', 60), external: false });
    sync.onChange({ kind: 'added', ban: ban('0.0.0.0/0', 60), external: false });
    sync.onChange({ kind: 'removed', target: '2001:db8::7', external: false });
    sync.onChange({ kind: 'removed', target: '192.0.2.99', external: false });
    await sync.idle();
    const v4 = nftElements(ns, 'banned_v4');
    near(v4.get('192.0.2.7'), 900, '192.0.2.7 (replaced)');
    near(v4.get('203.0.113.5'), 60, '203.0.113.5');
    assert.equal(nftElements(ns, 'banned_v6').size, 0, '2001:db8::7 removed');
    assert.deepEqual([...nftElements(ns, 'banned_net_v4').keys()], ['198.51.100.0/24'], 'overlapping network refused');
    const stats = sync.stats();
    assert.equal(stats.failed, 1, 'one element refused');
    assert.equal(stats.skipped, 1, '/0 not loaded');
    const refused = lines.filter((l) => l.obj.kind === 'refused');
    assert.equal(refused.length, 1);
    assert.deepEqual(refused[0]!.obj.targets, ['198.51.100.128/25']);

    // A burst of bans costs a few tool runs, not one each.
    const runs = sync.stats().runs;
    for (let i = 0; i < 300; i++) {
      sync.onChange({ kind: 'added', ban: ban(`10.${i >> 8}.${i & 255}.9`, 120), external: false });
    }
    await sync.idle();
    assert.ok(sync.stats().runs - runs <= 2, `runs for 300 bans: ${sync.stats().runs - runs}`);
    assert.equal(nftElements(ns, 'banned_v4').size, 302);

    sync.onChange({ kind: 'flushed', count: 305, external: false });
    await sync.idle();
    for (const set of ['banned_v4', 'banned_v6', 'banned_net_v4', 'banned_net_v6']) {
      assert.equal(nftElements(ns, set).size, 0, `${set} flushed`);
    }

    // close() applies what is still pending.
    sync.onChange({ kind: 'added', ban: ban('192.0.2.55', 30), external: false });
    await sync.close();
    near(nftElements(ns, 'banned_v4').get('192.0.2.55'), 30, '192.0.2.55 (pending at close)');
    sync.onChange({ kind: 'added', ban: ban('192.0.2.56', 30), external: false });
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!nftElements(ns, 'banned_v4').has('192.0.2.56'), 'ignored after close');
    assert.equal(lines.filter((l) => l.level === 'warn' && l.obj.kind !== 'refused').length, 1, 'only the /0 warning');
  });

  it('drops a banned source before the socket while others get through (loopback packets)', async () => {
    load();
    const sync = new FirewallSync(
      { backend: 'nftables', table: 'sipwarden', exec: ns.prefix, batchDelay: 10 },
      collector().log,
    );
    sync.start([ban('127.0.0.2', 60), ban('127.0.0.16/28', 60)]);
    await sync.idle();
    const r4 = probe(ns, 4, ['127.0.0.2', '127.0.0.3', '127.0.0.17']);
    assert.deepEqual(r4.seen, ['127.0.0.3']);
    assert.deepEqual(r4.echoed, ['127.0.0.3']);

    assert.deepEqual(probe(ns, 6, ['::1']).seen, ['::1'], 'IPv6 gets through before the ban');
    sync.onChange({ kind: 'added', ban: ban('::1', 60), external: false });
    await sync.idle();
    assert.deepEqual(probe(ns, 6, ['::1']).seen, [], 'banned IPv6 source dropped');
    sync.onChange({ kind: 'removed', target: '::1', external: false });
    await sync.idle();
    assert.deepEqual(probe(ns, 6, ['::1']).seen, ['::1'], 'gets through again after the ban is lifted');
    await sync.close();
    const counters = ns.mustExec('nft', ['list', 'chain', 'inet', 'sipwarden', 'prerouting']);
    assert.match(counters, /@banned_v4 counter packets [1-9]/);
    assert.match(counters, /@banned_net_v4 counter packets [1-9]/);
    assert.match(counters, /@banned_v6 counter packets [1-9]/);
  });

  it('logs a missing table once with the fix, and loads everything once the ruleset is there', async () => {
    const empty = new Netns();
    try {
      const { log, lines } = collector();
      const sync = new FirewallSync(
        { backend: 'nftables', table: 'sipwarden', exec: empty.prefix, batchDelay: 10, retryDelay: 200 },
        log,
      );
      sync.start([ban('192.0.2.7', 300)]);
      await sync.idle();
      sync.onChange({ kind: 'added', ban: ban('2001:db8::9', 300), external: false });
      await sync.idle();
      const warns = lines.filter((l) => l.level === 'warn');
      assert.equal(warns.length, 1, JSON.stringify(warns));
      assert.equal(warns[0]!.obj.kind, 'missing-set');
      assert.match(warns[0]!.msg, /load the firewall ruleset first: sipwarden firewall nftables/);
      assert.ok(sync.stats().errors >= 2);

      empty.mustExec('nft', ['-f', path]);
      await waitFor(() => nftElements(empty, 'banned_v4').has('192.0.2.7'), 'the retry to load the bans', 5000);
      await sync.idle();
      assert.ok(nftElements(empty, 'banned_v6').has('2001:db8::9'));
      assert.ok(lines.some((l) => l.level === 'info' && /being filled again/.test(l.msg)));
      await sync.close();
    } finally {
      empty.delete();
    }
  });

  it('logs missing permission and a missing tool, and never throws', {
    skip: haveCommands('setpriv') ? undefined : 'no setpriv',
  }, async () => {
    const { log, lines } = collector();
    const exec = [...ns.prefix, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const sync = new FirewallSync({ backend: 'nftables', table: 'sipwarden', exec, batchDelay: 10 }, log);
    sync.start([ban('192.0.2.7', 300)]);
    await sync.close();
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    assert.equal(lines.find((l) => l.level === 'warn')!.obj.kind, 'permission');
    assert.match(lines.find((l) => l.level === 'warn')!.msg, /CAP_NET_ADMIN/);

    const none = collector();
    const missing = new FirewallSync(
      { backend: 'nftables', table: 'sipwarden', exec: ['/nonexistent/sipwarden-tool'] },
      none.log,
    );
    missing.start([ban('192.0.2.7', 300)]);
    await missing.close();
    assert.equal(none.lines.find((l) => l.level === 'warn')?.obj.kind, 'missing-tool');
  });
});

describe('firewall: iptables and ipset in a network namespace', { skip: skipIpt }, () => {
  let ns: Netns;
  const rendered = renderIptables(input);
  const files = { ipset: '', v4: '', v6: '' };
  before(() => {
    ns = new Netns();
    files.ipset = file('ipset.conf', rendered.ipset);
    files.v4 = file('rules.v4', rendered.ipv4);
    files.v6 = file('rules.v6', rendered.ipv6);
  });
  // Each test can run alone (--test-name-pattern): restoring is idempotent.
  const load = () => {
    ns.mustExec('ipset', ['restore', '-exist'], rendered.ipset);
    ns.mustExec('iptables-restore', [files.v4]);
    ns.mustExec('ip6tables-restore', [files.v6]);
  };
  after(() => ns?.delete());

  it('restores the ipsets, tests and loads both rulesets', () => {
    const sets = ns.exec('ipset', ['restore', '-exist'], rendered.ipset);
    assert.equal(sets.status, 0, sets.stderr);
    assert.match(ns.mustExec('ipset', ['list', '-n']), /^sipwarden-banned4\nsipwarden-banned6$/m);
    for (const [cmd, path] of [
      ['iptables-restore', files.v4],
      ['ip6tables-restore', files.v6],
    ] as const) {
      const test = ns.exec(cmd, ['--test', path]);
      assert.equal(test.status, 0, `${cmd} --test: ${test.stderr}`);
      const load = ns.exec(cmd, [path]);
      assert.equal(load.status, 0, `${cmd}: ${load.stderr}`);
    }
    const v4 = ns.mustExec('iptables-save', []);
    assert.match(v4, /-A PREROUTING -m set --match-set sipwarden-banned4 src -j DROP/);
    assert.match(v4, /:INPUT DROP/);
    assert.match(v4, /-A SIPWARDEN-INPUT -p udp -m udp --dport 5060 .*-j ACCEPT/);
    assert.match(v4, /-A SIPWARDEN-SCAN .*-m statistic --mode random --probability 0\.25/);
    const v6 = ns.mustExec('ip6tables-save', []);
    assert.match(v6, /-A PREROUTING -m set --match-set sipwarden-banned6 src -j DROP/);
    assert.match(v6, /-A SIPWARDEN-INPUT -d 2001:db8::10\/128 -p tcp -m tcp --dport 5061/);

    // Restoring again replaces: the same number of rules.
    const before = v4.split('\n').filter((l) => l.startsWith('-A')).length;
    ns.mustExec('iptables-restore', [files.v4]);
    assert.equal(
      ns
        .mustExec('iptables-save', [])
        .split('\n')
        .filter((l) => l.startsWith('-A')).length,
      before,
    );
  });

  it('tests the rulesets without scan slowing', () => {
    const plain = renderIptables({ ...input, firewall: { ...input.firewall, scanSlowing: false } });
    assert.equal(ns.exec('iptables-restore', ['--test', file('plain.v4', plain.ipv4)]).status, 0);
    assert.equal(ns.exec('ip6tables-restore', ['--test', file('plain.v6', plain.ipv6)]).status, 0);
  });

  it('FirewallSync fills, updates and empties the ipsets', async () => {
    load();
    const { log, lines } = collector();
    const sync = new FirewallSync({ backend: 'iptables', table: 'sipwarden', exec: ns.prefix, batchDelay: 20 }, log);
    sync.start([
      ban('192.0.2.7', 300),
      ban('2001:db8::7', 200),
      ban('198.51.100.0/24', 100),
      ban('2001:db8:1:2::/64', 600),
    ]);
    await sync.idle();
    let v4 = ipsetMembers(ns, 'sipwarden-banned4');
    let v6 = ipsetMembers(ns, 'sipwarden-banned6');
    near(v4.get('192.0.2.7'), 300, '192.0.2.7');
    near(v4.get('198.51.100.0/24'), 100, '198.51.100.0/24');
    near(v6.get('2001:db8::7'), 200, '2001:db8::7');
    near(v6.get('2001:db8:1:2::/64'), 600, '2001:db8:1:2::/64');

    sync.onChange({ kind: 'added', ban: ban('192.0.2.7', 900), external: false });
    sync.onChange({ kind: 'added', ban: ban('198.51.100.128/25', 60), external: false });
    sync.onChange({ kind: 'removed', target: '2001:db8::7', external: false });
    sync.onChange({ kind: 'removed', target: '192.0.2.99', external: false });
    await sync.idle();
    v4 = ipsetMembers(ns, 'sipwarden-banned4');
    v6 = ipsetMembers(ns, 'sipwarden-banned6');
    near(v4.get('192.0.2.7'), 900, '192.0.2.7 (replaced)');
    near(v4.get('198.51.100.128/25'), 60, 'hash:net holds overlapping networks');
    assert.ok(!v6.has('2001:db8::7'));
    assert.equal(sync.stats().failed, 0);

    sync.onChange({ kind: 'flushed', count: 4, external: false });
    await sync.idle();
    assert.equal(ipsetMembers(ns, 'sipwarden-banned4').size, 0);
    assert.equal(ipsetMembers(ns, 'sipwarden-banned6').size, 0);
    await sync.close();
    assert.equal(lines.filter((l) => l.level === 'warn').length, 0, JSON.stringify(lines));
  });

  it('drops a banned source before the socket while others get through (loopback packets)', async () => {
    load();
    const sync = new FirewallSync(
      { backend: 'iptables', table: 'sipwarden', exec: ns.prefix, batchDelay: 10 },
      collector().log,
    );
    sync.start([ban('127.0.0.2', 60), ban('127.0.0.16/28', 60), ban('::1', 60)]);
    await sync.idle();
    assert.deepEqual(probe(ns, 4, ['127.0.0.2', '127.0.0.3', '127.0.0.17']).seen, ['127.0.0.3']);
    assert.deepEqual(probe(ns, 6, ['::1']).seen, []);
    sync.onChange({ kind: 'removed', target: '::1', external: false });
    await sync.idle();
    assert.deepEqual(probe(ns, 6, ['::1']).seen, ['::1']);
    await sync.close();
  });

  it('logs missing ipsets once with the fix', async () => {
    const empty = new Netns();
    try {
      const { log, lines } = collector();
      const sync = new FirewallSync(
        { backend: 'iptables', table: 'sipwarden', exec: empty.prefix, batchDelay: 10 },
        log,
      );
      sync.start([ban('192.0.2.7', 300)]);
      sync.onChange({ kind: 'added', ban: ban('192.0.2.8', 300), external: false });
      await sync.close();
      const warns = lines.filter((l) => l.level === 'warn');
      assert.equal(warns.length, 1);
      assert.equal(warns[0]!.obj.kind, 'missing-set');
      assert.match(warns[0]!.msg, /ipset restore -exist/);
    } finally {
      empty.delete();
    }
  });
});
