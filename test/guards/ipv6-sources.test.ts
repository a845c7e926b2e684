/**
 * IPv6 rotation inside one /64, for real: every guard used to count and ban per /128, so an
 * attacker with a /64 (every IPv6 subscriber has one) got three password guesses per address,
 * without end, and a ban of one address left the next free. Now every guard counts, and every
 * ban covers, the source's `sources.ipv6_prefix` (/64).
 *
 * Only ::1 is routable on the host's loopback, so sipwarden, a real Kamailio registrar and the
 * attackers run in a network namespace whose loopback holds several addresses of a few /64s
 * (2001:db8::/32, the documentation prefix). Traffic never leaves that loopback. The attackers
 * are short `sip-exchange` processes bound to one address each.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { type KamailioInstance, startKamailio } from '../helpers/kamailio.js';
import { haveCommands, Netns, netnsUnavailable, run } from '../helpers/netns.js';
import { waitFor } from '../helpers/process.js';
import type { ExchangePlan, ExchangeRequest, ExchangeResult } from '../helpers/sip-exchange.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { banLines, listBans } from '../watch/helpers.js';

const EXCHANGE = join(PROJECT_ROOT, 'dist/test/helpers/sip-exchange.js');
const BIN = join(PROJECT_ROOT, 'bin/sipwarden');
const FILTER = join(PROJECT_ROOT, 'deploy/fail2ban/filter.d/sipwarden.conf');
const SW_PORT = 31100;
const KAM_PORT = 31101;
const skip = netnsUnavailable();

/** Runs one attacker (or phone) bound to `bind` inside the namespace; the status lines per request. */
function exchange(ns: Netns, bind: string, requests: ExchangeRequest[], server = '::1'): ExchangeResult {
  const plan: ExchangePlan = { bind, server, port: SW_PORT, requests, waitMs: 2000 };
  return JSON.parse(ns.mustExec(process.execPath, [EXCHANGE, JSON.stringify(plan)])) as ExchangeResult;
}

function addAddresses(ns: Netns, addresses: readonly string[]): void {
  for (const a of addresses) ns.mustExec('ip', ['-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad']);
}

/** A peer listed in guards.never_ban (the firewall test). */
const TRUNK6 = '2001:db8:5:2::1';
const SCANNER = { kind: 'options', user: '100', userAgent: 'friendly-scanner' } as const;
const CLEAN = { kind: 'options', user: '100', userAgent: 'Yealink SIP-T46U 108.86.0.20' } as const;

describe('IPv6 neighbours in one /64: counted and banned as one source', { skip }, () => {
  let ns: Netns;
  let kam: KamailioInstance;
  let sw: SipwardenInstance;

  before(async () => {
    ns = new Netns();
    const hosts = (net: string, n: number) => Array.from({ length: n }, (_, i) => `${net}::${(i + 1).toString(16)}`);
    addAddresses(ns, [
      ...hosts('2001:db8:1:2', 2),
      '2001:db8:1:3::1',
      ...hosts('2001:db8:2:2', 4),
      ...hosts('2001:db8:3:2', 12),
    ]);
    kam = await startKamailio({
      ip: '127.0.0.1',
      port: KAM_PORT,
      users: [{ username: 'alice', password: 'alice-secret-1' }],
      prefix: ns.prefix,
    });
    sw = await startSipwarden(
      [
        `listen: ["udp://[::1]:${SW_PORT}", "udp://127.0.0.1:${SW_PORT}"]`,
        `upstreams: [{ name: pbx, targets: ["udp://127.0.0.1:${KAM_PORT}"], ping: false }]`,
        'log: { level: debug }',
        // The registrar's 404 as it is (not normalised to 403): these tests tell answers apart.
        'guards: { brute_force: { normalize_not_found: false } }',
        '',
      ].join('\n'),
      { listeners: 2, prefix: ns.prefix },
    );
  });

  after(async () => {
    await sw?.stop();
    await kam?.stop();
    ns?.delete();
  });

  it('a scanner ban of 2001:db8:1:2::1 is stored as its /64 and drops 2001:db8:1:2::2; the next /64 passes', async () => {
    assert.deepEqual(exchange(ns, '2001:db8:1:2::1', [SCANNER]), [[]], 'the scanner is dropped');
    await waitFor(() => banLines(sw).length === 1, 'the ban line');
    const bans = listBans(sw);
    assert.deepEqual(
      bans.map((b) => [b.target, b.guard]),
      [['2001:db8:1:2::/64', 'scanner']],
    );
    const line = sw.logs().find((l) => l.event === 'ban')!;
    assert.equal(line.target, '2001:db8:1:2::/64');
    assert.equal(line.source, '2001:db8:1:2::1');
    // fail2ban bans hosts: the line names the address seen; the network is in `target`.
    assert.equal(line.msg, 'Blocking traffic from 2001:db8:1:2::1 guard=scanner rule=user-agent for 3600s');

    // Its neighbour, with a clean request: dropped by the bans guard before anything else.
    assert.deepEqual(exchange(ns, '2001:db8:1:2::2', [CLEAN, CLEAN]), [[], []]);
    await waitFor(
      () => sw.logs().some((l) => l.guard === 'bans' && l.source === '2001:db8:1:2::2' && l.rule === 'banned'),
      'the bans guard dropping the neighbour',
    );
    // Another /64: a phone like any other, answered by the registrar (404: no such user registered).
    assert.deepEqual(exchange(ns, '2001:db8:1:3::1', [CLEAN]), [['404 Not Found']]);
  });

  it('password guessing rotating through one /64 is banned at the third guess, whichever address makes it', async () => {
    const guess = { kind: 'register-guess', user: 'alice', password: 'guess-1234' } as const;
    assert.deepEqual(exchange(ns, '2001:db8:2:2::1', [guess]), [['401 Unauthorized', '401 Unauthorized']]);
    assert.deepEqual(exchange(ns, '2001:db8:2:2::2', [guess]), [['401 Unauthorized', '401 Unauthorized']]);
    // The third guess of the /64 (the first of this address): 403 Try later, and the /64 is banned.
    assert.deepEqual(exchange(ns, '2001:db8:2:2::3', [guess]), [['401 Unauthorized', '403 Try later']]);
    assert.deepEqual(exchange(ns, '2001:db8:2:2::4', [guess]), [[]], 'a fourth address gets nothing');
    assert.ok(listBans(sw).some((b) => b.target === '2001:db8:2:2::/64' && b.guard === 'brute-force'));
    await waitFor(
      () => banLines(sw).includes('Blocking traffic from 2001:db8:2:2::3 guard=brute-force rule=failures for 3600s'),
      'the ban line',
    );
  });

  it('extension scanning from a new address per number is banned after max_destinations (10) refusals', () => {
    const statuses: string[][] = [];
    for (let i = 1; i <= 11; i++) {
      statuses.push(...exchange(ns, `2001:db8:3:2::${i.toString(16)}`, [{ kind: 'options', user: `${200 + i}` }]));
    }
    assert.deepEqual(
      statuses,
      Array.from({ length: 11 }, () => ['404 Not Found']),
    );
    assert.ok(listBans(sw).some((b) => b.target === '2001:db8:3:2::/64' && b.guard === 'dial-scan'));
    assert.deepEqual(exchange(ns, '2001:db8:3:2::c', [{ kind: 'options', user: '300' }]), [[]]);
  });

  it("::1's /64 would hold every IPv4 peer: ::1 is banned alone, and IPv4 phones keep working", async () => {
    assert.deepEqual(exchange(ns, '::1', [SCANNER]), [[]]);
    await waitFor(() => listBans(sw).some((b) => b.target === '::1'), 'the ban of ::1');
    assert.ok(!listBans(sw).some((b) => b.target === '::/64'));
    await waitFor(() => sw.logs().some((l) => l.event === 'ban' && l.source === '::1'), 'the ban line');
    const line = sw.logs().find((l) => l.event === 'ban' && l.source === '::1')!;
    assert.equal(line.note, 'banned ::1 alone: ::/64 would cover every IPv4 peer');
    assert.deepEqual(exchange(ns, '::1', [CLEAN]), [[]], '::1 stays banned');
    assert.deepEqual(exchange(ns, '127.0.0.5', [CLEAN], '127.0.0.1'), [['404 Not Found']], 'IPv4 is not');
  });
});

const skipFirewall =
  skip ??
  (haveCommands('nft') ? undefined : 'nft (nftables) is not installed') ??
  (haveCommands('fail2ban-regex') ? undefined : 'fail2ban is not installed');

describe('a /64 ban in the kernel set and the fail2ban line', { skip: skipFirewall }, () => {
  let ns: Netns;
  let sw: SipwardenInstance;
  let logFile = '';

  before(async () => {
    ns = new Netns();
    addAddresses(ns, ['2001:db8:4:2::1', '2001:db8:4:2::2', TRUNK6]);
    const yaml = [
      `listen: ["udp://[::1]:${SW_PORT}"]`,
      `upstreams: [{ name: pbx, targets: ["udp://[::1]:${KAM_PORT}"], ping: false }]`,
      `guards: { never_ban: ["${TRUNK6}"], brute_force: { normalize_not_found: false } }`,
      'firewall: { sync: true }',
      '',
    ].join('\n');
    sw = await startSipwarden(`${yaml}log: { file: sipwarden.log }\n`, { listeners: 1, prefix: ns.prefix });
    logFile = join(sw.dir, 'sipwarden.log');
    const ruleset = execFileSync(process.execPath, [BIN, 'firewall', 'nftables', '--config', sw.configFile], {
      encoding: 'utf8',
    });
    ns.mustExec('nft', ['-f', '-'], ruleset);
  });

  after(async () => {
    await sw?.stop();
    ns?.delete();
  });

  it('firewall.sync puts 2001:db8:4:2::/64 in banned_net_v6, never a never_ban peer; fail2ban reads the ban line', async () => {
    // A forged attack in the name of a never_ban peer: dropped, and nothing reaches the kernel.
    assert.deepEqual(exchange(ns, TRUNK6, [SCANNER]), [[]]);
    assert.deepEqual(exchange(ns, '2001:db8:4:2::1', [SCANNER]), [[]]);
    const netSet = () => ns.mustExec('nft', ['list', 'set', 'inet', 'sipwarden', 'banned_net_v6']);
    await waitFor(() => netSet().includes('2001:db8:4:2::/64'), 'the /64 in the kernel set', 5000);
    const hostSet = ns.mustExec('nft', ['list', 'set', 'inet', 'sipwarden', 'banned_v6']);
    assert.ok(!`${netSet()}${hostSet}`.includes('2001:db8:5:'), 'the never_ban peer is in no kernel set');
    // The kernel now drops the neighbour before sipwarden sees it.
    assert.deepEqual(exchange(ns, '2001:db8:4:2::2', [CLEAN]), [[]]);
    await waitFor(() => readFileSync(logFile, 'utf8').includes('"event":"ban"'), 'the ban line in log.file');
    const r = run('fail2ban-regex', ['-o', 'ip', logFile, FILTER]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['2001:db8:4:2::1']);
  });
});

/**
 * The same on the host's own loopback, where only ::1 is routable (no namespace, no root):
 * a ban made for ::1 is stored and drops ::1's next messages, and never covers IPv4 peers
 * (its /64, ::/64, holds the IPv4-mapped range).
 */
describe('a ban over ::1 on the host loopback', () => {
  const HOST_PORT = 31120;
  const HOST_KAM = { address: '127.102.0.2', port: 31121 };
  let kam: KamailioInstance;
  let sw: SipwardenInstance;

  /** A client process on the host's loopback. */
  const hostExchange = (bind: string, server: string, requests: ExchangeRequest[]): ExchangeResult => {
    const plan: ExchangePlan = { bind, server, port: HOST_PORT, requests, waitMs: 2000 };
    const out = execFileSync(process.execPath, [EXCHANGE, JSON.stringify(plan)], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    return JSON.parse(out) as ExchangeResult;
  };

  before(async () => {
    kam = await startKamailio({ ip: HOST_KAM.address, port: HOST_KAM.port, users: [] });
    sw = await startSipwarden(
      [
        `listen: ["udp://[::1]:${HOST_PORT}", "udp://127.102.0.1:${HOST_PORT}"]`,
        `upstreams: [{ name: pbx, targets: ["udp://${HOST_KAM.address}:${HOST_KAM.port}"], ping: false }]`,
        // The registrar's 404 as it is (not normalised to 403): these tests tell answers apart.
        'guards: { brute_force: { normalize_not_found: false } }',
        '',
      ].join('\n'),
      { listeners: 2 },
    );
  });

  after(async () => {
    await sw?.stop();
    await kam?.stop();
  });

  it('stores the ban of ::1, drops its next request, and IPv4 phones keep working', async () => {
    assert.deepEqual(hostExchange('127.102.0.3', '127.102.0.1', [CLEAN]), [['404 Not Found']], 'before');
    assert.deepEqual(hostExchange('::1', '::1', [CLEAN]), [['404 Not Found']], 'before');
    assert.deepEqual(hostExchange('::1', '::1', [SCANNER]), [[]]);
    await waitFor(() => listBans(sw).length === 1, 'the ban');
    assert.deepEqual(
      listBans(sw).map((b) => [b.target, b.guard]),
      [['::1', 'scanner']],
    );
    assert.deepEqual(hostExchange('::1', '::1', [CLEAN]), [[]], '::1 is dropped');
    assert.deepEqual(hostExchange('127.102.0.3', '127.102.0.1', [CLEAN]), [['404 Not Found']], 'IPv4 is not');
  });
});
